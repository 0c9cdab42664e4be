#include "proxy/api_watcher.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proxy/log.h"

namespace bpfproxy {

std::string ProxyLabelSelector(const std::string& service_proxy_name) {
  if (service_proxy_name.empty()) {
    return "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name";
  }
  return absl::StrCat("!service.kubernetes.io/headless,service.kubernetes.io/service-proxy-name=", service_proxy_name);
}

class ApiWatcher::Handler : public k8s::ObjectHandler {
 public:
  enum class Kind { kService, kEndpointSlice, kNode };
  Handler(ApiWatcher* w, Kind kind) : w_(w), kind_(kind) {}

  void OnUpsert(const nlohmann::json& object) override { Apply(object, /*remove=*/false); }
  void OnDelete(const nlohmann::json& object) override { Apply(object, /*remove=*/true); }
  void OnSynced() override {
    if (kind_ == Kind::kService) w_->proxier_->MarkSynced(Proxier::Resource::kServices);
    if (kind_ == Kind::kEndpointSlice) w_->proxier_->MarkSynced(Proxier::Resource::kEndpointSlices);
    // The Node only refines topology; waiting for it would stall a node
    // whose object cannot be read.
  }

 private:
  void Apply(const nlohmann::json& object, bool remove) {
    absl::Status s;
    std::optional<k8s::Node> node;
    SyncObserver* observer = w_->options_.observer;
    {
      absl::MutexLock lock(&w_->mu_);
      ServiceTracker& t = w_->tracker_;
      switch (kind_) {
        case Kind::kService:
          s = remove ? t.DeleteService(object) : t.UpsertService(object);
          break;
        case Kind::kEndpointSlice:
          s = remove ? t.DeleteEndpointSlice(object) : t.UpsertEndpointSlice(object);
          break;
        case Kind::kNode:
          s = remove ? t.DeleteNode(object) : t.UpsertNode(object);
          node = t.node();
          break;
      }
      // Under the tracker's lock, so that the sync that takes this change
      // (and reports OnSync) cannot come first. As kube-proxy's
      // QueuedUpdate: only once syncs can run (the initial LIST is not
      // "pending"), and only while something is pending.
      const size_t services = t.pending_service_changes(), endpoints = t.pending_endpoint_changes();
      if (s.ok() && observer != nullptr && kind_ != Kind::kNode && services + endpoints > 0 && w_->proxier_->ready()) {
        observer->OnChangeQueued(absl::Now(), services, endpoints);
      }
    }
    if (!s.ok()) {
      ++w_->rejected_;
      KLOG(WARNING) << "Skipping an object the proxy cannot use: " << s.message();
      return;
    }
    w_->proxier_->NotifyChanged();
    if (observer != nullptr && kind_ == Kind::kNode) observer->OnNode(node);
  }

  ApiWatcher* w_;
  Kind kind_;
};

namespace {

TrackerConfig TrackerConfigOf(const ApiWatcherOptions& options, const ProxierTargets& targets) {
  TrackerConfig config{
      .node_name = options.node_name, .service_proxy_name = options.service_proxy_name, .views = options.views};
  config.views.external_view = targets.external != nullptr && targets.policies != nullptr;
  return config;
}

}  // namespace

ApiWatcher::ApiWatcher(k8s::ApiClient* client, ProxierTargets targets, ApiWatcherOptions options)
    : options_(std::move(options)), tracker_(TrackerConfigOf(options_, targets)) {
  source_ = std::make_unique<TrackerSource>(&mu_, &tracker_);
  proxier_ = std::make_unique<Proxier>(source_.get(), targets, options_.proxier);
  proxier_->SetObserver([this](const SyncReport& report) { OnSync(report); });
  std::string selector = ProxyLabelSelector(options_.service_proxy_name);
  auto make = [&](Handler::Kind kind, k8s::ResourceRequest request) {
    handlers_.push_back(std::make_unique<Handler>(this, kind));
    return std::make_unique<k8s::Reflector>(client, std::move(request), handlers_.back().get(), options_.reflector);
  };
  services_ = make(Handler::Kind::kService,
                   {.path = "/api/v1/services", .label_selector = selector, .name_for_logs = "services"});
  slices_ = make(Handler::Kind::kEndpointSlice, {.path = "/apis/discovery.k8s.io/v1/endpointslices",
                                                 .label_selector = selector,
                                                 .name_for_logs = "endpointslices"});
  node_ = make(Handler::Kind::kNode, {.path = "/api/v1/nodes",
                                      .field_selector = absl::StrCat("metadata.name=", options_.node_name),
                                      .name_for_logs = "node"});
}

absl::StatusOr<std::unique_ptr<ApiWatcher>> ApiWatcher::Start(k8s::ApiClient* client, ProxierTargets targets,
                                                              ApiWatcherOptions options) {
  if (options.node_name.empty()) return absl::InvalidArgumentError("the node name is empty");
  if (targets.socket == nullptr) return absl::InvalidArgumentError("no reconciler for the socket view");
  if ((targets.external == nullptr) != (targets.policies == nullptr)) {
    return absl::InvalidArgumentError("the external view needs both its reconciler and its policy maps");
  }
  if (targets.external == nullptr && options.views.cluster_ips_in_external_view) {
    KLOG(WARNING) << "ClusterIPs are to be translated per packet, but the per-packet path is off: "
                     "pods' traffic to ClusterIPs is not translated";
  }
  std::unique_ptr<ApiWatcher> w(new ApiWatcher(client, targets, std::move(options)));
  w->sync_thread_ = std::thread([p = w->proxier_.get()] { p->Run(); });
  w->node_->Start();
  w->services_->Start();
  w->slices_->Start();
  KLOG(INFO) << "Watching Services and EndpointSlices for node " << w->options_.node_name;
  return w;
}

void ApiWatcher::SetNodePortAddresses(std::vector<IpAddress> addresses) {
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    changed = tracker_.SetNodePortAddresses(std::move(addresses));
  }
  if (changed) proxier_->NotifyChanged();
}

void ApiWatcher::OnSync(const SyncReport& report) {
  // Drained on every sync, observed or not, so that nothing piles up.
  TrackerSource::ChangeStats changes = source_->TakeChangeStats();
  if (options_.observer == nullptr) return;
  SyncStats stats;
  stats.report = report;
  stats.finished = absl::Now();
  stats.service_changes = changes.service_changes;
  stats.endpoint_changes = changes.endpoint_changes;
  stats.trigger_times = std::move(changes.trigger_times);
  stats.owner_changes = std::move(changes.owner_changes);
  {
    absl::MutexLock lock(&mu_);
    stats.no_local_endpoints_internal = tracker_.no_local_endpoints_internal();
    stats.no_local_endpoints_external = tracker_.no_local_endpoints_external();
    stats.health_checks = tracker_.HealthCheckServices();
  }
  options_.observer->OnSync(stats);
}

ApiWatcher::~ApiWatcher() {
  // Reflectors first: no handler runs once the proxier is gone.
  for (k8s::Reflector* r : {services_.get(), slices_.get(), node_.get()}) {
    if (r != nullptr) r->Stop();
  }
  proxier_->Stop();
  if (sync_thread_.joinable()) sync_thread_.join();
}

}  // namespace bpfproxy
