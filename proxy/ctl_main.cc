// bpfproxyctl: reads the pinned maps of a running node and prints what the
// datapath does — the answer to iptables-save being unreadable. It only
// reads; it works while the daemon runs, and while it does not. The
// commands live in proxy/ctl/ (`bpfproxyctl --help` lists them).
#include <cstdio>
#include <string>
#include <vector>

#include "proxy/ctl/commands.h"

int main(int argc, char** argv) {
  namespace ctl = bpfproxy::ctl;
  absl::StatusOr<ctl::CtlConfig> config = ctl::ParseCtlArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!config.ok()) {
    std::fprintf(stderr, "bpfproxyctl: %s\n\n%s", std::string(config.status().message()).c_str(), ctl::CtlUsage().c_str());
    return ctl::kExitUsage;
  }
  if (config->help) {
    std::fputs(ctl::CtlUsage().c_str(), stdout);
    return ctl::kExitOk;
  }
  return ctl::RunCtl(*config);
}
