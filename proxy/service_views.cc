#include "proxy/service_views.h"

#include <utility>

#include "absl/algorithm/container.h"
#include "bpfproxy/lb_abi.h"

namespace bpfproxy {
namespace {

const IpAddress& Localhost4() {
  static const IpAddress* const kLocalhost = new IpAddress(IpAddress::Parse("127.0.0.1").value());
  return *kLocalhost;
}

// The addresses of |family| among |ips|, in order.
std::vector<IpAddress> OfFamily(const std::vector<IpAddress>& ips, k8s::IpFamily family) {
  std::vector<IpAddress> out;
  for (const IpAddress& ip : ips) {
    if (k8s::FamilyOf(ip) == family) out.push_back(ip);
  }
  return out;
}

// status.loadBalancer.ingress[].ip of |family|; kube-proxy programs only
// those whose ipMode is unset or VIP (Proxy: the load balancer forwards to
// the node's addresses itself, so the IP must not be captured here).
std::vector<IpAddress> LoadBalancerIps(const k8s::Service& service, k8s::IpFamily family) {
  std::vector<IpAddress> out;
  for (const k8s::LoadBalancerIngress& ingress : service.load_balancer_ingress) {
    if (ingress.ip_mode == k8s::LoadBalancerIpMode::kProxy) continue;
    if (k8s::FamilyOf(ingress.ip) == family) out.push_back(ingress.ip);
  }
  return out;
}

// The frontends on |ips| of one Service port: IP:port/protocol.
std::vector<L4Address> On(const std::vector<IpAddress>& ips, uint16_t port, Protocol proto) {
  std::vector<L4Address> out;
  for (const IpAddress& ip : ips) out.push_back(L4Address{ip, port, proto});
  return out;
}

// The frontends traffic from outside may reach one Service port on: its
// NodePorts on the node's addresses, externalIPs and LB IPs (kept apart:
// only the LB IPs take source ranges).
struct ExternalAddresses {
  std::vector<L4Address> node_ports;
  std::vector<L4Address> external_ips;
  std::vector<L4Address> load_balancer_ips;
};

ExternalAddresses ExternalAddressesOf(const k8s::Service& service, const ServicePortState& port,
                                      const ViewConfig& config) {
  const L4Address& cluster = port.cluster_ip;
  ExternalAddresses out;
  if (port.node_port != 0) {
    out.node_ports = On(OfFamily(config.nodeport_addresses, port.family), port.node_port, cluster.proto);
  }
  out.external_ips = On(OfFamily(service.external_ips, port.family), cluster.port, cluster.proto);
  out.load_balancer_ips = On(LoadBalancerIps(service, port.family), cluster.port, cluster.proto);
  return out;
}

void AddSocketView(const k8s::Service& service, const ServicePortState& port, const ViewConfig& config,
                   ServiceFrontends& out) {
  const CategorizedEndpoints& endpoints = port.endpoints;
  const bool internal_local = service.internal_traffic_policy == k8s::TrafficPolicy::kLocal;
  // The ClusterIP first: should another address of this Service equal it
  // (nonsense, but not rejected by the API), the ClusterIP's rule stands.
  out.frontends.insert_or_assign(port.cluster_ip, internal_local ? endpoints.local : endpoints.cluster);
  // kube-proxy: no endpoints at all is REJECT; endpoints, but none on this
  // node with internalTrafficPolicy Local, is DROP.
  if (internal_local && endpoints.local.empty() && endpoints.has_any) out.drop.insert(port.cluster_ip);

  ExternalAddresses external = ExternalAddressesOf(service, port, config);
  if (port.node_port != 0 && port.family == k8s::IpFamily::kIPv4 && config.localhost_nodeports) {
    external.node_ports.push_back(L4Address{Localhost4(), port.node_port, port.cluster_ip.proto});
  }
  for (const std::vector<L4Address>* list :
       {&external.node_ports, &external.external_ips, &external.load_balancer_ips}) {
    for (const L4Address& frontend : *list) out.frontends.try_emplace(frontend, endpoints.cluster);
  }
}

// Source ranges of |family| for the LB IPs, in canonical form; empty: every
// source is allowed (kube-proxy filters the ranges per family too).
std::vector<IpPrefix> SourceRangesOf(const k8s::Service& service, k8s::IpFamily family) {
  FrontendPolicy policy;
  for (const IpPrefix& range : service.load_balancer_source_ranges) {
    if (k8s::FamilyOf(range.address) == family) policy.source_ranges.push_back(range);
  }
  return policy.Canonical().source_ranges;
}

// The policy flags for a frontend whose traffic goes to |local_only|
// endpoints (preserving the client's address) or to the cluster's.
uint16_t PolicyFlags(bool local_only, const CategorizedEndpoints& endpoints) {
  if (!local_only) return 0;
  uint16_t flags = LB_POL_F_PRESERVE_SOURCE;
  // Endpoints exist, just not here: kube-proxy drops rather than rejects.
  if (endpoints.local.empty() && endpoints.has_any) flags |= LB_POL_F_DROP_NO_BACKEND;
  return flags;
}

bool PerPacketProtocol(Protocol proto) { return proto == Protocol::kTcp || proto == Protocol::kUdp; }

void AddExternalView(const k8s::Service& service, const ServicePortState& port, const ViewConfig& config,
                     ExternalFrontends& out) {
  if (!PerPacketProtocol(port.cluster_ip.proto)) return;
  const CategorizedEndpoints& endpoints = port.endpoints;
  if (config.cluster_ips_in_external_view) {
    const bool internal_local = service.internal_traffic_policy == k8s::TrafficPolicy::kLocal;
    FrontendPolicy policy{.flags =
                              static_cast<uint16_t>(LB_POL_F_PRESERVE_SOURCE | PolicyFlags(internal_local, endpoints))};
    out.Set(port.cluster_ip, internal_local ? endpoints.local : endpoints.cluster, std::move(policy));
  }
  const bool external_local = ExternalPolicyLocal(service);
  const std::vector<L4Address>& backends = external_local ? endpoints.local : endpoints.cluster;
  const FrontendPolicy base{.flags = PolicyFlags(external_local, endpoints)};
  const ExternalAddresses external = ExternalAddressesOf(service, port, config);
  for (const std::vector<L4Address>* list : {&external.node_ports, &external.external_ips}) {
    for (const L4Address& frontend : *list) {
      if (!out.frontends.contains(frontend)) out.Set(frontend, backends, base);
    }
  }
  FrontendPolicy load_balancer = base;
  load_balancer.source_ranges = SourceRangesOf(service, port.family);
  if (!load_balancer.source_ranges.empty()) load_balancer.flags |= LB_POL_F_SOURCE_RANGES;
  // Set() replaces an externalIP on the same address: the LB IP's ranges
  // must not be lost to a second spelling of the address.
  for (const L4Address& frontend : external.load_balancer_ips) {
    if (!(config.cluster_ips_in_external_view && frontend == port.cluster_ip)) {
      out.Set(frontend, backends, load_balancer);
    }
  }
}

}  // namespace

bool ExternalPolicyLocal(const k8s::Service& service) {
  if (service.type != k8s::ServiceType::kNodePort && service.type != k8s::ServiceType::kLoadBalancer) return false;
  return service.external_traffic_policy == k8s::TrafficPolicy::kLocal;
}

ServiceFrontends ComputeViews(const k8s::Service& service, const std::vector<ServicePortState>& ports,
                              const ViewConfig& config) {
  ServiceFrontends out;
  for (const ServicePortState& port : ports) {
    AddSocketView(service, port, config, out);
    if (config.external_view) AddExternalView(service, port, config, out.external);
  }
  return out;
}

ServiceStatus ComputeStatus(const k8s::Service& service, const std::vector<ServicePortState>& ports) {
  ServiceStatus status;
  const bool internal_local = service.internal_traffic_policy == k8s::TrafficPolicy::kLocal;
  const bool external_local = ExternalPolicyLocal(service);
  absl::btree_set<IpAddress> local_ready;
  for (const ServicePortState& port : ports) {
    const CategorizedEndpoints& endpoints = port.endpoints;
    if (endpoints.has_any && endpoints.local.empty()) {
      if (internal_local) ++status.no_local_endpoints_internal;
      if (external_local) ++status.no_local_endpoints_external;
    }
    local_ready.insert(port.local_ready_ips.begin(), port.local_ready_ips.end());
  }
  // kube-proxy's NeedsHealthCheck: LoadBalancer with the Local policy.
  if (service.type == k8s::ServiceType::kLoadBalancer && external_local && service.health_check_node_port != 0) {
    // Counted per family, as kube-proxy's per-family proxiers count.
    const auto count = [&local_ready](bool ipv6) {
      return static_cast<size_t>(absl::c_count_if(local_ready, [ipv6](const IpAddress& ip) { return ip.is_v4() != ipv6; }));
    };
    const bool primary_ipv6 = !service.ip_families.empty()
                                  ? service.ip_families.front() == k8s::IpFamily::kIPv6
                                  : !service.cluster_ips.empty() && !service.cluster_ips.front().is_v4();
    HealthCheckService check{.namespace_ = service.meta.namespace_,
                             .name = service.meta.name,
                             .node_port = service.health_check_node_port,
                             .local_endpoints = count(primary_ipv6),
                             .primary_ipv6 = primary_ipv6};
    if (service.ip_families.size() > 1) check.secondary_local_endpoints = count(!primary_ipv6);
    status.health_check = std::move(check);
  }
  return status;
}

}  // namespace bpfproxy
