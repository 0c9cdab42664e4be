// Command-line flags, kube-proxy style: --name=value, --name value, and for
// booleans --name / --name=true|false. Durations use Go's syntax ("1s",
// "500ms", "1h30m"), as kube-proxy's do. Flags are read here only and copied
// into a plain DaemonConfig.
#ifndef BPFPROXY_PROXY_FLAGS_H_
#define BPFPROXY_PROXY_FLAGS_H_

#include <string>
#include <vector>

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

struct DaemonConfig {
  SocketLbConfig datapath;
  SocketLbMode socket_lb = SocketLbMode::kAll;  // --socket-lb=all|host-only
  // The per-packet path (tc on the node's devices) for NodePort, externalIPs
  // and LoadBalancer IPs from outside; off: socket LB only.
  bool per_packet_lb = true;  // --per-packet-lb
  // --devices: where the tc programs attach; empty: the devices that carry
  // the node's addresses (never loopback or veths).
  std::vector<std::string> devices;
  // --nodeport-addresses: CIDRs, or "primary"; empty: every node address.
  std::vector<std::string> nodeport_addresses;
  std::string healthz_bind_address = "0.0.0.0:10256";   // --healthz-bind-address
  std::string metrics_bind_address = "127.0.0.1:10249";  // --metrics-bind-address
  bool cleanup = false;
  int verbosity = 0;
  // Kubernetes API.
  std::string kubeconfig;         // Empty: in-cluster configuration.
  std::string master;             // Overrides the server of the kubeconfig.
  std::string hostname_override;  // This node's name; empty: the hostname.
  absl::Duration min_sync_period = absl::Seconds(1);  // --iptables-min-sync-period
  absl::Duration sync_period = absl::Seconds(30);     // --iptables-sync-period
  // Without an API server: static frontends from a file.
  std::string frontends_file;
  bool help = false;
};

// Parses argv[1..]; an unknown flag or a bad value is an error naming it.
absl::StatusOr<DaemonConfig> ParseFlags(const std::vector<std::string>& args);

// The --help text.
std::string FlagsUsage();

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_FLAGS_H_
