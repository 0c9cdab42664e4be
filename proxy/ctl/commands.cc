#include "proxy/ctl/commands.h"

#include <bpf/bpf.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "k8s/kube_config.h"
#include "k8s/rest_api_client.h"
#include "proxy/bpf_lb_maps.h"
#include "proxy/bpf_pins.h"
#include "proxy/ctl/cluster_fetch.h"
#include "proxy/ctl/explain_render.h"
#include "proxy/ctl/pinned_maps.h"
#include "proxy/ctl/render.h"
#include "proxy/explain.h"
#include "proxy/node_addresses.h"

namespace bpfproxy::ctl {
namespace {

constexpr char kUsage[] = R"(Usage: bpfproxyctl [flags] COMMAND [--json]

Reads the maps a bpfproxy daemon pinned on this node and prints what the
datapath does. Read-only; works while the daemon runs and while it does not.

Commands:
  services            every frontend of both views (socket hooks, per-packet
                      path): backends in slot order, policy, connections
  maps                entries and capacity of every bpfp_* map
  conntrack           the per-packet path's flows: client -> frontend => backend
  dump                every socket-view map entry as text, sorted
  explain ADDR        ADDR = IP:port[/protocol] ([IPv6]:port): the Services
                      behind it, which endpoints are eligible and why the
                      others are not, and whether the datapath agrees
                      (exit code 3 when it does not)

Flags:
  --json                     machine-readable output (services, maps,
                             conntrack, explain)
  --bpf-root=DIR             the daemon's --bpf-root (default /sys/fs/bpf/bpfproxy)
explain only, as the daemon takes them:
  --kubeconfig=FILE          kubeconfig; without it and --master: in-cluster
  --master=URL               API server URL, overrides the kubeconfig's
  --hostname-override=NAME   this node's name (default: the hostname)
  --devices=DEV[,DEV]        devices serving NodePorts (default: those the
                             per-packet path is attached to)
  --nodeport-addresses=CIDR[,CIDR]|primary   the daemon's value (default:
                             every node address)
  --bind-address=IP[,IP]     the daemon's value (what "primary" means)
  --iptables-localhost-nodeports[=false]     the daemon's value (default true)
  -h, --help                 this text

Exit codes: 0 done, 1 error, 2 usage error, 3 explain found a mismatch.
)";

const std::vector<std::string>& Commands() {
  static const auto* commands = new std::vector<std::string>{"services", "maps", "conntrack", "dump", "explain"};
  return *commands;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "bpfproxyctl: %s\n", std::string(status.message()).c_str());
  return kExitError;
}

void Print(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }
void PrintJson(const nlohmann::json& j) { Print(j.dump(2) + "\n"); }

uint64_t MonotonicNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);  // bpf_ktime_get_ns()'s clock.
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

int Services(const CtlConfig& config) {
  absl::StatusOr<DatapathSnapshot> snapshot = ReadDatapath(config.bpf_root);
  if (!snapshot.ok()) return Fail(snapshot.status());
  config.json ? PrintJson(ServicesJson(*snapshot)) : Print(ServicesTable(*snapshot));
  return kExitOk;
}

int Maps(const CtlConfig& config) {
  absl::StatusOr<std::vector<MapUsage>> maps = ReadMapUsage(config.bpf_root);
  if (!maps.ok()) return Fail(maps.status());
  config.json ? PrintJson(MapsJson(*maps)) : Print(MapsTable(*maps));
  return kExitOk;
}

int Conntrack(const CtlConfig& config) {
  // The socket view tells a daemon's --bpf-root from a wrong path.
  if (absl::StatusOr<DatapathSnapshot> snapshot = ReadDatapath(config.bpf_root); !snapshot.ok()) {
    return Fail(snapshot.status());
  }
  absl::StatusOr<std::optional<ConntrackTable>> table = ReadConntrack(config.bpf_root);
  if (!table.ok()) return Fail(table.status());
  const uint64_t now = MonotonicNowNs();
  config.json ? PrintJson(ConntrackJson(*table, now)) : Print(ConntrackText(*table, now));
  return kExitOk;
}

int Dump(const CtlConfig& config) {
  std::vector<UniqueFd> fds;
  for (const char* name : {LB_SERVICES_MAP_NAME, LB_BACKENDS_MAP_NAME, LB_MEMBERS_MAP_NAME}) {
    UniqueFd fd(bpf_obj_get(absl::StrCat(MapsDir(config.bpf_root), "/", name).c_str()));
    if (!fd.valid()) {
      return Fail(absl::NotFoundError(absl::StrCat("cannot open ", MapsDir(config.bpf_root), "/", name, ": ",
                                                   strerror(errno), " (is --bpf-root the daemon's?)")));
    }
    fds.push_back(std::move(fd));
  }
  BpfLbMaps maps(std::move(fds[0]), std::move(fds[1]), std::move(fds[2]), LbMapCapacity{});
  absl::StatusOr<std::vector<std::string>> lines = DumpLines(maps);
  if (!lines.ok()) return Fail(lines.status());
  for (const std::string& line : *lines) Print(line + "\n");
  return kExitOk;
}

// The devices the daemon serves NodePorts on: --devices, else those the
// per-packet path is attached to (bpfp_dev_v1), else the daemon's default
// choice.
absl::StatusOr<std::vector<IpAddress>> NodeAddresses(const CtlConfig& config) {
  std::vector<NetDevice> devices;
  absl::StatusOr<std::optional<std::vector<uint32_t>>> attached = ReadDeviceIfindexes(config.bpf_root);
  if (!attached.ok()) return attached.status();
  if (config.devices.empty() && attached->has_value()) {
    absl::StatusOr<std::vector<NetDevice>> all = ListNetDevices();
    if (!all.ok()) return all.status();
    for (NetDevice& device : *all) {
      if (absl::c_linear_search(**attached, static_cast<uint32_t>(device.ifindex))) devices.push_back(device);
    }
    return NodeAddressesOf(devices);
  }
  std::vector<std::string> names = config.devices;
  if (names.empty()) {
    absl::StatusOr<std::vector<std::string>> detected = DetectNodeDevices();
    if (!detected.ok()) return detected.status();
    names = *std::move(detected);
  }
  absl::StatusOr<std::vector<NetDevice>> found = FindNetDevices(names);
  if (!found.ok()) return found.status();
  return NodeAddressesOf(*found);
}

absl::StatusOr<std::unique_ptr<k8s::RestApiClient>> ApiClient(const CtlConfig& config) {
  absl::StatusOr<k8s::ClientConfig> client_config =
      k8s::LoadClientConfig(config.kubeconfig, config.master, k8s::InClusterSource::FromEnvironment());
  if (!client_config.ok()) {
    return absl::Status(client_config.status().code(),
                        absl::StrCat("cannot configure the API client: ", client_config.status().message()));
  }
  k8s::RestClientOptions options;
  options.request_timeout = absl::Seconds(30);
  options.user_agent = "bpfproxyctl";
  return k8s::RestApiClient::Create(*client_config, options);
}

int Explain(const CtlConfig& config) {
  absl::StatusOr<ExplainQuery> query = ExplainQuery::Parse(config.args[0]);
  if (!query.ok()) {
    std::fprintf(stderr, "bpfproxyctl: %s\n", std::string(query.status().message()).c_str());
    return kExitUsage;
  }
  absl::StatusOr<DatapathSnapshot> snapshot = ReadDatapath(config.bpf_root);
  if (!snapshot.ok()) return Fail(snapshot.status());
  absl::StatusOr<std::vector<IpAddress>> node_addresses = NodeAddresses(config);
  if (!node_addresses.ok()) return Fail(node_addresses.status());
  absl::StatusOr<std::unique_ptr<k8s::RestApiClient>> client = ApiClient(config);
  if (!client.ok()) return Fail(client.status());
  absl::StatusOr<Fetched> fetched = FetchExplainInput(**client, *query,
                                                      {.node_name = NodeName(config.hostname_override),
                                                       .node_addresses = *std::move(node_addresses),
                                                       .nodeport_addresses_flag = config.nodeport_addresses,
                                                       .bind_address = config.bind_address,
                                                       .iptables_localhost_nodeports =
                                                           config.iptables_localhost_nodeports});
  if (!fetched.ok()) return Fail(fetched.status());
  for (const std::string& warning : fetched->warnings) std::fprintf(stderr, "bpfproxyctl: %s\n", warning.c_str());
  Explanation explanation = bpfproxy::Explain(*query, fetched->input);
  CompareWithDatapath(*snapshot, explanation);
  config.json ? PrintJson(ExplanationJson(explanation)) : Print(ExplanationText(explanation));
  return explanation.mismatch() ? kExitMismatch : kExitOk;
}

// Flags that take a value, and where it goes.
using Setter = std::function<void(CtlConfig&, const std::string&)>;
const std::map<std::string, Setter>& ValueFlags() {
  auto list = [](const std::string& v) -> std::vector<std::string> {
    return absl::StrSplit(v, ',', absl::SkipWhitespace());
  };
  static const auto* flags = new std::map<std::string, Setter>{
      {"--bpf-root", [](CtlConfig& c, const std::string& v) { c.bpf_root = v; }},
      {"--kubeconfig", [](CtlConfig& c, const std::string& v) { c.kubeconfig = v; }},
      {"--master", [](CtlConfig& c, const std::string& v) { c.master = v; }},
      {"--hostname-override", [](CtlConfig& c, const std::string& v) { c.hostname_override = v; }},
      {"--devices", [list](CtlConfig& c, const std::string& v) { c.devices = list(v); }},
      {"--nodeport-addresses", [list](CtlConfig& c, const std::string& v) { c.nodeport_addresses = list(v); }},
      {"--bind-address", [](CtlConfig& c, const std::string& v) { c.bind_address = v; }},
  };
  return *flags;
}

// Boolean flags: bare means true, or --flag=true|false.
const std::map<std::string, bool CtlConfig::*>& BoolFlags() {
  static const auto* flags = new std::map<std::string, bool CtlConfig::*>{
      {"--iptables-localhost-nodeports", &CtlConfig::iptables_localhost_nodeports},
  };
  return *flags;
}

}  // namespace

std::string CtlUsage() { return kUsage; }

absl::StatusOr<CtlConfig> ParseCtlArgs(const std::vector<std::string>& args) {
  CtlConfig config;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--json") {
      config.json = true;
    } else if (arg == "-h" || arg == "--help") {
      config.help = true;
    } else if (absl::StartsWith(arg, "-")) {
      const size_t eq = arg.find('=');
      const std::string name = arg.substr(0, eq);
      if (auto b = BoolFlags().find(name); b != BoolFlags().end()) {
        const std::string value = eq == std::string::npos ? "true" : arg.substr(eq + 1);
        if (value != "true" && value != "false") {
          return absl::InvalidArgumentError(absl::StrCat("invalid value \"", value, "\" for flag ", name));
        }
        config.*(b->second) = value == "true";
        continue;
      }
      auto flag = ValueFlags().find(name);
      if (flag == ValueFlags().end()) return absl::InvalidArgumentError(absl::StrCat("unknown flag ", name));
      if (eq != std::string::npos) {
        flag->second(config, arg.substr(eq + 1));
      } else if (i + 1 < args.size()) {
        flag->second(config, args[++i]);
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag ", name, " needs a value"));
      }
    } else {
      positional.push_back(arg);
    }
  }
  if (config.help) return config;
  if (positional.empty()) return absl::InvalidArgumentError("no command");
  config.command = positional[0];
  config.args.assign(positional.begin() + 1, positional.end());
  if (!absl::c_linear_search(Commands(), config.command)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown command \"", config.command, "\""));
  }
  const size_t want_args = config.command == "explain" ? 1 : 0;
  if (config.args.size() != want_args) {
    return absl::InvalidArgumentError(config.command == "explain"
                                          ? std::string("explain takes one address: IP:port[/protocol]")
                                          : absl::StrCat(config.command, " takes no arguments"));
  }
  if (config.json && config.command == "dump") return absl::InvalidArgumentError("dump has no --json form");
  return config;
}

int RunCtl(const CtlConfig& config) {
  if (config.command == "services") return Services(config);
  if (config.command == "maps") return Maps(config);
  if (config.command == "conntrack") return Conntrack(config);
  if (config.command == "dump") return Dump(config);
  if (config.command == "explain") return Explain(config);
  return kExitUsage;
}

}  // namespace bpfproxy::ctl
