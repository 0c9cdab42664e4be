// Decoding of the API objects the proxy watches (v1 Service,
// discovery.k8s.io/v1 EndpointSlice, v1 Node) into structs trimmed to the
// fields kube-proxy uses.
//
// Decoding never throws and never trusts its input: a field of the wrong
// type, a number out of range, an address that does not parse or an unknown
// enum value answers InvalidArgument naming the object ("Service ns/name")
// and the field ("spec.ports[1].port"). Absent and JSON-null fields take the
// API server's defaults. A few fields are advisory and are ignored rather
// than rejected when their *content* is bad, as kube-proxy does; each says so
// below.
#ifndef BPFPROXY_K8S_OBJECTS_H_
#define BPFPROXY_K8S_OBJECTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "proxy/ip_address.h"

namespace bpfproxy::k8s {

// Label and annotation keys the proxy reads.
inline constexpr char kLabelServiceName[] = "kubernetes.io/service-name";
inline constexpr char kLabelServiceProxyName[] = "service.kubernetes.io/service-proxy-name";
inline constexpr char kLabelHeadless[] = "service.kubernetes.io/headless";
inline constexpr char kLabelTopologyZone[] = "topology.kubernetes.io/zone";
inline constexpr char kAnnotationLastChangeTriggerTime[] = "endpoints.kubernetes.io/last-change-trigger-time";
inline constexpr char kTaintToBeDeletedByClusterAutoscaler[] = "ToBeDeletedByClusterAutoscaler";

enum class IpFamily { kIPv4, kIPv6 };
absl::string_view IpFamilyName(IpFamily family);  // "IPv4", "IPv6"
IpFamily FamilyOf(const IpAddress& ip);

struct ObjectMeta {
  std::string namespace_;  // Empty for cluster-scoped objects (Node).
  std::string name;
  std::string resource_version;
  // "ns/name", or "name" without a namespace: how logs and errors name it.
  std::string Key() const;
  bool operator==(const ObjectMeta&) const = default;
};

// ---- v1 Service ----

enum class ServiceType { kClusterIP, kNodePort, kLoadBalancer, kExternalName };
enum class TrafficPolicy { kCluster, kLocal };
enum class SessionAffinity { kNone, kClientIP };
// status.loadBalancer.ingress[].ipMode; unset behaves as kVip.
enum class LoadBalancerIpMode { kUnset, kVip, kProxy };

inline constexpr uint32_t kDefaultSessionAffinityTimeoutSeconds = 10800;

struct ServicePort {
  std::string name;  // "" for a Service's only, unnamed port.
  Protocol protocol = Protocol::kTcp;
  uint16_t port = 0;
  // targetPort: a number, or the name of a container port. Informational:
  // the proxy takes the target port from the EndpointSlice. Absent = port.
  uint16_t target_port = 0;
  std::string target_port_name;
  uint16_t node_port = 0;  // 0: none.
  bool operator==(const ServicePort&) const = default;
};

struct LoadBalancerIngress {
  IpAddress ip;  // Hostname-only entries are dropped: kube-proxy ignores them.
  LoadBalancerIpMode ip_mode = LoadBalancerIpMode::kUnset;
  bool operator==(const LoadBalancerIngress&) const = default;
};

using IpPrefix = bpfproxy::IpPrefix;

struct Service {
  ObjectMeta meta;
  // The labels kube-proxy's watch selector looks at.
  std::optional<std::string> service_proxy_name_label;
  bool headless_label = false;

  ServiceType type = ServiceType::kClusterIP;
  // spec.clusterIPs (spec.clusterIP when that is absent), parsed; empty when
  // headless ("None") or unallocated (""), e.g. for ExternalName.
  std::vector<IpAddress> cluster_ips;
  bool headless = false;  // clusterIP "None".
  std::vector<IpFamily> ip_families;
  std::vector<ServicePort> ports;
  std::vector<IpAddress> external_ips;
  std::optional<IpAddress> load_balancer_ip;  // Deprecated spec field.
  std::vector<LoadBalancerIngress> load_balancer_ingress;
  // Whitespace around a range is trimmed, as kube-proxy does (old API
  // servers accepted it).
  std::vector<IpPrefix> load_balancer_source_ranges;
  TrafficPolicy external_traffic_policy = TrafficPolicy::kCluster;
  TrafficPolicy internal_traffic_policy = TrafficPolicy::kCluster;
  uint16_t health_check_node_port = 0;  // 0: none.
  SessionAffinity session_affinity = SessionAffinity::kNone;
  uint32_t session_affinity_timeout_seconds = kDefaultSessionAffinityTimeoutSeconds;

  // The ClusterIP of |family|, if the Service has one.
  std::optional<IpAddress> ClusterIp(IpFamily family) const;
  bool operator==(const Service&) const = default;
};

// ---- discovery.k8s.io/v1 EndpointSlice ----

enum class AddressType { kIPv4, kIPv6, kFqdn };

struct EndpointPort {
  std::string name;  // API default "".
  Protocol protocol = Protocol::kTcp;
  // Unset or 0 means "all ports", which kube-proxy does not support: such a
  // port is kept here and ignored by the proxy.
  uint16_t port = 0;
  bool operator==(const EndpointPort&) const = default;
};

struct EndpointConditions {
  // The API's defaults when a condition is absent.
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  bool operator==(const EndpointConditions&) const = default;
};

struct Endpoint {
  // Parsed for IPv4/IPv6 slices (each of the slice's family); FQDN slices
  // keep none. May be empty (kube-proxy then ignores the endpoint).
  std::vector<IpAddress> addresses;
  EndpointConditions conditions;
  std::string node_name;  // "" when unset.
  std::string zone;
  std::vector<std::string> zone_hints;  // hints.forZones[].name
  std::vector<std::string> node_hints;  // hints.forNodes[].name
  bool operator==(const Endpoint&) const = default;
};

struct EndpointSlice {
  ObjectMeta meta;
  std::string service_name;  // Label kubernetes.io/service-name; "" = none.
  AddressType address_type = AddressType::kIPv4;
  std::vector<EndpointPort> ports;
  std::vector<Endpoint> endpoints;
  // Annotation endpoints.kubernetes.io/last-change-trigger-time; feeds a
  // metric only, so a value that is not RFC 3339 is ignored (kube-proxy does
  // the same) instead of rejecting the slice's endpoints.
  std::optional<absl::Time> last_change_trigger_time;
  bool operator==(const EndpointSlice&) const = default;
};

// ---- v1 Node ----

struct Node {
  ObjectMeta meta;
  std::string zone;  // Label topology.kubernetes.io/zone; "" = none.
  bool deletion_timestamp = false;
  std::vector<std::string> taint_keys;
  // kube-proxy's /healthz "nodeEligible": not being deleted, by the API or
  // by the cluster autoscaler.
  bool Eligible() const;
  bool operator==(const Node&) const = default;
};

absl::StatusOr<Service> DecodeService(const nlohmann::json& object);
absl::StatusOr<EndpointSlice> DecodeEndpointSlice(const nlohmann::json& object);
absl::StatusOr<Node> DecodeNode(const nlohmann::json& object);

// Only the identity (namespace, name, resourceVersion) of an object of
// |kind| ("Service", "EndpointSlice", "Node"): enough to delete it, even if
// the rest of its last known state would not decode.
absl::StatusOr<ObjectMeta> DecodeObjectMeta(const nlohmann::json& object, absl::string_view kind);

}  // namespace bpfproxy::k8s

#endif  // BPFPROXY_K8S_OBJECTS_H_
