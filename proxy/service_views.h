// What one Service programs, in each of the two views of the datapath, with
// kube-proxy's rules (shared/KUBE_PROXY_REFERENCE.md). The ServiceTracker
// works out a Service's ports and endpoints; ComputeViews() turns them into
// frontends. Pure functions, no state.
//
// The socket view (cgroup hooks: pods and the node itself connecting):
//   - ClusterIP:port with the internalTrafficPolicy's endpoints; with
//     policy Local and no local endpoint (but endpoints elsewhere) the
//     frontend is also in |drop| (kube-proxy drops; the socket hooks refuse);
//   - NodeIP:nodePort on every NodePort address of the family, and
//     127.0.0.1:nodePort (IPv4, when localhost NodePorts are on), each
//     externalIP:port and LoadBalancer ingress IP:port (ipMode unset or
//     VIP): all with the cluster endpoints, whatever the
//     externalTrafficPolicy. Traffic from pods and the node falls back to
//     the cluster endpoints with policy Local too, as kube-proxy's does.
// The external view (tc on the node's devices: clients outside the node):
//   - NodeIP:nodePort (not 127.0.0.1), externalIPs, LB ingress IPs;
//     externalTrafficPolicy Cluster: the cluster endpoints, default policy
//     (source NAT to the node); Local (type NodePort or LoadBalancer only):
//     this node's endpoints with LB_POL_F_PRESERVE_SOURCE, and when there is
//     none but endpoints exist elsewhere, LB_POL_F_DROP_NO_BACKEND;
//   - LB ingress IPs of a Service with loadBalancerSourceRanges of their
//     family add LB_POL_F_SOURCE_RANGES with those ranges (kube-proxy
//     applies the ranges to LB IPs only); an address that is both an
//     externalIP and an LB IP is treated as the LB IP;
//   - with the socket hooks on the host only (--socket-lb=host-only), the
//     ClusterIPs too, with the internal policy's endpoints, the client's
//     source preserved (pods keep their IP) and DROP_NO_BACKEND where
//     kube-proxy drops;
//   - TCP and UDP only: the per-packet path translates nothing else (SCTP
//     is served through the socket view).
// No endpoints at all: the frontend stays with no backends, which the
// datapath answers with a refusal (kube-proxy's REJECT).
#ifndef BPFPROXY_PROXY_SERVICE_VIEWS_H_
#define BPFPROXY_PROXY_SERVICE_VIEWS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "k8s/objects.h"
#include "proxy/external_frontends.h"
#include "proxy/ip_address.h"
#include "proxy/reconciler.h"
#include "proxy/sync_observer.h"

namespace bpfproxy {

// The node-side inputs of the views. Every field has a default so that
// designated initializers may leave fields out.
struct ViewConfig {
  // The addresses NodePorts are served on, both families
  // (SelectNodePortAddresses() of --nodeport-addresses).
  std::vector<IpAddress> nodeport_addresses = {};
  // Serve NodePorts on 127.0.0.1 too (socket view only). kube-proxy does
  // when --nodeport-addresses is unset or covers the loopback range.
  bool localhost_nodeports = true;
  // Compute the external view at all; off (no per-packet path) it stays
  // empty.
  bool external_view = false;
  // --socket-lb=host-only: pods' sockets are not hooked, so the external
  // view also carries the ClusterIPs to translate their traffic per packet.
  bool cluster_ips_in_external_view = false;
};

// kube-proxy's CategorizeEndpoints for one Service port in one IP family.
// Each list is sorted and holds endpoint IP:targetPort/protocol.
struct CategorizedEndpoints {
  std::vector<L4Address> cluster;  // Ready (topology-filtered), else serving and terminating.
  std::vector<L4Address> local;    // The same rule on this node's endpoints.
  bool has_any = false;            // A ready or serving-terminating endpoint exists anywhere.
  bool operator==(const CategorizedEndpoints&) const = default;
};

// One Service port in one IP family with its endpoints: what every kind of
// frontend is computed from.
struct ServicePortState {
  std::string port_name;
  k8s::IpFamily family = k8s::IpFamily::kIPv4;
  L4Address cluster_ip;    // ClusterIP:port/protocol.
  uint16_t node_port = 0;  // 0: none.
  CategorizedEndpoints endpoints;
  // IPs of this node's ready endpoints (not terminating ones, not topology
  // filtered): what the health check node port counts.
  absl::btree_set<IpAddress> local_ready_ips;
  bool operator==(const ServicePortState&) const = default;
};

// What one Service programs.
struct ServiceFrontends {
  DesiredFrontends frontends;  // The socket view.
  // Frontends of |frontends| (all without backends) whose traffic kube-proxy
  // drops rather than rejects: the socket hooks can only refuse.
  absl::btree_set<L4Address> drop;
  ExternalFrontends external;  // The per-packet view.
  bool empty() const { return frontends.empty() && external.empty(); }
  bool operator==(const ServiceFrontends&) const = default;
};

// What health checks and metrics need to know about one Service.
struct ServiceStatus {
  // Service ports (per IP family) with a Local traffic policy, endpoints,
  // but none on this node: kube-proxy's no-local-endpoints counts.
  size_t no_local_endpoints_internal = 0;
  size_t no_local_endpoints_external = 0;
  // Set for a Service with spec.healthCheckNodePort (type LoadBalancer,
  // externalTrafficPolicy Local); its count is of distinct endpoint IPs.
  std::optional<HealthCheckService> health_check;
  bool empty() const {
    return no_local_endpoints_internal == 0 && no_local_endpoints_external == 0 && !health_check.has_value();
  }
  bool operator==(const ServiceStatus&) const = default;
};

// kube-proxy's ExternalPolicyLocal: the policy applies to NodePort and
// LoadBalancer Services only.
bool ExternalPolicyLocal(const k8s::Service& service);

// Both views of |service|, whose ports and endpoints are |ports|.
ServiceFrontends ComputeViews(const k8s::Service& service, const std::vector<ServicePortState>& ports,
                              const ViewConfig& config);
ServiceStatus ComputeStatus(const k8s::Service& service, const std::vector<ServicePortState>& ports);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_SERVICE_VIEWS_H_
