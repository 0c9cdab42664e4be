// Command-line flags, kube-proxy's full set plus bpfproxy's own, with
// kube-proxy's syntax: --name=value, --name value, -name; booleans as --name
// or --name=true|false; Go durations ("1s", "500ms", "1h30m"); lists as
// "a,b"; --feature-gates=A=true,B=false; "_" and "-" alike in names
// (--log_dir is --log-dir). Flags are read here only and copied into a plain
// DaemonConfig.
//
// Every kube-proxy flag is accepted, so a kube-proxy DaemonSet's command line
// runs unchanged. The ones that mean nothing to an eBPF datapath (iptables,
// ipvs, nftables and conntrack tuning, --masquerade-all, ...) are validated
// like kube-proxy does and listed in DaemonConfig::ignored with the reason,
// for main to log once. An unknown flag or a bad value is an error naming it.
//
// --config FILE (a KubeProxyConfiguration) is read by LoadDaemonConfig() in
// proxy/kube_proxy_config.h, which applies kube-proxy's precedence.
#ifndef BPFPROXY_PROXY_FLAGS_H_
#define BPFPROXY_PROXY_FLAGS_H_

#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/socket_lb.h"

namespace bpfproxy {

// Which sockets the cgroup hooks translate.
enum class SocketLbMode {
  kAll,       // Every socket in --cgroup-root: pods and the node.
  kHostOnly,  // Only sockets of the host network namespace; pods' traffic
              // is translated per packet on the node's devices instead.
};

// A setting that was given but has no effect on bpfproxy.
struct IgnoredSetting {
  std::string setting;  // "--masquerade-all=true", "iptables.masqueradeAll: true"
  std::string reason;   // Why it has no effect.
  bool operator==(const IgnoredSetting&) const = default;
};

struct DaemonConfig {
  // --- bpfproxy's own switches (flags only, also with --config) ---
  SocketLbConfig datapath;
  SocketLbMode socket_lb = SocketLbMode::kAll;  // --socket-lb=all|host-only
  // The per-packet path (tc on the node's devices) for NodePort, externalIPs
  // and LoadBalancer IPs from outside; off: socket LB only.
  bool per_packet_lb = true;  // --per-packet-lb
  // --devices: where the tc programs attach; empty: the devices that carry
  // the node's addresses (never loopback or veths).
  std::vector<std::string> devices;
  // --service-proxy-name: serve only Services labelled
  // service.kubernetes.io/service-proxy-name=<this>; empty: kube-proxy's
  // selection (Services without that label).
  std::string service_proxy_name;
  // Without an API server: static frontends from a file.
  std::string frontends_file;

  // --- kube-proxy's settings (flags, or the --config file) ---
  // --nodeport-addresses: CIDRs, or "primary"; empty: every node address.
  std::vector<std::string> nodeport_addresses;
  // Empty disables the server (kube-proxy: "set empty to disable").
  std::string healthz_bind_address = "0.0.0.0:10256";    // --healthz-bind-address
  std::string metrics_bind_address = "127.0.0.1:10249";  // --metrics-bind-address
  // Exit when the health or metrics server cannot bind, instead of logging.
  bool bind_address_hard_fail = false;  // --bind-address-hard-fail
  // --bind-address: kube-proxy's override of the node's primary IP(s)
  // ("IP" or "IPv4,IPv6"); "0.0.0.0"/"::": none, take the Node object's.
  std::string bind_address = "0.0.0.0";
  // NodePorts on 127.0.0.1 too (when nodeport_addresses allows it), like
  // kube-proxy's iptables mode; false: never.
  bool localhost_nodeports = true;  // --iptables-localhost-nodeports, iptables.localhostNodePorts
  // kube-proxy's local-traffic detection (--cluster-cidr, --detect-local-mode,
  // --pod-bridge-interface, --pod-interface-name-prefix). bpfproxy has no use
  // for them (they are listed in |ignored| when given); kept so that
  // --write-config-to writes them back.
  std::vector<std::string> cluster_cidrs;
  std::string detect_local_mode;  // "" = ClusterCIDR
  std::string pod_bridge_interface;
  std::string pod_interface_name_prefix;
  int oom_score_adj = -999;  // --oom-score-adj, applied by ApplyOomScoreAdj()
  // kube-proxy's mode as configured ("" = its default, iptables). bpfproxy
  // replaces every mode; kept for the logs and --write-config-to.
  std::string proxy_mode;
  absl::btree_map<std::string, bool> feature_gates;  // --feature-gates, featureGates
  // --config-sync-period: kube-proxy's informer resync. bpfproxy's
  // reflectors keep no resync; a full datapath sync runs every sync_period.
  absl::Duration config_sync_period = absl::Minutes(15);
  bool cleanup = false;
  int verbosity = 0;
  // Kubernetes API.
  std::string kubeconfig;         // Empty: in-cluster configuration.
  std::string master;             // Overrides the server of the kubeconfig.
  std::string hostname_override;  // This node's name, lowercased; empty: the hostname.
  // --iptables-(min-)sync-period (or --ipvs-* with --proxy-mode=ipvs;
  // iptables.*, ipvs.* or nftables.* of the file, by its mode).
  absl::Duration min_sync_period = absl::Seconds(1);
  absl::Duration sync_period = absl::Seconds(30);

  // --- what to do ---
  std::string config_file;      // --config (read by LoadDaemonConfig)
  std::string write_config_to;  // --write-config-to: write the configuration as a file and exit
  bool init_only = false;       // --init-only: set up the datapath (mounts, pins) and exit
  bool help = false;

  // Settings given that have no effect, for main to log once.
  std::vector<IgnoredSetting> ignored;
  // Other notes for the log: deprecated flags, fields of the config file
  // kube-proxy's strict decoding would have refused.
  std::vector<std::string> warnings;
};

// Parses argv[1..] (no file is read: --config only sets config_file); an
// unknown flag or a bad value is an error naming it.
absl::StatusOr<DaemonConfig> ParseFlags(const std::vector<std::string>& args);

// kube-proxy's precedence with --config (cmd/kube-proxy/app/options.go,
// Options.Complete): the file replaces every setting of its own, and of the
// flags only these still apply: --hostname-override, the logging flags
// (--v), and the ones that are not part of the file (--master, --cleanup,
// --init-only, --write-config-to, --config, and bpfproxy's own). Applies
// those of |args| onto |from_file|; the other kube-proxy flags given are
// listed in |from_file.ignored| as overridden by the file.
absl::Status ApplyFlagsOverConfigFile(const std::vector<std::string>& args, DaemonConfig& from_file);

// The --help text: kube-proxy's flags, those accepted but ignored (marked),
// the logging flags, and bpfproxy's own, each with its default.
std::string FlagsUsage();

// Every flag name (without "--"), for tests and manifests checks.
std::vector<std::string> FlagNames();

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_FLAGS_H_
