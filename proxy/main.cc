// bpfproxy: the daemon. For now it loads and pins the socket-LB datapath,
// optionally programs static frontends from a file, and runs until SIGTERM
// or SIGINT, leaving the pinned datapath in place so traffic keeps flowing
// while it restarts. The Kubernetes watcher arrives with the API client.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "proxy/flags.h"
#include "proxy/frontends_file.h"
#include "proxy/log.h"
#include "proxy/reconciler.h"
#include "proxy/socket_lb.h"

namespace bpfproxy {
namespace {

void Apply(Reconciler& reconciler, const std::string& path) {
  absl::StatusOr<DesiredFrontends> desired = ReadFrontendsFile(path);
  if (!desired.ok()) {
    KLOG(ERROR) << "Not applying " << path << ": " << desired.status().message();
    return;
  }
  SyncResult result = reconciler.Sync(*desired);
  for (const auto& [frontend, status] : result.failed) KLOG(ERROR) << status.message();
  KLOG(INFO) << "Synced " << desired->size() << " frontends from " << path << " (" << result.failed.size()
             << " failed, pruned " << result.pruned_services << " service and " << result.pruned_backends
             << " backend entries)";
}

int Run(int argc, char** argv) {
  absl::StatusOr<DaemonConfig> config = ParseFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!config.ok()) {
    std::fprintf(stderr, "bpfproxy: %s\n%s", std::string(config.status().message()).c_str(), FlagsUsage().c_str());
    return 2;
  }
  if (config->help) {
    std::fputs(FlagsUsage().c_str(), stdout);
    return 0;
  }
  log::SetVerbosity(config->verbosity);
  if (config->cleanup) {
    absl::Status s = SocketLb::Cleanup(config->datapath.bpf_root);
    if (!s.ok()) KLOG(ERROR) << "Cleanup failed: " << s.message();
    return s.ok() ? 0 : 1;
  }
  // Block the signals before any thread starts; sigwait below takes them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<SocketLb>> datapath = SocketLb::Open(config->datapath);
  if (!datapath.ok()) {
    KLOG(ERROR) << "Cannot set up the datapath: " << datapath.status().message();
    return 1;
  }
  absl::StatusOr<std::unique_ptr<Reconciler>> reconciler = Reconciler::Create(&(*datapath)->maps());
  if (!reconciler.ok()) {
    KLOG(ERROR) << "Cannot read the pinned maps: " << reconciler.status().message();
    return 1;
  }
  KLOG(INFO) << "Restored " << (*reconciler)->Applied().size() << " frontends and "
             << (*reconciler)->backend_entries() << " backends from the pinned maps";
  if (!config->frontends_file.empty()) Apply(**reconciler, config->frontends_file);

  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP && !config->frontends_file.empty()) {
      Apply(**reconciler, config->frontends_file);
      continue;
    }
    if (sig != SIGHUP) break;
  }
  KLOG(INFO) << "Exiting; the pinned datapath stays in place";
  return 0;
}

}  // namespace
}  // namespace bpfproxy

int main(int argc, char** argv) { return bpfproxy::Run(argc, argv); }
