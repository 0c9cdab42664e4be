// What the control plane tells health checks and metrics, and when. The
// ApiWatcher calls these; the health servers and the metrics implement them.
// Calls come from the reflector threads (OnChangeQueued, OnNode) and the
// proxier's thread (OnSync); implementations lock.
#ifndef BPFPROXY_PROXY_SYNC_OBSERVER_H_
#define BPFPROXY_PROXY_SYNC_OBSERVER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "k8s/objects.h"
#include "proxy/ip_address.h"
#include "proxy/proxier.h"

namespace bpfproxy {

// A Service with spec.healthCheckNodePort (type LoadBalancer, eTP Local).
// kube-proxy runs one proxier per IP family, each counting only its own
// family's endpoints, so a dual-stack pod counts once on each family, and a
// probe sees the count of the family it arrived over.
struct HealthCheckService {
  std::string namespace_, name;
  uint16_t node_port = 0;  // spec.healthCheckNodePort
  // This node's ready endpoints of the Service's primary family
  // (ipFamilies[0]).
  size_t local_endpoints = 0;
  // Dual-stack Services: the secondary family's count.
  std::optional<size_t> secondary_local_endpoints;
  bool primary_ipv6 = false;  // The primary family is IPv6.

  // The count a probe arriving over IPv6 (|ipv6|) or IPv4 answers with:
  // its family's, or the primary family's when the Service has not got the
  // probe's family.
  size_t LocalEndpointsFor(bool ipv6) const {
    if (ipv6 != primary_ipv6 && secondary_local_endpoints.has_value()) return *secondary_local_endpoints;
    return local_endpoints;
  }
  bool operator==(const HealthCheckService&) const = default;
};

// Which Service owns a frontend of a view now (LB_VIEW_SOCKET: the socket
// maps, LB_VIEW_EXTERNAL: the per-packet maps): what names the datapath's
// per-frontend connection counters.
struct FrontendOwnerChange {
  uint8_t view = 0;  // LB_VIEW_*
  L4Address frontend;
  // The owner's namespace and name; both empty: no owner any more.
  std::string namespace_, name;
  bool operator==(const FrontendOwnerChange&) const = default;
};

// One sync that ran.
struct SyncStats {
  SyncReport report;
  absl::Time finished;
  // Changes this sync took from the tracker (kube-proxy's *_changes_total).
  size_t service_changes = 0;
  size_t endpoint_changes = 0;
  // last-change-trigger-time of the EndpointSlice changes this sync
  // programmed (for kubeproxy_network_programming_duration_seconds).
  std::vector<absl::Time> trigger_times;
  // Services with a Local traffic policy and no local endpoint
  // (kubeproxy_sync_proxy_rules_no_local_endpoints_total).
  size_t no_local_endpoints_internal = 0;
  size_t no_local_endpoints_external = 0;
  // Every Service with a health check node port, sorted by namespace/name.
  std::vector<HealthCheckService> health_checks;
  // Frontends whose owner changed since the last sync, in order.
  std::vector<FrontendOwnerChange> owner_changes;
};

class SyncObserver {
 public:
  virtual ~SyncObserver() = default;
  // A Service or EndpointSlice change arrived and is pending; the counts are
  // what is pending now (kube-proxy's QueuedUpdate, *_changes_pending).
  virtual void OnChangeQueued(absl::Time when, size_t pending_service_changes, size_t pending_endpoint_changes) {}
  virtual void OnSync(const SyncStats& stats) {}
  // This node's Node object (nullopt: deleted or not seen yet).
  virtual void OnNode(const std::optional<k8s::Node>& node) {}
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_SYNC_OBSERVER_H_
