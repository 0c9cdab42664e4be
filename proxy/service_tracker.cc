#include "proxy/service_tracker.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"

namespace bpfproxy {
namespace {

// One endpoint of one Service port, as CategorizeEndpoints sees it.
struct EndpointInfo {
  bool ready = false;
  bool serving = false;
  bool terminating = false;
  bool local = false;
  const k8s::Endpoint* source = nullptr;  // For its hints; owned by the cache.
};
using EndpointSet = absl::btree_map<L4Address, EndpointInfo>;
using SlicesByName = absl::btree_map<std::string, k8s::EndpointSlice>;

// kube-proxy's EndpointSliceCache.addEndpoints, for the Service port |port|:
// the endpoints of the slices of |type| whose port has the same name and
// protocol, at that slice port's number, keyed by IP:port.
EndpointSet CollectEndpoints(const SlicesByName& slices, k8s::AddressType type, const k8s::ServicePort& port,
                             const std::string& node_name) {
  EndpointSet endpoints;
  for (const auto& [slice_name, slice] : slices) {
    if (slice.address_type != type) continue;
    for (const k8s::EndpointPort& slice_port : slice.ports) {
      // Port 0 (unset) would mean "all ports", which kube-proxy ignores too.
      if (slice_port.name != port.name || slice_port.protocol != port.protocol || slice_port.port == 0) continue;
      for (const k8s::Endpoint& endpoint : slice.endpoints) {
        if (endpoint.addresses.empty()) continue;
        const L4Address address{endpoint.addresses[0], slice_port.port, port.protocol};
        const EndpointInfo info{endpoint.conditions.ready, endpoint.conditions.serving, endpoint.conditions.terminating,
                                !node_name.empty() && endpoint.node_name == node_name, &endpoint};
        auto [it, inserted] = endpoints.try_emplace(address, info);
        // Two endpoints share an IP when the pod network reuses a terminating
        // pod's IP: the running pod wins. Otherwise (an endpoint seen in two
        // slices while it moves) the first by slice name stays, so the
        // result does not depend on the order updates arrived in.
        if (!inserted && it->second.terminating && !info.terminating) it->second = info;
      }
    }
  }
  return endpoints;
}

enum class TopologyMode { kNone, kNode, kZone };

// topology.go topologyModeFromHints: hints count only if every ready
// endpoint has one and one of them is for this node (or its zone).
TopologyMode TopologyModeFromHints(const EndpointSet& endpoints, const std::string& node_name,
                                   const std::string& zone) {
  bool all_node_hints = true, node_match = false, all_zone_hints = true, zone_match = false;
  for (const auto& [address, ep] : endpoints) {
    if (!ep.ready) continue;
    const std::vector<std::string>& node_hints = ep.source->node_hints;
    const std::vector<std::string>& zone_hints = ep.source->zone_hints;
    if (node_hints.empty()) all_node_hints = false;
    if (!node_name.empty() && absl::c_linear_search(node_hints, node_name)) node_match = true;
    if (zone_hints.empty()) all_zone_hints = false;
    if (!zone.empty() && absl::c_linear_search(zone_hints, zone)) zone_match = true;
  }
  if (all_node_hints && node_match) return TopologyMode::kNode;
  if (all_zone_hints && zone_match) return TopologyMode::kZone;
  return TopologyMode::kNone;
}

bool AvailableForTopology(const EndpointInfo& ep, TopologyMode mode, const std::string& node_name,
                          const std::string& zone) {
  switch (mode) {
    case TopologyMode::kNone:
      return true;
    case TopologyMode::kNode:
      return absl::c_linear_search(ep.source->node_hints, node_name);
    case TopologyMode::kZone:
      return absl::c_linear_search(ep.source->zone_hints, zone);
  }
  return false;
}

// topology.go CategorizeEndpoints, computing both the cluster and the local
// set. The serving-terminating fallback ignores topology, as upstream does:
// it is a best effort not to drop connections.
CategorizedEndpoints Categorize(const EndpointSet& endpoints, const std::string& node_name, const std::string& zone) {
  const TopologyMode mode = TopologyModeFromHints(endpoints, node_name, zone);
  CategorizedEndpoints out;
  std::vector<L4Address> cluster_fallback, local_fallback;
  for (const auto& [address, ep] : endpoints) {
    if (ep.ready) {
      out.has_any = true;
      if (AvailableForTopology(ep, mode, node_name, zone)) out.cluster.push_back(address);
      if (ep.local) out.local.push_back(address);
    } else if (ep.serving && ep.terminating) {
      out.has_any = true;
      cluster_fallback.push_back(address);
      if (ep.local) local_fallback.push_back(address);
    }
  }
  if (out.cluster.empty()) out.cluster = std::move(cluster_fallback);
  if (out.local.empty()) out.local = std::move(local_fallback);
  return out;
}

// Equal as far as the endpoints are concerned: metadata (resourceVersion,
// trigger time) changes on every write and would count as a change.
bool SameEndpoints(const k8s::EndpointSlice& a, const k8s::EndpointSlice& b) {
  return a.address_type == b.address_type && a.ports == b.ports && a.endpoints == b.endpoints;
}

bool SameService(const std::optional<k8s::Service>& a, const std::optional<k8s::Service>& b) {
  if (!a.has_value() || !b.has_value()) return a.has_value() == b.has_value();
  k8s::Service a_without_version = *a;
  a_without_version.meta.resource_version = b->meta.resource_version;
  return a_without_version == *b;
}

// The IPs of this node's ready endpoints: the health check counts those,
// not terminating ones, and ignores topology.
absl::btree_set<IpAddress> LocalReadyIps(const EndpointSet& endpoints) {
  absl::btree_set<IpAddress> ips;
  for (const auto& [address, ep] : endpoints) {
    if (ep.ready && ep.local) ips.insert(address.ip);
  }
  return ips;
}

}  // namespace

std::string ServiceName::ToString() const { return absl::StrCat(namespace_, "/", name); }

ServiceTracker::ServiceTracker(TrackerConfig config)
    : config_(std::move(config)), start_time_(config_.start_time.value_or(absl::Now())) {}

// ---- Services ----

bool ServiceTracker::Programmed(const k8s::Service& service) const {
  if (service.type == k8s::ServiceType::kExternalName || service.headless || service.cluster_ips.empty()) {
    return false;
  }
  // kube-proxy's watch selector; applied here too so that a reflector
  // without it cannot program Services meant for another proxy.
  if (service.headless_label) return false;
  if (config_.service_proxy_name.empty()) return !service.service_proxy_name_label.has_value();
  return service.service_proxy_name_label == config_.service_proxy_name;
}

void ServiceTracker::NoteServiceChange(const ServiceName& name, const std::optional<k8s::Service>& now) {
  auto current = services_.find(name);
  std::optional<k8s::Service> before;
  if (current != services_.end()) before = current->second;
  auto [it, inserted] = service_changes_.try_emplace(name, std::move(before));
  // Back to what the last checkout saw: nothing is pending any more.
  if (SameService(it->second, now)) service_changes_.erase(it);
}

absl::Status ServiceTracker::UpsertService(const nlohmann::json& object) {
  absl::StatusOr<k8s::Service> service = k8s::DecodeService(object);
  if (!service.ok()) return service.status();
  ServiceName name{service->meta.namespace_, service->meta.name};
  NoteServiceChange(name, *service);
  services_.insert_or_assign(name, *std::move(service));
  dirty_.insert(std::move(name));
  return absl::OkStatus();
}

absl::Status ServiceTracker::DeleteService(const nlohmann::json& object) {
  absl::StatusOr<k8s::ObjectMeta> meta = k8s::DecodeObjectMeta(object, "Service");
  if (!meta.ok()) return meta.status();
  ServiceName name{meta->namespace_, meta->name};
  NoteServiceChange(name, std::nullopt);
  services_.erase(name);
  dirty_.insert(std::move(name));
  return absl::OkStatus();
}

// ---- EndpointSlices ----

std::optional<ServiceName> ServiceTracker::ForgetSlice(const SliceKey& key) {
  auto owner = slice_owner_.find(key);
  if (owner == slice_owner_.end()) return std::nullopt;
  ServiceName service = owner->second;
  slice_owner_.erase(owner);
  auto slices = slices_.find(service);
  if (slices != slices_.end()) {
    slices->second.erase(key.second);
    if (slices->second.empty()) slices_.erase(slices);
  }
  dirty_.insert(service);
  return service;
}

absl::Status ServiceTracker::UpsertEndpointSlice(const nlohmann::json& object) {
  absl::StatusOr<k8s::EndpointSlice> slice = k8s::DecodeEndpointSlice(object);
  if (!slice.ok()) return slice.status();
  const SliceKey key{slice->meta.namespace_, slice->meta.name};
  // Slices without the label belong to no Service; FQDN slices are not
  // something a proxy can use.
  std::optional<ServiceName> owner;
  if (!slice->service_name.empty() && slice->address_type != k8s::AddressType::kFqdn) {
    owner = ServiceName{key.first, slice->service_name};
  }
  bool changed = false;
  auto previous_owner = slice_owner_.find(key);
  if (previous_owner != slice_owner_.end() && previous_owner->second != owner) changed = ForgetSlice(key).has_value();
  if (owner.has_value()) {
    SlicesByName& slices = slices_[*owner];
    auto it = slices.find(key.second);
    if (it == slices.end() || !SameEndpoints(it->second, *slice)) {
      changed = true;
      dirty_.insert(*owner);
      const std::optional<absl::Time>& t = slice->last_change_trigger_time;
      if (t.has_value() && *t > start_time_) trigger_times_[*owner].push_back(*t);
    }
    slices.insert_or_assign(key.second, *std::move(slice));
    slice_owner_.insert_or_assign(key, *owner);
  }
  if (changed) ++endpoint_changes_;
  return absl::OkStatus();
}

absl::Status ServiceTracker::DeleteEndpointSlice(const nlohmann::json& object) {
  absl::StatusOr<k8s::ObjectMeta> meta = k8s::DecodeObjectMeta(object, "EndpointSlice");
  if (!meta.ok()) return meta.status();
  std::optional<ServiceName> owner = ForgetSlice({meta->namespace_, meta->name});
  if (!owner.has_value()) return absl::OkStatus();
  ++endpoint_changes_;
  // A deleted slice's trigger time is that of its last update, not of the
  // deletion: kube-proxy drops the Service's pending times rather than
  // report a wrong latency.
  trigger_times_.erase(*owner);
  return absl::OkStatus();
}

// ---- Node ----

void ServiceTracker::SetZone(const std::string& zone) {
  if (zone == zone_) return;
  zone_ = zone;
  // Topology hints are matched against the zone: any Service with
  // endpoints may change.
  for (const auto& [name, slices] : slices_) dirty_.insert(name);
}

bool ServiceTracker::SetNodePortAddresses(std::vector<IpAddress> addresses) {
  if (addresses == config_.views.nodeport_addresses) return false;
  config_.views.nodeport_addresses = std::move(addresses);
  for (const auto& [name, service] : services_) {
    if (absl::c_any_of(service.ports, [](const k8s::ServicePort& port) { return port.node_port != 0; })) {
      dirty_.insert(name);
    }
  }
  return true;
}

absl::Status ServiceTracker::UpsertNode(const nlohmann::json& object) {
  absl::StatusOr<k8s::Node> node = k8s::DecodeNode(object);
  if (!node.ok()) return node.status();
  if (node->meta.name != config_.node_name) return absl::OkStatus();
  SetZone(node->zone);
  node_ = *std::move(node);
  return absl::OkStatus();
}

absl::Status ServiceTracker::DeleteNode(const nlohmann::json& object) {
  absl::StatusOr<k8s::ObjectMeta> meta = k8s::DecodeObjectMeta(object, "Node");
  if (!meta.ok()) return meta.status();
  if (meta->name != config_.node_name) return absl::OkStatus();
  node_.reset();
  SetZone("");
  return absl::OkStatus();
}

// ---- Computing frontends ----

std::vector<ServicePortState> ServiceTracker::PortStates(const ServiceName& name) const {
  auto service_it = services_.find(name);
  if (service_it == services_.end() || !Programmed(service_it->second)) return {};
  const k8s::Service& service = service_it->second;
  static const SlicesByName* const kNoSlices = new SlicesByName();
  auto slices_it = slices_.find(name);
  const SlicesByName& slices = slices_it == slices_.end() ? *kNoSlices : slices_it->second;
  std::vector<ServicePortState> states;
  for (k8s::IpFamily family : {k8s::IpFamily::kIPv4, k8s::IpFamily::kIPv6}) {
    std::optional<IpAddress> cluster_ip = service.ClusterIp(family);
    if (!cluster_ip.has_value()) continue;
    const k8s::AddressType type = family == k8s::IpFamily::kIPv4 ? k8s::AddressType::kIPv4 : k8s::AddressType::kIPv6;
    for (const k8s::ServicePort& port : service.ports) {
      EndpointSet endpoints = CollectEndpoints(slices, type, port, config_.node_name);
      states.push_back(ServicePortState{port.name, family, L4Address{*cluster_ip, port.port, port.protocol},
                                        port.node_port, Categorize(endpoints, config_.node_name, zone_),
                                        LocalReadyIps(endpoints)});
    }
  }
  absl::c_stable_sort(states, [](const ServicePortState& a, const ServicePortState& b) {
    return std::tie(a.family, a.port_name) < std::tie(b.family, b.port_name);
  });
  return states;
}

ServiceFrontends ServiceTracker::Compute(const ServiceName& name, const std::vector<ServicePortState>& states) const {
  if (states.empty()) return {};
  return ComputeViews(services_.at(name), states, config_.views);
}

void ServiceTracker::NoteStatus(const ServiceName& name, const std::vector<ServicePortState>& states) {
  ServiceStatus now;
  if (!states.empty()) now = ComputeStatus(services_.at(name), states);
  auto it = status_.find(name);
  if (it != status_.end()) {
    no_local_internal_ -= it->second.no_local_endpoints_internal;
    no_local_external_ -= it->second.no_local_endpoints_external;
    status_.erase(it);
  }
  if (now.empty()) return;
  no_local_internal_ += now.no_local_endpoints_internal;
  no_local_external_ += now.no_local_endpoints_external;
  status_.emplace(name, std::move(now));
}

absl::btree_map<ServiceName, FrontendChange> ServiceTracker::TakeChanges() {
  absl::btree_map<ServiceName, FrontendChange> changes;
  static const ServiceFrontends* const kNothing = new ServiceFrontends();
  for (const ServiceName& name : dirty_) {
    const std::vector<ServicePortState> states = PortStates(name);
    NoteStatus(name, states);
    ServiceFrontends now = Compute(name, states);
    auto taken = taken_.find(name);
    const ServiceFrontends& before = taken == taken_.end() ? *kNothing : taken->second;
    if (now == before) continue;
    changes.emplace(
        name, FrontendChange{before.frontends, now.frontends, before.drop, now.drop, before.external, now.external});
    if (now.empty()) {
      taken_.erase(taken);
    } else {
      taken_.insert_or_assign(name, std::move(now));
    }
  }
  dirty_.clear();
  service_changes_.clear();
  endpoint_changes_ = 0;
  return changes;
}

ServiceFrontends ServiceTracker::AllViews() const {
  ServiceFrontends all;
  for (const auto& [name, service] : services_) {
    ServiceFrontends one = Compute(name, PortStates(name));
    for (auto& [frontend, backends] : one.frontends) {
      // First by name wins: see AllFrontends().
      if (!all.frontends.try_emplace(frontend, std::move(backends)).second) continue;
      if (one.drop.contains(frontend)) all.drop.insert(frontend);
    }
    for (auto& [frontend, backends] : one.external.frontends) {
      if (all.external.frontends.contains(frontend)) continue;
      all.external.Set(frontend, std::move(backends), one.external.PolicyOf(frontend));
    }
  }
  return all;
}

DesiredFrontends ServiceTracker::AllFrontends() const { return AllViews().frontends; }

absl::btree_set<L4Address> ServiceTracker::AllDropFrontends() const { return AllViews().drop; }

ExternalFrontends ServiceTracker::AllExternalFrontends() const { return AllViews().external; }

std::vector<HealthCheckService> ServiceTracker::HealthCheckServices() const {
  std::vector<HealthCheckService> out;
  for (const auto& [name, status] : status_) {
    if (status.health_check.has_value()) out.push_back(*status.health_check);
  }
  return out;
}

std::vector<absl::Time> ServiceTracker::TakeTriggerTimes() {
  std::vector<absl::Time> times;
  for (auto& [name, service_times] : trigger_times_)
    times.insert(times.end(), service_times.begin(), service_times.end());
  trigger_times_.clear();
  absl::c_sort(times);
  return times;
}

}  // namespace bpfproxy
