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

struct DaemonConfig {
  SocketLbConfig datapath;
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
