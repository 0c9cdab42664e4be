#include "proxy/api_watcher.h"

#include "absl/strings/str_cat.h"
#include "proxy/log.h"

namespace bpfproxy {

std::string ProxyLabelSelector(const std::string& service_proxy_name) {
  if (service_proxy_name.empty()) {
    return "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name";
  }
  return absl::StrCat("!service.kubernetes.io/headless,service.kubernetes.io/service-proxy-name=",
                      service_proxy_name);
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
          break;
      }
    }
    if (!s.ok()) {
      ++w_->rejected_;
      KLOG(WARNING) << "Skipping an object the proxy cannot use: " << s.message();
      return;
    }
    w_->proxier_->NotifyChanged();
  }

  ApiWatcher* w_;
  Kind kind_;
};

ApiWatcher::ApiWatcher(k8s::ApiClient* client, Reconciler* reconciler, ApiWatcherOptions options)
    : options_(std::move(options)), tracker_(TrackerConfig{.node_name = options_.node_name,
                                                           .service_proxy_name = options_.service_proxy_name}) {
  source_ = std::make_unique<TrackerSource>(&mu_, &tracker_);
  proxier_ = std::make_unique<Proxier>(source_.get(), reconciler, options_.proxier);
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

absl::StatusOr<std::unique_ptr<ApiWatcher>> ApiWatcher::Start(k8s::ApiClient* client, Reconciler* reconciler,
                                                               ApiWatcherOptions options) {
  if (options.node_name.empty()) return absl::InvalidArgumentError("the node name is empty");
  std::unique_ptr<ApiWatcher> w(new ApiWatcher(client, reconciler, std::move(options)));
  w->sync_thread_ = std::thread([p = w->proxier_.get()] { p->Run(); });
  w->node_->Start();
  w->services_->Start();
  w->slices_->Start();
  KLOG(INFO) << "Watching Services and EndpointSlices for node " << w->options_.node_name;
  return w;
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
