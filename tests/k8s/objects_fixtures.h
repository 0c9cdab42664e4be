// API objects shaped exactly as the API server returns them (metadata with
// uid, resourceVersion, creationTimestamp and managed fields; spec; status),
// for the decoder and ServiceTracker tests.
#ifndef BPFPROXY_TESTS_K8S_OBJECTS_FIXTURES_H_
#define BPFPROXY_TESTS_K8S_OBJECTS_FIXTURES_H_

#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace bpfproxy::k8s::testing {

// Whole objects with every field the decoder reads, as the API server sent
// them in a watch event. The decoder tests spell out what each decodes to.
nlohmann::json ClusterIpServiceFixture();     // default/web: 10.96.0.10, http 80->8080.
nlohmann::json LoadBalancerServiceFixture();  // shop/checkout: dual-stack LB, every optional field.
nlohmann::json ExternalNameServiceFixture();  // default/search: ExternalName.
nlohmann::json HeadlessServiceFixture();      // default/db: clusterIP None.
nlohmann::json EndpointSliceFixture();        // default/web-x7k2p for default/web.
nlohmann::json NodeFixture();                 // node-a in zone-a, being deleted by the autoscaler.

// Builders for the ServiceTracker tests. Every object gets a fresh
// resourceVersion, as successive writes do.
struct PortSpec {
  std::string name;
  int port = 0;
  std::string protocol = "TCP";
  int target_port = 0;  // 0: same as |port|.
};
// A ClusterIP Service; ipFamilies follow |cluster_ips| ("None": headless).
nlohmann::json MakeService(const std::string& ns, const std::string& name, const std::vector<std::string>& cluster_ips,
                           const std::vector<PortSpec>& ports);

struct SlicePortSpec {
  std::string name;
  int port = 0;
  std::string protocol = "TCP";
};
struct EndpointSpec {
  std::vector<std::string> addresses;
  std::string node_name;  // "": absent.
  // nullopt: absent, so the API default applies.
  std::optional<bool> ready, serving, terminating;
  std::string zone;  // "": absent.
  std::vector<std::string> zone_hints, node_hints;
};
// Shorthands: a ready endpoint, and a terminating one that still serves
// (ready false, as the EndpointSlice controller publishes it).
EndpointSpec Ready(const std::string& ip, const std::string& node = "node-a");
EndpointSpec ServingTerminating(const std::string& ip, const std::string& node = "node-a");

// |service| "": no kubernetes.io/service-name label.
nlohmann::json MakeSlice(const std::string& ns, const std::string& name, const std::string& service,
                         const std::string& address_type, const std::vector<SlicePortSpec>& ports,
                         const std::vector<EndpointSpec>& endpoints);
// |zone| "": no zone label.
nlohmann::json MakeNode(const std::string& name, const std::string& zone);

}  // namespace bpfproxy::k8s::testing

#endif  // BPFPROXY_TESTS_K8S_OBJECTS_FIXTURES_H_
