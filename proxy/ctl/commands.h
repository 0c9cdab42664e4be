// bpfproxyctl's command line and commands. Flags are read here only and
// copied into a CtlConfig; each command reads the pinned maps (and, for
// explain, the API server) and prints to stdout. Exit codes: 0 done, 1 an
// error (printed to stderr), 2 a usage error, 3 `explain` found the
// datapath disagreeing with kube-proxy's rules.
#ifndef BPFPROXY_PROXY_CTL_COMMANDS_H_
#define BPFPROXY_PROXY_CTL_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace bpfproxy::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitMismatch = 3;

struct CtlConfig {
  std::string command;            // services, maps, conntrack, dump, explain
  std::vector<std::string> args;  // explain: the address
  bool json = false;
  bool help = false;
  std::string bpf_root = "/sys/fs/bpf/bpfproxy";
  // As the daemon takes them: where the API server is, this node's name,
  // and where NodePorts are served.
  std::string kubeconfig;
  std::string master;
  std::string hostname_override;
  std::vector<std::string> devices;
  std::vector<std::string> nodeport_addresses;
  std::string bind_address = "0.0.0.0";
  bool iptables_localhost_nodeports = true;
};

// Flags may come before or after the command, as --flag=value or
// --flag value. An unknown flag, a missing value or an unknown command is
// kInvalidArgument naming it.
absl::StatusOr<CtlConfig> ParseCtlArgs(const std::vector<std::string>& args);
std::string CtlUsage();

// Runs |config|'s command; returns the exit code.
int RunCtl(const CtlConfig& config);

}  // namespace bpfproxy::ctl

#endif  // BPFPROXY_PROXY_CTL_COMMANDS_H_
