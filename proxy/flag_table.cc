#include "proxy/flag_table.h"

#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "proxy/config_values.h"

namespace bpfproxy::flags_internal {
namespace {

using Setter = std::function<absl::Status(FlagState&, const std::string&)>;
using G = Group;
constexpr WithConfigFile kFileWins = WithConfigFile::kFileWins;
constexpr WithConfigFile kFlagApplies = WithConfigFile::kFlagApplies;
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

absl::Status Invalid(absl::string_view why) { return absl::InvalidArgumentError(why); }

Setter String(std::string DaemonConfig::*field) {
  return [field](FlagState& s, const std::string& v) {
    s.config.*field = v;
    return absl::OkStatus();
  };
}

Setter Bool(bool DaemonConfig::*field) {
  return [field](FlagState& s, const std::string& v) {
    absl::StatusOr<bool> b = ParseGoBool(v);
    if (b.ok()) s.config.*field = *b;
    return b.status();
  };
}

// A pflag StringSlice: the first occurrence replaces the default, later
// ones append.
Setter List(std::vector<std::string> DaemonConfig::*field,
            std::function<absl::Status(const std::vector<std::string>&)> validate = nullptr) {
  return [field, validate](FlagState& s, const std::string& v) {
    std::vector<std::string> items = s.repeated ? s.config.*field : std::vector<std::string>{};
    for (std::string& item : SplitList(v)) items.push_back(std::move(item));
    if (validate) {
      if (absl::Status st = validate(items); !st.ok()) return st;
    }
    s.config.*field = std::move(items);
    return absl::OkStatus();
  };
}

// A duration kept aside until every flag is read (its effect depends on
// --proxy-mode).
Setter PendingDuration(std::optional<absl::Duration> FlagState::*slot) {
  return [slot](FlagState& s, const std::string& v) {
    absl::StatusOr<absl::Duration> d = ParseGoDuration(v);
    if (d.ok()) s.*slot = *d;
    return d.status();
  };
}

Setter Count(uint32_t LbMapCapacity::*field) {
  return [field](FlagState& s, const std::string& v) {
    absl::StatusOr<int64_t> n = ParseIntInRange(v, 1, std::numeric_limits<uint32_t>::max());
    if (n.ok()) s.config.datapath.capacity.*field = static_cast<uint32_t>(*n);
    return n.status();
  };
}

// Validators for flags that are only checked (their value has no effect),
// so that a value kube-proxy refused is refused here too.
Setter CheckBool() {
  return [](FlagState&, const std::string& v) { return ParseGoBool(v).status(); };
}
Setter CheckDuration() {
  return [](FlagState&, const std::string& v) { return ParseGoDuration(v).status(); };
}
Setter CheckInt(int64_t min = kInt32Min, int64_t max = kInt32Max) {
  return [min, max](FlagState&, const std::string& v) { return ParseIntInRange(v, min, max).status(); };
}
Setter CheckFloat() {
  return [](FlagState&, const std::string& v) {
    float f = 0;
    return absl::SimpleAtof(v, &f) ? absl::OkStatus() : Invalid(absl::StrCat("not a number: \"", v, "\""));
  };
}
Setter CheckCidrs() {
  return [](FlagState&, const std::string& v) {
    for (const std::string& cidr : SplitList(v)) {
      if (absl::Status s = ValidateCidr(cidr); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
}
Setter Anything() {
  return [](FlagState&, const std::string&) { return absl::OkStatus(); };
}

Setter HostnameOverride() {
  return [](FlagState& s, const std::string& v) {
    absl::string_view name = absl::StripAsciiWhitespace(v);
    if (name.empty() && !v.empty()) return Invalid("empty hostname-override is invalid");
    s.config.hostname_override = absl::AsciiStrToLower(name);
    return absl::OkStatus();
  };
}

// --healthz-bind-address and --metrics-bind-address: "IP" or "IP:port";
// empty disables the server. A bare IP gets |port| like kube-proxy's
// deprecated --*-port flags give it.
Setter BindAddress(std::string DaemonConfig::*field, int port) {
  return [field, port](FlagState& s, const std::string& v) {
    std::string address(absl::StripAsciiWhitespace(v));
    if (!address.empty()) {
      address = AppendPortIfNeeded(address, port);
      if (absl::Status st = ValidateHostPort(address); !st.ok()) return st;
    }
    s.config.*field = address;
    return absl::OkStatus();
  };
}

Setter DeprecatedPort(std::optional<int> FlagState::*slot, const char* replacement) {
  return [slot, replacement](FlagState& s, const std::string& v) {
    absl::StatusOr<int64_t> port = ParseIntInRange(v, 0, 65535);
    if (!port.ok()) return port.status();
    s.*slot = static_cast<int>(*port);
    s.config.warnings.push_back(
        absl::StrCat(s.current, ": deprecated (as in kube-proxy); use --", replacement, " instead"));
    return absl::OkStatus();
  };
}

Setter ProxyMode() {
  return [](FlagState& s, const std::string& v) {
    if (absl::Status st = ValidateProxyMode(v); !st.ok()) return st;
    s.config.proxy_mode = v;
    s.Ignore(absl::StrCat("bpfproxy replaces kube-proxy's ", v.empty() ? "default (iptables)" : v,
                          " mode: its eBPF datapath serves every Service"));
    return absl::OkStatus();
  };
}

Setter ConfigSyncPeriod() {
  return [](FlagState& s, const std::string& v) {
    absl::StatusOr<absl::Duration> d = ParseGoDuration(v);
    if (!d.ok()) return d.status();
    if (*d <= absl::ZeroDuration()) return Invalid("must be greater than 0");
    s.config.config_sync_period = *d;
    s.Ignore(
        "bpfproxy's watches keep their caches current with no informer resync; the datapath is fully "
        "resynced every --iptables-sync-period");
    return absl::OkStatus();
  };
}

Setter LoggingFormat() {
  return [](FlagState& s, const std::string& v) {
    if (v == "text") return absl::OkStatus();
    if (v == "json") {
      s.Ignore("bpfproxy logs in klog's text format");
      return absl::OkStatus();
    }
    return Invalid(absl::StrCat("unsupported log format \"", v, "\" (text or json)"));
  };
}

// --logtostderr=false asks for files, which bpfproxy does not write.
Setter LogToStderr() {
  return [](FlagState& s, const std::string& v) {
    absl::StatusOr<bool> b = ParseGoBool(v);
    if (b.ok() && !*b) s.Ignore("bpfproxy logs to stderr only; the container runtime keeps the log");
    return b.status();
  };
}

// A flag that is validated like kube-proxy does and then has no effect:
// the parser lists it in DaemonConfig::ignored with |reason|.
Flag IgnoredFlag(const char* name, const char* value_name, const char* default_value, Group group, const char* reason,
                 Setter check) {
  return {name,
          value_name,
          default_value,
          group,
          group == G::kLogging ? kFlagApplies : kFileWins,
          reason,
          [reason, check](FlagState& s, const std::string& v) {
            absl::Status st = check(s, v);
            if (st.ok()) s.Ignore(reason);
            return st;
          },
          /*ignored=*/true};
}

constexpr char kConntrackReason[] =
    "bpfproxy leaves the nf_conntrack sysctls as they are (set them on the node if you relied on kube-proxy's)";
constexpr char kIpvsReason[] = "bpfproxy creates no IPVS services";
// kube-proxy tells pod traffic from external traffic (to masquerade the
// latter) with these; bpfproxy knows it by where it translates: pods'
// connections at the socket, packets from outside on the node's devices.
constexpr char kLocalDetectionReason[] =
    "bpfproxy needs no local-traffic detection: it translates pods' connections at the socket and packets from "
    "outside on the node's devices";
constexpr char kUserspaceReason[] = "removed from kube-proxy with the userspace mode";
constexpr char kKlogReason[] = "bpfproxy's logger writes klog's text format to stderr and has no such setting";

std::vector<Flag> KubeProxyFlags() {
  return {
      {"config", "FILE", "", G::kKubeProxy, kFlagApplies,
       "KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1), e.g. the kube-proxy ConfigMap's "
       "config.conf; it replaces the kube-proxy flags except --hostname-override and logging flags",
       String(&DaemonConfig::config_file)},
      {"write-config-to", "FILE", "", G::kKubeProxy, kFlagApplies,
       "write the effective configuration as a KubeProxyConfiguration to FILE and exit",
       String(&DaemonConfig::write_config_to)},
      {"cleanup", "", "false", G::kKubeProxy, kFlagApplies,
       "detach bpfproxy's programs, remove every pin under --bpf-root, and exit (kube-proxy's iptables/ipvs "
       "rules are removed by kube-proxy --cleanup)",
       Bool(&DaemonConfig::cleanup)},
      {"init-only", "", "false", G::kKubeProxy, kFlagApplies,
       "set up what needs privileges (mounts, pinned maps and programs) and exit", Bool(&DaemonConfig::init_only)},
      {"kubeconfig", "PATH", "", G::kKubeProxy, kFileWins,
       "kubeconfig with the API server and credentials (default: in-cluster configuration)",
       String(&DaemonConfig::kubeconfig)},
      {"master", "URL", "", G::kKubeProxy, kFlagApplies, "the API server's address; overrides the kubeconfig's",
       String(&DaemonConfig::master)},
      {"hostname-override", "NAME", "", G::kKubeProxy, kFlagApplies,
       "this node's name (default: the hostname); wins over the --config file's hostnameOverride", HostnameOverride()},
      {"bind-address", "IP", "0.0.0.0", G::kKubeProxy, kFileWins,
       "override of the node's primary IP (\"IP\" or \"IPv4,IPv6\"); 0.0.0.0 or :: take the Node object's",
       [](FlagState& s, const std::string& v) {
         if (absl::Status st = ValidateBindAddress(v); !st.ok()) return st;
         s.config.bind_address = v;
         return absl::OkStatus();
       }},
      {"healthz-bind-address", "IP:PORT", "0.0.0.0:10256", G::kKubeProxy, kFileWins,
       "address of /healthz and /livez; a bare IP gets port 10256; empty disables",
       BindAddress(&DaemonConfig::healthz_bind_address, 10256)},
      {"metrics-bind-address", "IP:PORT", "127.0.0.1:10249", G::kKubeProxy, kFileWins,
       "address of /metrics (0.0.0.0:10249 for Prometheus to scrape); a bare IP gets port 10249; empty disables",
       BindAddress(&DaemonConfig::metrics_bind_address, 10249)},
      {"bind-address-hard-fail", "", "false", G::kKubeProxy, kFileWins,
       "exit when the health or metrics server cannot bind its port", Bool(&DaemonConfig::bind_address_hard_fail)},
      {"nodeport-addresses", "CIDR[,CIDR]|primary", "", G::kKubeProxy, kFileWins,
       "node addresses that serve NodePorts: those in the CIDRs, or the Node's primary IPs (default: all)",
       List(&DaemonConfig::nodeport_addresses, ValidateNodePortAddresses)},
      {"iptables-localhost-nodeports", "", "true", G::kKubeProxy, kFileWins,
       "false: never serve NodePorts on 127.0.0.1 (true: on 127.0.0.1 too when --nodeport-addresses allows it, "
       "like kube-proxy's iptables mode)",
       Bool(&DaemonConfig::localhost_nodeports)},
      {"iptables-sync-period", "DURATION", "30s", G::kKubeProxy, kFileWins,
       "longest time between two full syncs of the datapath (must be > 0)", PendingDuration(&FlagState::iptables_sync)},
      {"iptables-min-sync-period", "DURATION", "1s", G::kKubeProxy, kFileWins,
       "shortest time between two syncs of the datapath (0: every change at once)",
       PendingDuration(&FlagState::iptables_min_sync)},
      {"ipvs-sync-period", "DURATION", "30s", G::kKubeProxy, kFileWins,
       "with --proxy-mode=ipvs, takes the place of --iptables-sync-period (as in kube-proxy)",
       PendingDuration(&FlagState::ipvs_sync)},
      {"ipvs-min-sync-period", "DURATION", "1s", G::kKubeProxy, kFileWins,
       "with --proxy-mode=ipvs, takes the place of --iptables-min-sync-period",
       PendingDuration(&FlagState::ipvs_min_sync)},
      {"oom-score-adj", "INT", "-999", G::kKubeProxy, kFileWins, "the process's oom_score_adj, in [-1000, 1000]",
       [](FlagState& s, const std::string& v) {
         absl::StatusOr<int64_t> n = ParseIntInRange(v, -1000, 1000);
         if (n.ok()) s.config.oom_score_adj = static_cast<int>(*n);
         return n.status();
       }},
      {"feature-gates", "NAME=BOOL[,...]", "", G::kKubeProxy, kFileWins,
       "kube-proxy feature gates; accepted and kept, bpfproxy implements kube-proxy's GA behaviour",
       [](FlagState& s, const std::string& v) {
         if (!s.repeated) s.config.feature_gates.clear();
         return ParseFeatureGates(v, s.config.feature_gates);
       }},
      {"healthz-port", "PORT", "10256", G::kKubeProxy, kFileWins,
       "deprecated: the port of --healthz-bind-address when that is a bare IP; 0 disables",
       DeprecatedPort(&FlagState::healthz_port, "healthz-bind-address")},
      {"metrics-port", "PORT", "10249", G::kKubeProxy, kFileWins,
       "deprecated: the port of --metrics-bind-address when that is a bare IP; 0 disables",
       DeprecatedPort(&FlagState::metrics_port, "metrics-bind-address")},
  };
}

std::vector<Flag> IgnoredFlags() {
  return {
      {"proxy-mode", "MODE", "", G::kIgnored, kFileWins,
       "iptables, ipvs, nftables or blank: bpfproxy replaces every kube-proxy mode with its eBPF datapath", ProxyMode(),
       /*ignored=*/true},
      {"config-sync-period", "DURATION", "15m0s", G::kIgnored, kFileWins,
       "informer resync; bpfproxy's watches need none (the datapath resyncs every --iptables-sync-period)",
       ConfigSyncPeriod(), /*ignored=*/true},
      IgnoredFlag("masquerade-all", "", "false", G::kIgnored,
                  "ClusterIP traffic is translated at the socket, with no NAT: there is nothing to masquerade",
                  CheckBool()),
      IgnoredFlag("iptables-masquerade-bit", "INT", "14", G::kIgnored, "bpfproxy marks no packets for iptables",
                  CheckInt(0, 31)),
      IgnoredFlag("cluster-cidr", "CIDR[,CIDR]", "", G::kIgnored, kLocalDetectionReason,
                  List(&DaemonConfig::cluster_cidrs, ValidateClusterCidrs)),
      IgnoredFlag("detect-local-mode", "MODE", "ClusterCIDR", G::kIgnored, kLocalDetectionReason,
                  [](FlagState& s, const std::string& v) {
                    if (absl::Status st = ValidateDetectLocalMode(v); !st.ok()) return st;
                    s.config.detect_local_mode = v;
                    return absl::OkStatus();
                  }),
      IgnoredFlag("pod-bridge-interface", "NAME", "", G::kIgnored, kLocalDetectionReason,
                  String(&DaemonConfig::pod_bridge_interface)),
      IgnoredFlag("pod-interface-name-prefix", "PREFIX", "", G::kIgnored, kLocalDetectionReason,
                  String(&DaemonConfig::pod_interface_name_prefix)),
      IgnoredFlag("ipvs-scheduler", "NAME", "", G::kIgnored, kIpvsReason, Anything()),
      IgnoredFlag("ipvs-exclude-cidrs", "CIDR[,CIDR]", "", G::kIgnored, kIpvsReason, CheckCidrs()),
      IgnoredFlag("ipvs-strict-arp", "", "false", G::kIgnored, kIpvsReason, CheckBool()),
      IgnoredFlag("ipvs-tcp-timeout", "DURATION", "0s", G::kIgnored, kIpvsReason, CheckDuration()),
      IgnoredFlag("ipvs-tcpfin-timeout", "DURATION", "0s", G::kIgnored, kIpvsReason, CheckDuration()),
      IgnoredFlag("ipvs-udp-timeout", "DURATION", "0s", G::kIgnored, kIpvsReason, CheckDuration()),
      IgnoredFlag("conntrack-max-per-core", "INT", "32768", G::kIgnored, kConntrackReason, CheckInt(0)),
      IgnoredFlag("conntrack-min", "INT", "131072", G::kIgnored, kConntrackReason, CheckInt(0)),
      IgnoredFlag("conntrack-tcp-timeout-established", "DURATION", "24h0m0s", G::kIgnored, kConntrackReason,
                  CheckDuration()),
      IgnoredFlag("conntrack-tcp-timeout-close-wait", "DURATION", "1h0m0s", G::kIgnored, kConntrackReason,
                  CheckDuration()),
      IgnoredFlag("conntrack-tcp-be-liberal", "", "false", G::kIgnored, kConntrackReason, CheckBool()),
      IgnoredFlag("conntrack-udp-timeout", "DURATION", "0s", G::kIgnored, kConntrackReason, CheckDuration()),
      IgnoredFlag("conntrack-udp-timeout-stream", "DURATION", "0s", G::kIgnored, kConntrackReason, CheckDuration()),
      IgnoredFlag("kube-api-content-type", "TYPE", "application/vnd.kubernetes.protobuf", G::kIgnored,
                  "bpfproxy's API client speaks JSON", Anything()),
      IgnoredFlag("kube-api-qps", "FLOAT", "5", G::kIgnored,
                  "bpfproxy only lists and watches three resources; its client has no rate limiter", CheckFloat()),
      IgnoredFlag("kube-api-burst", "INT", "10", G::kIgnored,
                  "bpfproxy only lists and watches three resources; its client has no rate limiter", CheckInt(0)),
      IgnoredFlag("profiling", "", "false", G::kIgnored, "bpfproxy serves no /debug/pprof", CheckBool()),
      IgnoredFlag("show-hidden-metrics-for-version", "VERSION", "", G::kIgnored,
                  "bpfproxy has no hidden (deprecated) metrics", Anything()),
      IgnoredFlag("proxy-port-range", "RANGE", "", G::kIgnored, kUserspaceReason, Anything()),
      IgnoredFlag("udp-timeout", "DURATION", "250ms", G::kIgnored, kUserspaceReason, CheckDuration()),
  };
}

std::vector<Flag> LoggingFlags() {
  return {
      {"v", "N", "0", G::kLogging, kFlagApplies, "log verbosity (klog levels; 2 logs every sync)",
       [](FlagState& s, const std::string& v) {
         absl::StatusOr<int64_t> n = ParseIntInRange(v, 0, kInt32Max);
         if (n.ok()) s.config.verbosity = static_cast<int>(*n);
         return n.status();
       }},
      IgnoredFlag("vmodule", "PATTERN=N[,...]", "", G::kLogging, "bpfproxy has one verbosity for all files (--v)",
                  Anything()),
      {"logging-format", "FORMAT", "text", G::kLogging, kFlagApplies, "text (json is accepted and ignored)",
       LoggingFormat()},
      IgnoredFlag("log-flush-frequency", "DURATION", "5s", G::kLogging,
                  "bpfproxy writes every line as it is logged, unbuffered", CheckDuration()),
      IgnoredFlag("log-text-split-stream", "", "false", G::kLogging, kKlogReason, CheckBool()),
      IgnoredFlag("log-text-info-buffer-size", "QUANTITY", "0", G::kLogging, kKlogReason, Anything()),
      IgnoredFlag("log-json-split-stream", "", "false", G::kLogging, kKlogReason, CheckBool()),
      IgnoredFlag("log-json-info-buffer-size", "QUANTITY", "0", G::kLogging, kKlogReason, Anything()),
      {"logtostderr", "", "true", G::kLogging, kFlagApplies, "bpfproxy always logs to stderr", LogToStderr()},
      {"alsologtostderr", "", "false", G::kLogging, kFlagApplies, "bpfproxy always logs to stderr", CheckBool()},
      IgnoredFlag("log-file", "PATH", "", G::kLogging,
                  "bpfproxy logs to stderr only; the container runtime keeps the log", Anything()),
      IgnoredFlag("log-dir", "DIR", "", G::kLogging,
                  "bpfproxy logs to stderr only; the container runtime keeps the log", Anything()),
      IgnoredFlag("log-file-max-size", "MB", "1800", G::kLogging, kKlogReason, CheckInt(0)),
      IgnoredFlag("log-backtrace-at", "FILE:LINE", "", G::kLogging, kKlogReason, Anything()),
      IgnoredFlag("add-dir-header", "", "false", G::kLogging, kKlogReason, CheckBool()),
      IgnoredFlag("one-output", "", "false", G::kLogging, kKlogReason, CheckBool()),
      IgnoredFlag("skip-headers", "", "false", G::kLogging, kKlogReason, CheckBool()),
      IgnoredFlag("skip-log-headers", "", "false", G::kLogging, kKlogReason, CheckBool()),
      IgnoredFlag("stderrthreshold", "SEVERITY", "2", G::kLogging, kKlogReason, Anything()),
  };
}

std::vector<Flag> BpfproxyFlags() {
  return {
      {"bpf-root", "DIR", "/sys/fs/bpf/bpfproxy", G::kBpfproxy, kFlagApplies,
       "bpffs directory for pinned maps and links (bpffs is mounted at /sys/fs/bpf if needed)",
       [](FlagState& s, const std::string& v) {
         if (!absl::StartsWith(v, "/")) return Invalid("must be an absolute path");
         s.config.datapath.bpf_root = v;
         return absl::OkStatus();
       }},
      {"cgroup-root", "DIR", "", G::kBpfproxy, kFlagApplies,
       "cgroup v2 directory the socket hooks attach to (default: the cgroup2 root, mounted at "
       "/run/bpfproxy/cgroupv2 if needed); in a pod: the host's /sys/fs/cgroup mounted in",
       [](FlagState& s, const std::string& v) {
         s.config.datapath.cgroup_root = v;
         return absl::OkStatus();
       }},
      {"bpf-lb-services-max", "N", "2097152", G::kBpfproxy, kFlagApplies, "capacity of the services and members maps",
       Count(&LbMapCapacity::services)},
      {"bpf-lb-backends-max", "N", "1048576", G::kBpfproxy, kFlagApplies, "capacity of the backends map",
       Count(&LbMapCapacity::backends)},
      {"bpf-lb-sockets-max", "N", "262144", G::kBpfproxy, kFlagApplies,
       "capacity of each per-socket LRU map; sizes apply to maps created by this start (a pinned map keeps its "
       "size until --cleanup)",
       Count(&LbMapCapacity::sockets)},
      {"socket-lb", "all|host-only", "all", G::kBpfproxy, kFlagApplies,
       "which sockets the cgroup hooks translate: all, or only the host network namespace's",
       [](FlagState& s, const std::string& v) {
         if (v == "all") return s.config.socket_lb = SocketLbMode::kAll, absl::OkStatus();
         if (v == "host-only") return s.config.socket_lb = SocketLbMode::kHostOnly, absl::OkStatus();
         return Invalid("must be all or host-only");
       }},
      {"per-packet-lb", "", "true", G::kBpfproxy, kFlagApplies,
       "translate NodePort, externalIP and LoadBalancer traffic from outside with tc programs (false: socket "
       "LB only)",
       Bool(&DaemonConfig::per_packet_lb)},
      {"devices", "DEV[,DEV]", "", G::kBpfproxy, kFlagApplies,
       "devices the tc programs attach to (default: those that carry the node's addresses)",
       List(&DaemonConfig::devices)},
      {"service-proxy-name", "NAME", "", G::kBpfproxy, kFlagApplies,
       "serve only Services labelled service.kubernetes.io/service-proxy-name=NAME (default: those without "
       "the label, like kube-proxy)",
       String(&DaemonConfig::service_proxy_name)},
      {"frontends-file", "FILE", "", G::kBpfproxy, kFlagApplies,
       "program static frontends from FILE (JSON) instead of watching an API server; re-read on SIGHUP",
       String(&DaemonConfig::frontends_file)},
      {"help", "", "false", G::kBpfproxy, kFlagApplies, "this text (also -h)", Bool(&DaemonConfig::help)},
  };
}

}  // namespace

const std::vector<Flag>& AllFlags() {
  static const std::vector<Flag>* flags = [] {
    auto* all = new std::vector<Flag>;
    for (auto group : {KubeProxyFlags(), IgnoredFlags(), LoggingFlags(), BpfproxyFlags()}) {
      all->insert(all->end(), group.begin(), group.end());
    }
    return all;
  }();
  return *flags;
}

}  // namespace bpfproxy::flags_internal
