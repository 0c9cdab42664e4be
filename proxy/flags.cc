#include "proxy/flags.h"

#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bpfproxy {
namespace {

struct Flag {
  const char* name;
  const char* value_name;  // Empty for booleans.
  const char* help;
  // Sets the flag from its text; false if the text is not a valid value.
  std::function<bool(DaemonConfig&, const std::string&)> set;
};

bool SetBool(bool& out, const std::string& v) {
  std::string lower = absl::AsciiStrToLower(v);
  if (lower == "true" || lower == "1" || lower == "t") return out = true, true;
  if (lower == "false" || lower == "0" || lower == "f") return out = false, true;
  return false;
}

bool SetDuration(absl::Duration& out, const std::string& v) {
  absl::Duration d;
  if (!absl::ParseDuration(v, &d) || d < absl::ZeroDuration()) return false;
  out = d;
  return true;
}

bool SetCount(uint32_t& out, const std::string& v) { return absl::SimpleAtoi(v, &out) && out > 0; }

bool SetString(std::string& out, const std::string& v) {
  out = v;
  return true;
}

// A comma-separated list; empty items are dropped.
bool SetList(std::vector<std::string>& out, const std::string& v) {
  out.clear();
  for (absl::string_view item : absl::StrSplit(v, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(item));
  }
  return true;
}

const std::vector<Flag>& Flags() {
  static const std::vector<Flag>* flags = new std::vector<Flag>{
      {"kubeconfig", "PATH", "kubeconfig file with the API server and credentials (default: in-cluster)",
       [](DaemonConfig& c, const std::string& v) { return SetString(c.kubeconfig, v); }},
      {"master", "URL", "the API server's address; overrides the kubeconfig's",
       [](DaemonConfig& c, const std::string& v) { return SetString(c.master, v); }},
      {"hostname-override", "NAME", "this node's name (default: the hostname)",
       [](DaemonConfig& c, const std::string& v) { return SetString(c.hostname_override, v); }},
      {"iptables-min-sync-period", "DURATION", "shortest time between two syncs of the datapath (default 1s; 0 allowed)",
       [](DaemonConfig& c, const std::string& v) { return SetDuration(c.min_sync_period, v); }},
      {"iptables-sync-period", "DURATION", "longest time between two full syncs of the datapath (default 30s)",
       [](DaemonConfig& c, const std::string& v) { return SetDuration(c.sync_period, v) && c.sync_period > absl::ZeroDuration(); }},
      {"bpf-root", "DIR", "bpffs directory for pinned maps and links (default /sys/fs/bpf/bpfproxy; mounted if needed)",
       [](DaemonConfig& c, const std::string& v) { return SetString(c.datapath.bpf_root, v) && absl::StartsWith(v, "/"); }},
      {"cgroup-root", "DIR", "cgroup v2 directory the socket hooks attach to (default: the cgroup2 root, mounted at /run/bpfproxy/cgroupv2 if needed)",
       [](DaemonConfig& c, const std::string& v) { return SetString(c.datapath.cgroup_root, v); }},
      {"bpf-lb-services-max", "N", "capacity of the services and members maps (default 2097152)",
       [](DaemonConfig& c, const std::string& v) { return SetCount(c.datapath.capacity.services, v); }},
      {"bpf-lb-backends-max", "N", "capacity of the backends map (default 1048576)",
       [](DaemonConfig& c, const std::string& v) { return SetCount(c.datapath.capacity.backends, v); }},
      {"bpf-lb-sockets-max", "N", "capacity of each per-socket LRU map (default 262144); sizes apply to maps created by this start",
       [](DaemonConfig& c, const std::string& v) { return SetCount(c.datapath.capacity.sockets, v); }},
      {"socket-lb", "all|host-only", "which sockets the cgroup hooks translate: all (default) or only the host network namespace's",
       [](DaemonConfig& c, const std::string& v) {
         if (v == "all") return c.socket_lb = SocketLbMode::kAll, true;
         if (v == "host-only") return c.socket_lb = SocketLbMode::kHostOnly, true;
         return false;
       }},
      {"per-packet-lb", "", "translate NodePort, externalIP and LoadBalancer traffic from outside with tc programs (default true; false: socket LB only)",
       [](DaemonConfig& c, const std::string& v) { return SetBool(c.per_packet_lb, v); }},
      {"devices", "DEV[,DEV]", "devices the tc programs attach to (default: those that carry the node's addresses)",
       [](DaemonConfig& c, const std::string& v) { return SetList(c.devices, v); }},
      {"nodeport-addresses", "CIDR[,CIDR]|primary", "node addresses that serve NodePorts (default: all)",
       [](DaemonConfig& c, const std::string& v) { return SetList(c.nodeport_addresses, v); }},
      {"healthz-bind-address", "IP:PORT", "address of /healthz and /livez (default 0.0.0.0:10256)",
       [](DaemonConfig& c, const std::string& v) { return SetString(c.healthz_bind_address, v); }},
      {"metrics-bind-address", "IP:PORT", "address of /metrics (default 127.0.0.1:10249)",
       [](DaemonConfig& c, const std::string& v) { return SetString(c.metrics_bind_address, v); }},
      {"frontends-file", "FILE", "program static frontends from FILE (JSON) instead of watching an API server; re-read on SIGHUP",
       [](DaemonConfig& c, const std::string& v) { return SetString(c.frontends_file, v); }},
      {"cleanup", "", "detach the programs, remove every pin under --bpf-root, and exit",
       [](DaemonConfig& c, const std::string& v) { return SetBool(c.cleanup, v); }},
      {"v", "N", "log verbosity (klog levels)",
       [](DaemonConfig& c, const std::string& v) { return absl::SimpleAtoi(v, &c.verbosity) && c.verbosity >= 0; }},
      {"help", "", "this text", [](DaemonConfig& c, const std::string& v) { return SetBool(c.help, v); }},
  };
  return *flags;
}

const Flag* Find(const std::string& name) {
  for (const Flag& f : Flags()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<DaemonConfig> ParseFlags(const std::vector<std::string>& args) {
  DaemonConfig config;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    size_t dashes = absl::StartsWith(arg, "--") ? 2 : absl::StartsWith(arg, "-") ? 1 : 0;
    if (dashes == 0 || arg.size() == dashes) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    std::string name = arg.substr(dashes), value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "h") name = "help";
    const Flag* flag = Find(name);
    if (flag == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    bool is_bool = *flag->value_name == '\0';
    if (!has_value && is_bool) {
      value = "true";
    } else if (!has_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      value = args[++i];
    }
    if (!flag->set(config, value)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid value \"", value, "\" for flag --", name));
    }
  }
  return config;
}

std::string FlagsUsage() {
  std::string out = "Usage: bpfproxy [flags]\n\n";
  for (const Flag& f : Flags()) {
    std::string left = absl::StrCat("--", f.name, *f.value_name ? absl::StrCat("=", f.value_name) : "");
    absl::StrAppendFormat(&out, "  %-34s %s\n", left, f.help);
  }
  return out;
}

}  // namespace bpfproxy
