// ApiWatcher wires the API server to the datapath: three reflectors
// (Services, EndpointSlices, this Node) feed the ServiceTracker, and the
// Proxier applies what changed to the datapath's views on its own thread:
// the socket view always, the external view (per-packet path) when its
// reconciler and policy maps are given. A SyncObserver, if given, hears of
// queued changes, of every sync and of this node's Node object.
#ifndef BPFPROXY_PROXY_API_WATCHER_H_
#define BPFPROXY_PROXY_API_WATCHER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "k8s/api_client.h"
#include "k8s/reflector.h"
#include "proxy/proxier.h"
#include "proxy/reconciler.h"
#include "proxy/service_tracker.h"
#include "proxy/sync_observer.h"
#include "proxy/tracker_source.h"

namespace bpfproxy {

struct ApiWatcherOptions {
  std::string node_name;
  // kube-proxy's --service-proxy-name selection: empty selects Services with
  // no service.kubernetes.io/service-proxy-name label.
  std::string service_proxy_name;
  // NodePort addresses and the host-only ClusterIP switch. |external_view|
  // is ignored: Start() turns it on when the external targets are given.
  ViewConfig views;
  ProxierOptions proxier;
  k8s::ReflectorOptions reflector;
  // Not owned; may be null. Called from the reflectors' threads and the
  // sync thread (see sync_observer.h); must outlive the ApiWatcher.
  // OnChangeQueued() is called under the Service model's lock, before the
  // sync that takes the change can report it: it must be quick and must
  // not call back into the ApiWatcher.
  SyncObserver* observer = nullptr;
};

// The label selector kube-proxy lists Services and EndpointSlices with.
std::string ProxyLabelSelector(const std::string& service_proxy_name);

class ApiWatcher {
 public:
  // Starts the reflectors and the sync thread. |targets.socket| is
  // required; |targets.external| and |targets.policies| go together (both
  // null: no per-packet path). The targets must outlive the ApiWatcher.
  static absl::StatusOr<std::unique_ptr<ApiWatcher>> Start(k8s::ApiClient* client, ProxierTargets targets,
                                                           ApiWatcherOptions options);
  // The socket view only.
  static absl::StatusOr<std::unique_ptr<ApiWatcher>> Start(k8s::ApiClient* client, Reconciler* reconciler,
                                                           ApiWatcherOptions options) {
    return Start(client, ProxierTargets{.socket = reconciler}, std::move(options));
  }
  // Stops the reflectors, then the sync thread. Nothing is flushed.
  ~ApiWatcher();
  ApiWatcher(const ApiWatcher&) = delete;
  ApiWatcher& operator=(const ApiWatcher&) = delete;

  const k8s::Reflector& services() const { return *services_; }
  const k8s::Reflector& endpoint_slices() const { return *slices_; }
  const k8s::Reflector& node() const { return *node_; }
  // The node's NodePort addresses changed (see Datapath::RefreshDevices()):
  // the Services with NodePorts are recomputed and the next sync applies
  // the difference. Thread-safe.
  void SetNodePortAddresses(std::vector<IpAddress> addresses);

  // Objects the tracker rejected, per resource (logged and skipped).
  int64_t rejected_objects() const { return rejected_; }

 private:
  class Handler;

  ApiWatcher(k8s::ApiClient* client, ProxierTargets targets, ApiWatcherOptions options);
  // The proxier's observer: fills SyncStats for |options_.observer|.
  void OnSync(const SyncReport& report);

  ApiWatcherOptions options_;
  absl::Mutex mu_;  // Guards the tracker: reflector threads write, the proxier reads.
  ServiceTracker tracker_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<TrackerSource> source_;
  std::unique_ptr<Proxier> proxier_;
  std::vector<std::unique_ptr<Handler>> handlers_;
  std::unique_ptr<k8s::Reflector> services_, slices_, node_;
  std::thread sync_thread_;
  std::atomic<int64_t> rejected_{0};
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_API_WATCHER_H_
