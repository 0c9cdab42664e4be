// The table of every flag bpfproxy accepts (internal to proxy/flags.cc):
// name, value syntax, default, group, what it does with --config, and the
// setter that validates the text and stores it.
#ifndef BPFPROXY_PROXY_FLAG_TABLE_H_
#define BPFPROXY_PROXY_FLAG_TABLE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proxy/flags.h"

namespace bpfproxy::flags_internal {

enum class Group {
  kKubeProxy,  // kube-proxy's flags that act on bpfproxy.
  kIgnored,    // kube-proxy's flags with no meaning for an eBPF datapath.
  kLogging,    // klog / component-base logging flags.
  kBpfproxy,   // bpfproxy's own.
};

// With --config, does the flag still apply (kube-proxy's Options.Complete)?
enum class WithConfigFile {
  kFileWins,     // The flag is part of KubeProxyConfiguration: the file's value wins.
  kFlagApplies,  // Not in the file (--master, --cleanup, ours), or kube-proxy
                 // lets it win (--hostname-override, logging flags).
};

// Parse state of one command line: the config being filled, and the values
// whose effect depends on other flags, resolved after the last flag.
struct FlagState {
  DaemonConfig& config;
  std::string current;    // "--name=value" of the flag being set, for Ignore().
  bool repeated = false;  // The flag was given before (lists and gates add up).
  std::optional<absl::Duration> iptables_sync, iptables_min_sync, ipvs_sync, ipvs_min_sync;
  std::optional<int> healthz_port, metrics_port;

  // Records the current flag as having no effect, with |reason|.
  void Ignore(std::string reason) { config.ignored.push_back({current, std::move(reason)}); }
};

struct Flag {
  const char* name;
  const char* value_name;     // Empty for booleans.
  const char* default_value;  // Shown in --help; empty: none shown.
  Group group;
  WithConfigFile with_config;
  const char* help;  // For kIgnored: why it has no effect.
  // Validates |value| and stores it; an error's message says what is wrong
  // with the value (the caller names the flag).
  std::function<absl::Status(FlagState&, const std::string& value)> set;
  // Never has an effect (its setter only validates and records it); marked
  // in --help.
  bool ignored = false;

  bool is_bool() const { return *value_name == '\0'; }
};

// Every flag, in --help order within each group.
const std::vector<Flag>& AllFlags();

}  // namespace bpfproxy::flags_internal

#endif  // BPFPROXY_PROXY_FLAG_TABLE_H_
