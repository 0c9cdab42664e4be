// ServiceTracker: kube-proxy's ServiceChangeTracker and EndpointSliceCache
// in one. It holds the current Services, their EndpointSlices (by slice
// name) and this node's Node, and computes each Service's frontends in both
// views of the datapath (proxy/service_views.h: the socket view for pods and
// the node, the external view for clients outside) with kube-proxy's rules
// (shared/KUBE_PROXY_REFERENCE.md, pkg/proxy topology.go):
//   - ExternalName and headless Services program nothing; so do Services
//     kube-proxy's watch selector would not deliver (headless label,
//     service-proxy-name label other than TrackerConfig's);
//   - each IP family uses its own clusterIP and the slices of its
//     addressType; slices without the service-name label and FQDN slices are
//     ignored;
//   - Service ports match slice ports by name and protocol; the slice's port
//     is the target port; only addresses[0] counts; of duplicate IP:ports a
//     non-terminating one wins;
//   - cluster endpoints are the ready ones after topology filtering, else the
//     serving-and-terminating ones; local endpoints the same on this node;
//     internalTrafficPolicy Local uses the local ones; externalTrafficPolicy
//     Local (NodePort and LoadBalancer Services) the local ones for traffic
//     from outside.
//
// Verdicts: a frontend with no backends is in DesiredFrontends with an empty
// list, which the datapath answers with "connection refused" (kube-proxy's
// REJECT). When kube-proxy would DROP instead (a Local policy, no local
// endpoint, but usable endpoints elsewhere), the socket view lists the
// frontend in a separate |drop| set (the socket hooks can only refuse, so
// a caller refuses those connections), and the external view gives it
// LB_POL_F_DROP_NO_BACKEND. Keeping the frontend (rather than leaving it
// out) matters: without an entry, the traffic would leak to the network.
//
// Not thread-safe: the caller holds a mutex.
#ifndef BPFPROXY_PROXY_SERVICE_TRACKER_H_
#define BPFPROXY_PROXY_SERVICE_TRACKER_H_

#include <compare>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "k8s/objects.h"
#include "nlohmann/json.hpp"
#include "proxy/ip_address.h"
#include "proxy/reconciler.h"
#include "proxy/service_views.h"
#include "proxy/sync_observer.h"

namespace bpfproxy {

struct ServiceName {
  std::string namespace_, name;
  auto operator<=>(const ServiceName&) const = default;
  std::string ToString() const;  // "ns/name"
};

// Every field has an explicit default so that designated initializers may
// leave fields out (-Wmissing-field-initializers would reject it otherwise).
struct TrackerConfig {
  std::string node_name = "";  // --hostname-override: which endpoints are local.
  // kube-proxy's serviceProxyName: when set, only Services labelled
  // service.kubernetes.io/service-proxy-name=<it> are programmed; when empty,
  // only Services without that label.
  std::string service_proxy_name = "";
  // Trigger times before this are not reported: they predate the tracker
  // and would inflate the latency metric (kube-proxy does the same).
  // Unset: the time the tracker is constructed.
  std::optional<absl::Time> start_time = std::nullopt;
  // NodePort addresses and which views to compute.
  ViewConfig views = {};
};

struct FrontendChange {
  DesiredFrontends previous, current;
  // The |drop| sets that go with |previous| and |current|.
  absl::btree_set<L4Address> previous_drop, current_drop;
  // The external view (empty unless TrackerConfig::views.external_view).
  ExternalFrontends external_previous, external_current;
  bool operator==(const FrontendChange&) const = default;
};

class ServiceTracker {
 public:
  explicit ServiceTracker(TrackerConfig config);

  // Each returns an error (and changes nothing) for an object it cannot
  // decode. Deletes need only the object's namespace and name.
  absl::Status UpsertService(const nlohmann::json& object);
  absl::Status DeleteService(const nlohmann::json& object);
  absl::Status UpsertEndpointSlice(const nlohmann::json& object);
  absl::Status DeleteEndpointSlice(const nlohmann::json& object);
  absl::Status UpsertNode(const nlohmann::json& object);  // Only this node's object matters.
  absl::Status DeleteNode(const nlohmann::json& object);

  // The node's addresses that serve NodePorts changed (an address was added
  // or removed on a device): every Service with a NodePort is computed
  // again at the next TakeChanges(). Returns whether anything changed.
  bool SetNodePortAddresses(std::vector<IpAddress> addresses);

  // kube-proxy's checkout: for every Service whose computed frontends changed
  // since the last call, {what was returned before, what is true now}; a
  // deleted Service has an empty |current|. Services whose result is
  // unchanged are not returned. Resets the pending counts.
  absl::btree_map<ServiceName, FrontendChange> TakeChanges();

  // Everything true now (changes not yet taken included), for a full
  // resync: call TakeChanges() first so that later changes build on it. If
  // two Services claim one frontend (only possible for a moment, when a
  // ClusterIP is reused), the first by name wins.
  DesiredFrontends AllFrontends() const;
  absl::btree_set<L4Address> AllDropFrontends() const;
  ExternalFrontends AllExternalFrontends() const;
  // All three in one pass.
  ServiceFrontends AllViews() const;

  // Pending (not yet taken) changes, for metrics: Services whose trimmed
  // object differs from what the last TakeChanges() saw, and EndpointSlice
  // updates that changed a slice's ports or endpoints.
  size_t pending_service_changes() const { return service_changes_.size(); }
  size_t pending_endpoint_changes() const { return endpoint_changes_; }

  // last-change-trigger-time annotations of the EndpointSlice changes since
  // the last call, for the network programming latency metric, sorted.
  std::vector<absl::Time> TakeTriggerTimes();

  // The computed ports of one Service, sorted by family then port name
  // (empty when it programs nothing): for health checks and debugging.
  std::vector<ServicePortState> PortStates(const ServiceName& name) const;

  // As of the last TakeChanges(), so that they describe what was handed out
  // to be programmed: Service ports with a Local traffic policy and
  // endpoints, but none on this node (kube-proxy's
  // sync_proxy_rules_no_local_endpoints_total), and every Service with a
  // health check node port with its local ready endpoints, sorted by
  // namespace/name.
  size_t no_local_endpoints_internal() const { return no_local_internal_; }
  size_t no_local_endpoints_external() const { return no_local_external_; }
  std::vector<HealthCheckService> HealthCheckServices() const;
  // This node's Node object, once seen.
  const std::optional<k8s::Node>& node() const { return node_; }

 private:
  using SliceKey = std::pair<std::string, std::string>;  // Namespace, slice name.
  using SlicesByName = absl::btree_map<std::string, k8s::EndpointSlice>;

  bool Programmed(const k8s::Service& service) const;
  // Both views of |name|, whose ports are |states| (PortStates()).
  ServiceFrontends Compute(const ServiceName& name, const std::vector<ServicePortState>& states) const;
  // Records |name|'s status as of this checkout.
  void NoteStatus(const ServiceName& name, const std::vector<ServicePortState>& states);
  // Records a Service's new state (nullopt: gone) for the pending count.
  void NoteServiceChange(const ServiceName& name, const std::optional<k8s::Service>& now);
  // Removes a slice from the Service it belonged to, which it returns.
  std::optional<ServiceName> ForgetSlice(const SliceKey& key);
  void SetZone(const std::string& zone);

  TrackerConfig config_;  // Only views.nodeport_addresses changes.
  const absl::Time start_time_;
  absl::btree_map<ServiceName, k8s::Service> services_;
  // EndpointSlices by the Service they belong to, then by slice name.
  absl::btree_map<ServiceName, SlicesByName> slices_;
  // Which Service each slice belongs to, for deletes and relabels.
  absl::flat_hash_map<SliceKey, ServiceName> slice_owner_;
  std::optional<k8s::Node> node_;
  std::string zone_;  // This node's topology zone, "" when unknown.

  // What the last TakeChanges() returned per Service, and which Services
  // may have changed since.
  absl::btree_map<ServiceName, ServiceFrontends> taken_;
  absl::btree_set<ServiceName> dirty_;
  // Per Service with a pending change: its object at the last checkout.
  absl::btree_map<ServiceName, std::optional<k8s::Service>> service_changes_;
  size_t endpoint_changes_ = 0;
  absl::btree_map<ServiceName, std::vector<absl::Time>> trigger_times_;
  // Per Service whose status is not empty, as of the last checkout, and
  // the sums of its counts.
  absl::btree_map<ServiceName, ServiceStatus> status_;
  size_t no_local_internal_ = 0, no_local_external_ = 0;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_SERVICE_TRACKER_H_
