#include "proxy/kube_proxy_config.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proxy/config_values.h"
#include "proxy/log.h"
#include "proxy/unique_fd.h"
#include "proxy/yaml_fields.h"
#include "yaml-cpp/yaml.h"

namespace bpfproxy {
namespace {

using yaml_fields::Document;
using yaml_fields::Field;
using K = yaml_fields::Kind;

// Every field of KubeProxyConfiguration v1alpha1 (staging/src/k8s.io/
// kube-proxy/config/v1alpha1/types.go, with component-base's
// ClientConnectionConfiguration and LoggingConfiguration).
const std::vector<Field>& Schema() {
  static const std::vector<Field>* schema = [] {
    const std::vector<Field> routing = {{"splitStream", K::kBool}, {"infoBufferSize", K::kQuantity}};
    return new std::vector<Field>{
        {"apiVersion", K::kString},
        {"kind", K::kString},
        {"featureGates", K::kBoolMap},
        {"clientConnection",
         K::kObject,
         {{"kubeconfig", K::kString},
          {"acceptContentTypes", K::kString},
          {"contentType", K::kString},
          {"qps", K::kFloat},
          {"burst", K::kInt}}},
        {"logging",
         K::kObject,
         {{"format", K::kString},
          {"flushFrequency", K::kIntOrDuration},
          {"verbosity", K::kInt},
          {"vmodule", K::kObjectList, {{"filePattern", K::kString}, {"verbosity", K::kInt}}},
          {"options", K::kObject, {{"text", K::kObject, routing}, {"json", K::kObject, routing}}}}},
        {"hostnameOverride", K::kString},
        {"bindAddress", K::kString},
        {"healthzBindAddress", K::kString},
        {"metricsBindAddress", K::kString},
        {"bindAddressHardFail", K::kBool},
        {"enableProfiling", K::kBool},
        {"showHiddenMetricsForVersion", K::kString},
        {"mode", K::kString},
        {"iptables",
         K::kObject,
         {{"masqueradeBit", K::kInt},
          {"masqueradeAll", K::kBool},
          {"localhostNodePorts", K::kBool},
          {"snatNodeInternalIP", K::kBool},
          {"syncPeriod", K::kDuration},
          {"minSyncPeriod", K::kDuration}}},
        {"ipvs",
         K::kObject,
         {{"syncPeriod", K::kDuration},
          {"minSyncPeriod", K::kDuration},
          {"scheduler", K::kString},
          {"excludeCIDRs", K::kStringList},
          {"strictARP", K::kBool},
          {"tcpTimeout", K::kDuration},
          {"tcpFinTimeout", K::kDuration},
          {"udpTimeout", K::kDuration}}},
        {"nftables",
         K::kObject,
         {{"masqueradeBit", K::kInt},
          {"masqueradeAll", K::kBool},
          {"syncPeriod", K::kDuration},
          {"minSyncPeriod", K::kDuration}}},
        {"winkernel",
         K::kObject,
         {{"networkName", K::kString},
          {"sourceVip", K::kString},
          {"enableDSR", K::kBool},
          {"rootHnsEndpointName", K::kString},
          {"forwardHealthCheckVip", K::kBool}}},
        {"detectLocalMode", K::kString},
        {"detectLocal", K::kObject, {{"bridgeInterface", K::kString}, {"interfaceNamePrefix", K::kString}}},
        {"clusterCIDR", K::kString},
        {"nodePortAddresses", K::kStringList},
        {"oomScoreAdj", K::kInt},
        {"conntrack",
         K::kObject,
         {{"maxPerCore", K::kInt},
          {"min", K::kInt},
          {"tcpEstablishedTimeout", K::kDuration},
          {"tcpCloseWaitTimeout", K::kDuration},
          {"tcpBeLiberal", K::kBool},
          {"udpTimeout", K::kDuration},
          {"udpStreamTimeout", K::kDuration}}},
        {"configSyncPeriod", K::kDuration},
        {"portRange", K::kString},
        {"windowsRunAsService", K::kBool},
    };
  }();
  return *schema;
}

constexpr char kConntrackReason[] = "bpfproxy leaves the nf_conntrack sysctls as they are";
constexpr char kIpvsReason[] = "bpfproxy creates no IPVS services";
constexpr char kRulesReason[] = "a setting of kube-proxy's iptables/nftables rules, which bpfproxy does not write";
constexpr char kWindowsReason[] = "Windows only";
constexpr char kLocalDetectionReason[] =
    "bpfproxy needs no local-traffic detection: it translates pods' connections at the socket and packets from "
    "outside on the node's devices";

// Reads the fields of one document into a DaemonConfig, with kube-proxy's
// defaults and validation; errors are "<field>: <what is wrong>".
class Mapper {
 public:
  Mapper(const Document& doc, DaemonConfig& config) : doc_(doc), c_(config) {}

  absl::Status Map() {
    for (auto step : {&Mapper::TypeMeta, &Mapper::Client, &Mapper::Logging, &Mapper::Addresses, &Mapper::Mode,
                      &Mapper::SyncPeriods, &Mapper::LocalDetection, &Mapper::Process}) {
      if (absl::Status s = (this->*step)(); !s.ok()) return s;
    }
    IgnoredSections();
    return absl::OkStatus();
  }

 private:
  template <typename T>
  T Get(const std::string& path, T fallback) const {
    return doc_.Get<T>(path, fallback);
  }
  std::string Str(const std::string& path) const { return Get<std::string>(path, ""); }
  absl::Duration Dur(const std::string& path) const { return Get<absl::Duration>(path, absl::ZeroDuration()); }

  static absl::Status Error(absl::string_view path, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  }
  static absl::Status Prefixed(absl::string_view path, const absl::Status& s) {
    return s.ok() ? s : Error(path, s.message());
  }

  // Lists |path| as ignored when the file gives it a value other than
  // kube-proxy's defaults (those in |defaults|: for many fields the zero
  // value means the default too), so that kubeadm's zero-valued fields are
  // not reported.
  template <typename T>
  void IgnoreUnlessDefault(const std::string& path, std::initializer_list<T> defaults, absl::string_view reason) {
    if (!doc_.Has(path)) return;
    T value = Get<T>(path, *defaults.begin());
    for (const T& d : defaults) {
      if (value == d) return;
    }
    c_.ignored.push_back({absl::StrCat(path, ": ", doc_.Text(path)), std::string(reason)});
  }
  template <typename T>
  void IgnoreUnlessDefault(const std::string& path, T def, absl::string_view reason) {
    IgnoreUnlessDefault<T>(path, {def}, reason);
  }

  absl::Status TypeMeta() {
    std::string api_version = Str("apiVersion"), kind = Str("kind");
    if (kind != kKubeProxyConfigKind) {
      return Error("kind", absl::StrCat("must be ", kKubeProxyConfigKind, ", not \"", kind, "\""));
    }
    if (api_version != kKubeProxyConfigApiVersion) {
      return Error("apiVersion", absl::StrCat("must be ", kKubeProxyConfigApiVersion, ", not \"", api_version, "\""));
    }
    return absl::OkStatus();
  }

  absl::Status Client() {
    c_.kubeconfig = Str("clientConnection.kubeconfig");
    c_.feature_gates = Get("featureGates", absl::btree_map<std::string, bool>{});
    if (Get<int64_t>("clientConnection.burst", 0) < 0) return Error("clientConnection.burst", "must not be negative");
    constexpr char kRateReason[] = "bpfproxy only lists and watches three resources; its client has no rate limiter";
    constexpr char kJsonReason[] = "bpfproxy's API client speaks JSON";
    IgnoreUnlessDefault<double>("clientConnection.qps", {0, 5}, kRateReason);
    IgnoreUnlessDefault<int64_t>("clientConnection.burst", {0, 10}, kRateReason);
    IgnoreUnlessDefault<std::string>("clientConnection.contentType", {"", "application/vnd.kubernetes.protobuf"},
                                     kJsonReason);
    IgnoreUnlessDefault<std::string>("clientConnection.acceptContentTypes", "", kJsonReason);
    return absl::OkStatus();
  }

  absl::Status Logging() {
    int64_t verbosity = Get<int64_t>("logging.verbosity", 0);
    if (verbosity < 0) return Error("logging.verbosity", "must not be negative");
    c_.verbosity = static_cast<int>(verbosity);
    std::string format = Str("logging.format");
    if (format != "" && format != "text" && format != "json") {
      return Error("logging.format", absl::StrCat("unsupported log format \"", format, "\" (text or json)"));
    }
    IgnoreUnlessDefault<std::string>("logging.format", {"", "text"}, "bpfproxy logs in klog's text format");
    IgnoreUnlessDefault<absl::Duration>("logging.flushFrequency", {absl::ZeroDuration(), absl::Seconds(5)},
                                        "bpfproxy writes every line unbuffered");
    IgnoreUnlessDefault<int64_t>("logging.vmodule", 0, "bpfproxy has one verbosity for all files (logging.verbosity)");
    for (const char* stream : {"text", "json"}) {
      std::string prefix = absl::StrCat("logging.options.", stream, ".");
      IgnoreUnlessDefault(prefix + "splitStream", false, "bpfproxy logs every line to stderr");
      IgnoreUnlessDefault<std::string>(prefix + "infoBufferSize", {"", "0"}, "bpfproxy writes every line unbuffered");
    }
    return absl::OkStatus();
  }

  absl::Status Addresses() {
    c_.hostname_override = absl::AsciiStrToLower(absl::StripAsciiWhitespace(Str("hostnameOverride")));
    std::string bind = Str("bindAddress");
    if (bind.empty()) bind = "0.0.0.0";
    if (absl::Status s = ValidateBindAddress(bind); !s.ok()) return Prefixed("bindAddress", s);
    c_.bind_address = bind;
    // kube-proxy's getDefaultAddresses: IPv6 defaults when bindAddress is not IPv4.
    bool v4 = !absl::StrContains(SplitList(bind).front(), ':');
    if (absl::Status s = ServerAddress("healthzBindAddress", v4 ? "0.0.0.0" : "[::]", 10256, c_.healthz_bind_address);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            ServerAddress("metricsBindAddress", v4 ? "127.0.0.1" : "[::1]", 10249, c_.metrics_bind_address);
        !s.ok()) {
      return s;
    }
    c_.bind_address_hard_fail = Get("bindAddressHardFail", false);
    c_.localhost_nodeports = Get("iptables.localhostNodePorts", true);
    c_.nodeport_addresses = Get("nodePortAddresses", std::vector<std::string>{});
    return Prefixed("nodePortAddresses", ValidateNodePortAddresses(c_.nodeport_addresses));
  }

  // Empty: kube-proxy's default (a file cannot disable the server); a bare
  // IP gets the port.
  absl::Status ServerAddress(const std::string& path, absl::string_view default_ip, int port, std::string& out) {
    std::string address = Str(path);
    address = address.empty() ? absl::StrCat(default_ip, ":", port) : AppendPortIfNeeded(address, port);
    if (absl::Status s = ValidateHostPort(address); !s.ok()) return Prefixed(path, s);
    out = address;
    return absl::OkStatus();
  }

  absl::Status Mode() {
    c_.proxy_mode = Str("mode");
    if (absl::Status s = ValidateProxyMode(c_.proxy_mode); !s.ok()) return Prefixed("mode", s);
    IgnoreUnlessDefault<std::string>("mode", "",
                                     absl::StrCat("bpfproxy replaces kube-proxy's ", c_.proxy_mode,
                                                  " mode: its eBPF datapath serves every Service"));
    return absl::OkStatus();
  }

  // v1alpha1 conversion: the periods of the configured mode's section.
  absl::Status SyncPeriods() {
    std::string section = c_.proxy_mode == "ipvs" || c_.proxy_mode == "nftables" ? c_.proxy_mode : "iptables";
    std::string sync_path = section + ".syncPeriod", min_path = section + ".minSyncPeriod";
    absl::Duration sync = Dur(sync_path), min = Dur(min_path);
    if (sync == absl::ZeroDuration()) sync = absl::Seconds(30);
    // ipvs.minSyncPeriod has no default (0); the others default to 1s.
    if (min == absl::ZeroDuration() && section != "ipvs") min = absl::Seconds(1);
    if (sync < absl::ZeroDuration()) return Error(sync_path, "must be greater than 0");
    if (min < absl::ZeroDuration()) return Error(min_path, "must not be negative");
    if (min > sync) {
      return Error(min_path, absl::StrCat(FormatGoDuration(min), " must not exceed ", sync_path, " (",
                                          FormatGoDuration(sync), ")"));
    }
    c_.sync_period = sync;
    c_.min_sync_period = min;
    for (const char* other : {"iptables", "ipvs", "nftables"}) {
      if (section == other) continue;
      std::string reason = absl::StrCat("used with mode ", other, " only; the mode's section is ", section);
      IgnoreUnlessDefault<absl::Duration>(absl::StrCat(other, ".syncPeriod"), {absl::ZeroDuration(), absl::Seconds(30)},
                                          reason);
      IgnoreUnlessDefault<absl::Duration>(absl::StrCat(other, ".minSyncPeriod"),
                                          {absl::ZeroDuration(), absl::Seconds(1)}, reason);
    }
    absl::Duration config_sync = Dur("configSyncPeriod");
    if (config_sync < absl::ZeroDuration()) return Error("configSyncPeriod", "must be greater than 0");
    c_.config_sync_period = config_sync == absl::ZeroDuration() ? absl::Minutes(15) : config_sync;
    IgnoreUnlessDefault<absl::Duration>("configSyncPeriod", {absl::ZeroDuration(), absl::Minutes(15)},
                                        "bpfproxy's watches need no informer resync; the datapath resyncs every sync "
                                        "period");
    return absl::OkStatus();
  }

  // Validated and kept (for --write-config-to), but without effect: listed.
  absl::Status LocalDetection() {
    c_.cluster_cidrs = SplitList(Str("clusterCIDR"));
    if (absl::Status s = ValidateClusterCidrs(c_.cluster_cidrs); !s.ok()) return Prefixed("clusterCIDR", s);
    c_.detect_local_mode = Str("detectLocalMode");
    if (absl::Status s = ValidateDetectLocalMode(c_.detect_local_mode); !s.ok()) return Prefixed("detectLocalMode", s);
    c_.pod_bridge_interface = Str("detectLocal.bridgeInterface");
    c_.pod_interface_name_prefix = Str("detectLocal.interfaceNamePrefix");
    for (const char* path :
         {"clusterCIDR", "detectLocalMode", "detectLocal.bridgeInterface", "detectLocal.interfaceNamePrefix"}) {
      IgnoreUnlessDefault<std::string>(path, "", kLocalDetectionReason);
    }
    return absl::OkStatus();
  }

  absl::Status Process() {
    int64_t oom = Get<int64_t>("oomScoreAdj", -999);
    if (oom < -1000 || oom > 1000) return Error("oomScoreAdj", "must be within [-1000, 1000]");
    c_.oom_score_adj = static_cast<int>(oom);
    for (const char* path : {"iptables.masqueradeBit", "nftables.masqueradeBit"}) {
      int64_t bit = Get<int64_t>(path, 14);
      if (bit < 0 || bit > 31) return Error(path, "must be within [0, 31]");
      IgnoreUnlessDefault<int64_t>(path, 14, kRulesReason);  // null, the default, is absent here.
    }
    for (const char* path : {"conntrack.maxPerCore", "conntrack.min"}) {
      if (Get<int64_t>(path, 0) < 0) return Error(path, "must not be negative");
    }
    for (const char* path :
         {"conntrack.tcpEstablishedTimeout", "conntrack.tcpCloseWaitTimeout", "conntrack.udpTimeout",
          "conntrack.udpStreamTimeout", "ipvs.tcpTimeout", "ipvs.tcpFinTimeout", "ipvs.udpTimeout"}) {
      if (Dur(path) < absl::ZeroDuration()) return Error(path, "must not be negative");
    }
    for (const std::string& cidr : Get("ipvs.excludeCIDRs", std::vector<std::string>{})) {
      if (absl::Status s = ValidateCidr(cidr); !s.ok()) return Prefixed("ipvs.excludeCIDRs", s);
    }
    return absl::OkStatus();
  }

  // Settings of kube-proxy's rule backends, conntrack and Windows: listed
  // when they differ from kube-proxy's defaults.
  void IgnoredSections() {
    IgnoreUnlessDefault("iptables.masqueradeAll", false,
                        "ClusterIP traffic is translated at the socket, with no NAT: nothing to masquerade");
    IgnoreUnlessDefault("nftables.masqueradeAll", false,
                        "ClusterIP traffic is translated at the socket, with no NAT: nothing to masquerade");
    IgnoreUnlessDefault("iptables.snatNodeInternalIP", false, kRulesReason);
    IgnoreUnlessDefault<std::string>("ipvs.scheduler", "", kIpvsReason);
    IgnoreUnlessDefault("ipvs.excludeCIDRs", std::vector<std::string>{}, kIpvsReason);
    IgnoreUnlessDefault("ipvs.strictARP", false, kIpvsReason);
    for (const char* path : {"ipvs.tcpTimeout", "ipvs.tcpFinTimeout", "ipvs.udpTimeout", "conntrack.udpTimeout",
                             "conntrack.udpStreamTimeout"}) {
      IgnoreUnlessDefault(path, absl::ZeroDuration(), absl::StartsWith(path, "ipvs") ? kIpvsReason : kConntrackReason);
    }
    IgnoreUnlessDefault<int64_t>("conntrack.maxPerCore", 32768, kConntrackReason);
    IgnoreUnlessDefault<int64_t>("conntrack.min", 131072, kConntrackReason);
    IgnoreUnlessDefault("conntrack.tcpEstablishedTimeout", absl::Hours(24), kConntrackReason);
    IgnoreUnlessDefault("conntrack.tcpCloseWaitTimeout", absl::Hours(1), kConntrackReason);
    IgnoreUnlessDefault("conntrack.tcpBeLiberal", false, kConntrackReason);
    IgnoreUnlessDefault("enableProfiling", false, "bpfproxy serves no /debug/pprof");
    IgnoreUnlessDefault<std::string>("showHiddenMetricsForVersion", "", "bpfproxy has no hidden metrics");
    IgnoreUnlessDefault<std::string>("portRange", "", "removed from kube-proxy with the userspace mode");
    for (const char* path : {"winkernel.networkName", "winkernel.sourceVip", "winkernel.rootHnsEndpointName"}) {
      IgnoreUnlessDefault<std::string>(path, "", kWindowsReason);
    }
    for (const char* path : {"winkernel.enableDSR", "winkernel.forwardHealthCheckVip", "windowsRunAsService"}) {
      IgnoreUnlessDefault(path, false, kWindowsReason);
    }
  }

  const Document& doc_;
  DaemonConfig& c_;
};

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string text;
  char buf[4096];
  ssize_t n = 0;
  while (fd.valid() && (n = read(fd.get(), buf, sizeof(buf))) > 0) text.append(buf, n);
  if (!fd.valid() || n < 0) return absl::NotFoundError(absl::StrCat("cannot read the file: ", std::strerror(errno)));
  return text;
}

}  // namespace

absl::StatusOr<DaemonConfig> DecodeKubeProxyConfiguration(absl::string_view yaml) {
  absl::StatusOr<Document> doc = Document::Decode(yaml, Schema());
  if (!doc.ok()) return doc.status();
  DaemonConfig config;
  if (absl::Status s = Mapper(*doc, config).Map(); !s.ok()) return s;
  for (const std::string& e : doc->strict_errors()) {
    config.warnings.push_back(
        absl::StrCat("strict decoding error: ", e, "; decoded leniently and ignored, as kube-proxy does"));
  }
  return config;
}

absl::StatusOr<DaemonConfig> LoadDaemonConfig(const std::vector<std::string>& args) {
  absl::StatusOr<DaemonConfig> flags = ParseFlags(args);
  if (!flags.ok() || flags->config_file.empty()) return flags;
  const std::string& path = flags->config_file;
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat("--config ", path, ": ", text.status().message()));
  absl::StatusOr<DaemonConfig> config = DecodeKubeProxyConfiguration(*text);
  if (!config.ok()) return absl::InvalidArgumentError(absl::StrCat("--config ", path, ": ", config.status().message()));
  for (std::string& w : config->warnings) w = absl::StrCat(path, ": ", w);
  if (absl::Status s = ApplyFlagsOverConfigFile(args, *config); !s.ok()) return s;
  return config;
}

namespace {

// Emits the sections bpfproxy does not use with kube-proxy's defaults.
void EmitDefaultSections(YAML::Emitter& out) {
  out << YAML::Key << "conntrack" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "maxPerCore" << YAML::Value << 32768 << YAML::Key << "min" << YAML::Value << 131072;
  out << YAML::Key << "tcpBeLiberal" << YAML::Value << false;
  out << YAML::Key << "tcpCloseWaitTimeout" << YAML::Value << "1h0m0s";
  out << YAML::Key << "tcpEstablishedTimeout" << YAML::Value << "24h0m0s";
  out << YAML::Key << "udpStreamTimeout" << YAML::Value << "0s" << YAML::Key << "udpTimeout" << YAML::Value << "0s";
  out << YAML::EndMap;
}

void EmitSyncSection(YAML::Emitter& out, const DaemonConfig& c, const std::string& section) {
  std::string mode = c.proxy_mode == "ipvs" || c.proxy_mode == "nftables" ? c.proxy_mode : "iptables";
  bool active = section == mode;
  out << YAML::Key << section << YAML::Value << YAML::BeginMap;
  if (section == "iptables") out << YAML::Key << "localhostNodePorts" << YAML::Value << c.localhost_nodeports;
  if (section != "ipvs") out << YAML::Key << "masqueradeAll" << YAML::Value << false;
  if (section != "ipvs") out << YAML::Key << "masqueradeBit" << YAML::Value << 14;
  out << YAML::Key << "minSyncPeriod" << YAML::Value
      << FormatGoDuration(active              ? c.min_sync_period
                          : section == "ipvs" ? absl::ZeroDuration()
                                              : absl::Seconds(1));
  out << YAML::Key << "syncPeriod" << YAML::Value << FormatGoDuration(active ? c.sync_period : absl::Seconds(30));
  out << YAML::EndMap;
}

}  // namespace

std::string EncodeKubeProxyConfiguration(const DaemonConfig& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << kKubeProxyConfigApiVersion;
  out << YAML::Key << "bindAddress" << YAML::Value << c.bind_address;
  out << YAML::Key << "bindAddressHardFail" << YAML::Value << c.bind_address_hard_fail;
  out << YAML::Key << "clientConnection" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "kubeconfig" << YAML::Value << c.kubeconfig;
  out << YAML::EndMap;
  out << YAML::Key << "clusterCIDR" << YAML::Value << absl::StrJoin(c.cluster_cidrs, ",");
  out << YAML::Key << "configSyncPeriod" << YAML::Value << FormatGoDuration(c.config_sync_period);
  EmitDefaultSections(out);
  out << YAML::Key << "detectLocal" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "bridgeInterface" << YAML::Value << c.pod_bridge_interface;
  out << YAML::Key << "interfaceNamePrefix" << YAML::Value << c.pod_interface_name_prefix;
  out << YAML::EndMap;
  out << YAML::Key << "detectLocalMode" << YAML::Value << c.detect_local_mode;
  out << YAML::Key << "featureGates" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, on] : c.feature_gates) out << YAML::Key << name << YAML::Value << on;
  out << YAML::EndMap;
  out << YAML::Key << "healthzBindAddress" << YAML::Value << c.healthz_bind_address;
  out << YAML::Key << "hostnameOverride" << YAML::Value << c.hostname_override;
  EmitSyncSection(out, c, "iptables");
  EmitSyncSection(out, c, "ipvs");
  out << YAML::Key << "kind" << YAML::Value << kKubeProxyConfigKind;
  out << YAML::Key << "logging" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "verbosity" << YAML::Value << c.verbosity;
  out << YAML::EndMap;
  out << YAML::Key << "metricsBindAddress" << YAML::Value << c.metrics_bind_address;
  out << YAML::Key << "mode" << YAML::Value << c.proxy_mode;
  EmitSyncSection(out, c, "nftables");
  out << YAML::Key << "nodePortAddresses" << YAML::Value << YAML::Flow << c.nodeport_addresses;
  out << YAML::Key << "oomScoreAdj" << YAML::Value << c.oom_score_adj;
  out << YAML::EndMap;
  return absl::StrCat(out.c_str(), "\n");
}

absl::Status WriteKubeProxyConfiguration(const DaemonConfig& config, const std::string& path) {
  std::ofstream file(path, std::ios::trunc);
  file << EncodeKubeProxyConfiguration(config);
  file.close();
  if (!file) return absl::UnavailableError(absl::StrCat("--write-config-to ", path, ": cannot write the file"));
  return absl::OkStatus();
}

void LogConfigNotes(const DaemonConfig& config) {
  if (!config.config_file.empty()) KLOG(INFO) << "Using the configuration in " << config.config_file;
  for (const std::string& warning : config.warnings) KLOG(WARNING) << warning;
  for (const IgnoredSetting& i : config.ignored) KLOG(WARNING) << "Ignoring " << i.setting << ": " << i.reason;
}

}  // namespace bpfproxy
