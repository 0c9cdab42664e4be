// bpfproxy: the daemon. It opens (loads and pins) the datapath — the socket
// LB, and the per-packet LB on the node's devices unless --per-packet-lb is
// off — then programs it from the Kubernetes API (Services, EndpointSlices,
// its Node) or, with --frontends-file, from a static file. Health checks
// and metrics are served while it watches. It runs until SIGTERM or SIGINT
// and leaves the pinned datapath in place, so traffic keeps flowing while it
// restarts.
#include <signal.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "bpfproxy/lb_abi.h"
#include "k8s/kube_config.h"
#include "k8s/rest_api_client.h"
#include "metrics/proxy_metrics.h"
#include "metrics/service_directory.h"
#include "proxy/api_watcher.h"
#include "proxy/bpf_pins.h"
#include "proxy/datapath.h"
#include "proxy/flags.h"
#include "proxy/frontends_file.h"
#include "proxy/health_and_metrics.h"
#include "proxy/kube_proxy_config.h"
#include "proxy/log.h"
#include "proxy/node_addresses.h"
#include "proxy/oom_score_adj.h"
#include "proxy/reconciler.h"

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

// How often the node's devices and addresses are read again (one netlink
// dump): an address added or removed serves NodePorts, or stops, within
// this. kube-proxy reads them at every sync.
constexpr absl::Duration kDeviceRefreshPeriod = absl::Seconds(5);

// kube-proxy exits when its --config file changes (an edit of the
// kube-proxy ConfigMap), so that the kubelet restarts it with the new
// settings; bpfproxy does the same, and its pinned datapath keeps serving
// while it restarts. Compares contents, which also sees the kubelet's
// swap of a ConfigMap volume's "..data" symlink.
class ConfigFileWatch {
 public:
  explicit ConfigFileWatch(std::string path) : path_(std::move(path)), content_(Read()) {}
  // Whether the file now differs from when the daemon read it (also: it
  // is gone, or has appeared).
  bool Changed() const { return !path_.empty() && Read() != content_; }
  const std::string& path() const { return path_; }

 private:
  std::optional<std::string> Read() const {
    if (path_.empty()) return std::nullopt;
    std::ifstream in(path_, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::string path_;
  std::optional<std::string> content_;
};

// Waits for SIGTERM/SIGINT; SIGHUP runs |on_hup|, and |on_tick| runs every
// |period| while waiting, and ends the wait by returning false.
void WaitForSignals(const sigset_t& signals, const std::function<void()>& on_hup,
                    absl::Duration period = absl::InfiniteDuration(), const std::function<bool()>& on_tick = nullptr) {
  while (true) {
    int sig = 0;
    if (on_tick) {
      const timespec timeout = absl::ToTimespec(period);
      sig = sigtimedwait(&signals, nullptr, &timeout);
      if (sig < 0) {
        if (errno == EAGAIN && !on_tick()) return;
        continue;  // The period passed, or EINTR.
      }
    } else if (sigwait(&signals, &sig) != 0) {
      continue;
    }
    if (sig != SIGHUP) return;
    if (on_hup) on_hup();
  }
}

std::string AddressList(const std::vector<IpAddress>& ips) {
  return absl::StrJoin(ips, ",", [](std::string* out, const IpAddress& ip) { out->append(ip.ToString()); });
}

// The node-side inputs of the Service views: which addresses serve
// NodePorts, and whether the ClusterIPs go per packet (host-only sockets).
absl::StatusOr<ViewConfig> NodeViews(const DaemonConfig& config, const Datapath& datapath) {
  absl::StatusOr<std::vector<IpAddress>> selected =
      SelectNodePortAddresses(datapath.node_addresses(), config.nodeport_addresses, PrimaryIps(config.bind_address));
  if (!selected.ok()) return selected.status();
  ViewConfig views{.nodeport_addresses = *std::move(selected),
                   .localhost_nodeports = LocalhostNodePorts(config.nodeport_addresses, config.localhost_nodeports),
                   .cluster_ips_in_external_view = config.socket_lb == SocketLbMode::kHostOnly};
  KLOG(INFO) << "NodePorts on [" << AddressList(views.nodeport_addresses) << "]"
             << (views.localhost_nodeports ? " and 127.0.0.1" : "")
             << (views.cluster_ips_in_external_view ? "; ClusterIPs of pods translated per packet" : "");
  return views;
}

// The reconcilers of the datapath's views, rebuilt from the pinned maps.
struct Writers {
  std::unique_ptr<Reconciler> socket;
  std::unique_ptr<Reconciler> external;  // Null without the per-packet path.
  PolicyMaps* policies = nullptr;
  ProxierTargets targets() const { return {.socket = socket.get(), .external = external.get(), .policies = policies}; }
};

absl::StatusOr<Writers> OpenWriters(Datapath& datapath) {
  Writers w;
  absl::StatusOr<std::unique_ptr<Reconciler>> socket = Reconciler::Create(&datapath.socket_maps());
  if (!socket.ok()) return socket.status();
  w.socket = *std::move(socket);
  KLOG(INFO) << "Restored " << w.socket->Applied().size() << " frontends and " << w.socket->backend_entries()
             << " backends from the pinned socket maps";
  if (datapath.external_maps() != nullptr && datapath.policies() != nullptr) {
    absl::StatusOr<std::unique_ptr<Reconciler>> external = Reconciler::Create(datapath.external_maps());
    if (!external.ok()) return external.status();
    w.external = *std::move(external);
    w.policies = datapath.policies();
    KLOG(INFO) << "Restored " << w.external->Applied().size() << " frontends and " << w.external->backend_entries()
               << " backends from the pinned per-packet maps";
  }
  return w;
}

// Names the datapath's per-frontend connection counters: each view's
// reconciler tells the directory which service ID stands for which frontend
// (those restored from the pins at once). An empty |directory| disconnects.
void ConnectServiceIds(const Writers& writers, metrics::ServiceDirectory* directory) {
  auto connect = [directory](Reconciler* reconciler, uint8_t view) {
    if (reconciler == nullptr) return;
    if (directory == nullptr) {
      reconciler->SetServiceIdListener({});
      return;
    }
    reconciler->SetServiceIdListener(
        {.assigned = [directory, view](const L4Address& f, uint32_t id) { directory->SetServiceId(view, id, f); },
         .released = [directory, view](const L4Address&, uint32_t id) { directory->RemoveServiceId(view, id); }});
  };
  connect(writers.socket.get(), LB_VIEW_SOCKET);
  connect(writers.external.get(), LB_VIEW_EXTERNAL);
}

// bpfproxy_map_entries/_capacity: the maps the reconcilers account for,
// entry by entry, so reading them costs nothing. The LRU maps the BPF
// programs fill (conntrack, reverse NAT, affinity, counters) are not
// counted: that would mean walking them.
std::vector<metrics::MapUsage> MapUsageOf(const Writers& writers, Datapath& datapath) {
  std::vector<metrics::MapUsage> out;
  auto add = [&out](const Reconciler& r, const LbMapCapacity& capacity, const char* services, const char* backends,
                    const char* members) {
    out.push_back({services, r.service_entries(), capacity.services});
    out.push_back({backends, r.backend_entries(), capacity.backends});
    out.push_back({members, r.member_entries(), capacity.services});
  };
  add(*writers.socket, datapath.socket_maps().capacity(), LB_SERVICES_MAP_NAME, LB_BACKENDS_MAP_NAME,
      LB_MEMBERS_MAP_NAME);
  if (writers.external != nullptr && datapath.external_maps() != nullptr) {
    add(*writers.external, datapath.external_maps()->capacity(), LB_XSERVICES_MAP_NAME, LB_XBACKENDS_MAP_NAME,
        LB_XMEMBERS_MAP_NAME);
  }
  return out;
}

// Where the health check node ports listen: as kube-proxy, on every address
// (IPv4 and IPv6 wildcards) unless --nodeport-addresses narrows the
// NodePorts, then on the addresses it selects. Listening on the wildcard
// also keeps them untouched when node addresses come and go.
std::vector<IpAddress> HealthCheckAddresses(const DaemonConfig& config, const ViewConfig& views) {
  if (config.nodeport_addresses.empty()) return {};
  return views.nodeport_addresses;
}

absl::StatusOr<std::unique_ptr<HealthAndMetrics>> StartHealthAndMetrics(const DaemonConfig& config,
                                                                        const ViewConfig& views) {
  HealthAndMetricsConfig health{.healthz_bind_address = config.healthz_bind_address,
                                .metrics_bind_address = config.metrics_bind_address,
                                .bind_address_hard_fail = config.bind_address_hard_fail,
                                .sync_period = config.sync_period,
                                .node_port_addresses = HealthCheckAddresses(config, views)};
  const std::string stats = MapsDir(config.datapath.bpf_root) + "/" + LB_STATS_MAP_NAME;
  if (std::filesystem::exists(stats)) health.stats_map_pin = stats;
  return HealthAndMetrics::Start(std::move(health));
}

int WatchApiServer(const DaemonConfig& config, const ConfigFileWatch& config_file, Datapath& datapath,
                   const Writers& writers, const sigset_t& signals) {
  absl::StatusOr<ViewConfig> views = NodeViews(config, datapath);
  if (!views.ok()) {
    KLOG(ERROR) << "Cannot choose the NodePort addresses: " << views.status().message();
    return 1;
  }
  // Started first and stopped last: the watcher reports to it.
  absl::StatusOr<std::unique_ptr<HealthAndMetrics>> health = StartHealthAndMetrics(config, *views);
  if (!health.ok()) {
    KLOG(ERROR) << "Cannot serve health checks and metrics: " << health.status().message();
    return 1;
  }
  absl::StatusOr<k8s::ClientConfig> client_config =
      k8s::LoadClientConfig(config.kubeconfig, config.master, k8s::InClusterSource::FromEnvironment());
  if (!client_config.ok()) {
    KLOG(ERROR) << "Cannot configure the API client: " << client_config.status().message();
    return 1;
  }
  k8s::RestClientOptions client_options;
  client_options.observer = (*health)->request_observer();
  absl::StatusOr<std::unique_ptr<k8s::RestApiClient>> client =
      k8s::RestApiClient::Create(*client_config, std::move(client_options));
  if (!client.ok()) {
    KLOG(ERROR) << "Cannot create the API client: " << client.status().message();
    return 1;
  }
  HealthAndMetrics& observer = **health;
  ConnectServiceIds(writers, &observer.service_directory());
  observer.SetMapUsageSource([&writers, &datapath] { return MapUsageOf(writers, datapath); });
  ApiWatcherOptions options;
  options.node_name = NodeName(config.hostname_override);
  options.service_proxy_name = config.service_proxy_name;
  options.views = *std::move(views);
  options.proxier = {.min_sync_period = config.min_sync_period, .sync_period = config.sync_period};
  options.observer = &observer;
  absl::StatusOr<std::unique_ptr<ApiWatcher>> watcher =
      ApiWatcher::Start(client->get(), writers.targets(), std::move(options));
  if (!watcher.ok()) {
    KLOG(ERROR) << "Cannot watch the API server: " << watcher.status().message();
    ConnectServiceIds(writers, nullptr);
    return 1;
  }
  observer.metrics().SetReflectorStatsProvider([w = watcher->get()] {
    return std::vector<std::pair<std::string, k8s::ReflectorStats>>{{"services", w->services().stats()},
                                                                    {"endpointslices", w->endpoint_slices().stats()},
                                                                    {"nodes", w->node().stats()}};
  });
  // NodePorts follow the node's addresses: a secondary IP added, a DHCP
  // renumbering, a device that comes up.
  bool addresses_pending = false;  // Changed, but not applied yet.
  auto refresh = [&]() -> absl::Status {
    absl::StatusOr<Datapath::DeviceRefresh> refreshed = datapath.RefreshDevices();
    if (!refreshed.ok()) return refreshed.status();
    addresses_pending = addresses_pending || refreshed->addresses_changed;
    // The addresses are followed even when attaching to a device failed:
    // one bad device must not freeze the others' NodePorts.
    absl::Status status = refreshed->attach;
    if (!addresses_pending) return status;
    absl::StatusOr<ViewConfig> views = NodeViews(config, datapath);
    if (!views.ok()) return views.status();
    (*watcher)->SetNodePortAddresses(views->nodeport_addresses);
    observer.SetNodePortAddresses(HealthCheckAddresses(config, *views));
    addresses_pending = false;
    return status;
  };
  std::string last_error;
  int exit_code = 0;
  WaitForSignals(signals, nullptr, kDeviceRefreshPeriod, [&] {
    if (config_file.Changed()) {
      KLOG(ERROR) << "The configuration file " << config_file.path()
                  << " changed; exiting so that the new configuration takes effect (as kube-proxy does)";
      exit_code = 1;
      return false;
    }
    absl::Status status = refresh();
    // Once per distinct error: a device that is gone stays gone a while.
    if (!status.ok() && status.ToString() != last_error) {
      KLOG(ERROR) << "Reading the node's devices (NodePort addresses unchanged): " << status.message();
    }
    last_error = status.ok() ? "" : status.ToString();
    return true;
  });
  // The HTTP servers first: a scrape in flight may still be reading the
  // reflectors through the provider. Syncs that finish meanwhile still
  // report to the (stopped) observer, which outlives them.
  observer.Stop();
  observer.metrics().SetReflectorStatsProvider(nullptr);
  watcher->reset();  // Reflectors and the sync thread stop before the client and the observer go.
  ConnectServiceIds(writers, nullptr);
  client->reset();
  return exit_code;
}

DatapathConfig DatapathConfigOf(const DaemonConfig& config) {
  return DatapathConfig{.socket = config.datapath,
                        .socket_mode = config.socket_lb,
                        .per_packet_lb = config.per_packet_lb,
                        .devices = config.devices};
}

int Run(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  // What the --config file says, read before the configuration is loaded
  // from it: an edit between the two reads restarts the daemon once more
  // rather than going unnoticed.
  absl::StatusOr<DaemonConfig> flags = ParseFlags(args);
  const ConfigFileWatch config_file(flags.ok() ? flags->config_file : "");
  absl::StatusOr<DaemonConfig> config = LoadDaemonConfig(args);
  if (!config.ok()) {
    std::fprintf(stderr, "bpfproxy: %s\n%s", std::string(config.status().message()).c_str(), FlagsUsage().c_str());
    return 2;
  }
  if (config->help) {
    std::fputs(FlagsUsage().c_str(), stdout);
    return 0;
  }
  log::SetVerbosity(config->verbosity);
  LogConfigNotes(*config);
  if (!config->write_config_to.empty()) {
    absl::Status s = WriteKubeProxyConfiguration(*config, config->write_config_to);
    if (!s.ok()) KLOG(ERROR) << "Cannot write the configuration: " << s.message();
    return s.ok() ? 0 : 1;
  }
  if (config->cleanup) {
    absl::Status s = Datapath::Cleanup(config->datapath.bpf_root);
    if (!s.ok()) KLOG(ERROR) << "Cleanup failed: " << s.message();
    return s.ok() ? 0 : 1;
  }
  if (absl::Status s = ApplyOomScoreAdj(config->oom_score_adj); !s.ok()) KLOG(WARNING) << s.message();
  // Block the signals before any thread starts; sigwait below takes them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<Datapath>> datapath = Datapath::Open(DatapathConfigOf(*config));
  if (!datapath.ok()) {
    KLOG(ERROR) << "Cannot set up the datapath: " << datapath.status().message();
    return 1;
  }
  if (config->init_only) {
    KLOG(INFO) << "The datapath is set up (--init-only)";
    return 0;
  }
  absl::StatusOr<Writers> writers = OpenWriters(**datapath);
  if (!writers.ok()) {
    KLOG(ERROR) << "Cannot read the pinned maps: " << writers.status().message();
    return 1;
  }
  int status = 0;
  if (!config->frontends_file.empty()) {
    // Static ClusterIP-style frontends for the socket view; the per-packet
    // path needs Services (policies, NodePorts) and stays as it is.
    Apply(*writers->socket, config->frontends_file);
    WaitForSignals(signals, [&] { Apply(*writers->socket, config->frontends_file); });
  } else {
    status = WatchApiServer(*config, config_file, **datapath, *writers, signals);
  }
  KLOG(INFO) << "Exiting; the pinned datapath stays in place";
  return status;
}

}  // namespace
}  // namespace bpfproxy

int main(int argc, char** argv) { return bpfproxy::Run(argc, argv); }
