// bpfproxy: the daemon. It loads and pins the socket-LB datapath, then
// programs it from the Kubernetes API (Services, EndpointSlices, its Node)
// or, with --frontends-file, from a static file. It runs until SIGTERM or
// SIGINT and leaves the pinned datapath in place, so traffic keeps flowing
// while it restarts.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include <unistd.h>

#include "absl/strings/ascii.h"
#include "k8s/kube_config.h"
#include "k8s/rest_api_client.h"
#include "proxy/api_watcher.h"
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

// kube-proxy's node name: --hostname-override, else the hostname, lowercased.
std::string NodeName(const DaemonConfig& config) {
  std::string name = config.hostname_override;
  if (name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    name = host;
  }
  return absl::AsciiStrToLower(name);
}

// Waits for SIGTERM/SIGINT; SIGHUP runs |on_hup|.
void WaitForSignals(const sigset_t& signals, const std::function<void()>& on_hup) {
  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGHUP) return;
    if (on_hup) on_hup();
  }
}

int WatchApiServer(const DaemonConfig& config, Reconciler& reconciler, const sigset_t& signals) {
  absl::StatusOr<k8s::ClientConfig> client_config =
      k8s::LoadClientConfig(config.kubeconfig, config.master, k8s::InClusterSource::FromEnvironment());
  if (!client_config.ok()) {
    KLOG(ERROR) << "Cannot configure the API client: " << client_config.status().message();
    return 1;
  }
  absl::StatusOr<std::unique_ptr<k8s::RestApiClient>> client = k8s::RestApiClient::Create(*client_config);
  if (!client.ok()) {
    KLOG(ERROR) << "Cannot create the API client: " << client.status().message();
    return 1;
  }
  ApiWatcherOptions options;
  options.node_name = NodeName(config);
  options.proxier = {.min_sync_period = config.min_sync_period, .sync_period = config.sync_period};
  absl::StatusOr<std::unique_ptr<ApiWatcher>> watcher = ApiWatcher::Start(client->get(), &reconciler, options);
  if (!watcher.ok()) {
    KLOG(ERROR) << "Cannot watch the API server: " << watcher.status().message();
    return 1;
  }
  WaitForSignals(signals, nullptr);
  watcher->reset();  // Reflectors and the sync thread stop before the client goes.
  return 0;
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
  int status = 0;
  if (!config->frontends_file.empty()) {
    Apply(**reconciler, config->frontends_file);
    WaitForSignals(signals, [&] { Apply(**reconciler, config->frontends_file); });
  } else {
    status = WatchApiServer(*config, **reconciler, signals);
  }
  KLOG(INFO) << "Exiting; the pinned datapath stays in place";
  return status;
}

}  // namespace
}  // namespace bpfproxy

int main(int argc, char** argv) { return bpfproxy::Run(argc, argv); }
