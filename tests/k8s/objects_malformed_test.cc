// Malformed objects: each answers InvalidArgument naming the object and the
// field, never throws and never crashes.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "k8s/objects.h"
#include "tests/k8s/objects_fixtures.h"

namespace bpfproxy::k8s {
namespace {

using json = nlohmann::json;

enum class Kind { kService, kLbService, kSlice, kNode };

json Fixture(Kind kind) {
  switch (kind) {
    case Kind::kService:
      return testing::ClusterIpServiceFixture();
    case Kind::kLbService:
      return testing::LoadBalancerServiceFixture();
    case Kind::kSlice:
      return testing::EndpointSliceFixture();
    case Kind::kNode:
      return testing::NodeFixture();
  }
  return {};
}

absl::Status Decode(Kind kind, const json& object) {
  switch (kind) {
    case Kind::kService:
    case Kind::kLbService:
      return DecodeService(object).status();
    case Kind::kSlice:
      return DecodeEndpointSlice(object).status();
    case Kind::kNode:
      return DecodeNode(object).status();
  }
  return absl::OkStatus();
}

struct MalformedCase {
  Kind kind;
  const char* pointer;        // JSON pointer into the fixture.
  std::optional<json> value;  // nullopt: remove the member.
  const char* message;        // Expected in the error: "<object>: <field>: <what>".
};

std::string Describe(const MalformedCase& c) {
  return absl::StrCat(c.pointer, " = ", c.value.has_value() ? c.value->dump() : "<removed>");
}

void PrintTo(const MalformedCase& c, std::ostream* os) { *os << Describe(c); }

const std::vector<MalformedCase>& Cases() {
  static const auto* const kCases = new std::vector<MalformedCase>{
      // Object shape and metadata.
      {Kind::kService, "", json::array(), "Service <unnamed>: expected a JSON object, got array"},
      {Kind::kService, "/kind", "Pod", "Service default/web: kind: is \"Pod\""},
      {Kind::kService, "/kind", 7, "Service default/web: kind: expected a string, got number"},
      {Kind::kService, "/metadata", std::nullopt, "Service <unnamed>: metadata: missing"},
      {Kind::kService, "/metadata", "x", "Service <unnamed>: metadata: expected an object, got string"},
      {Kind::kService, "/metadata/name", std::nullopt, "Service <unnamed>: metadata.name: missing"},
      {Kind::kService, "/metadata/name", 12, "Service <unnamed>: metadata.name: expected a string, got number"},
      {Kind::kService, "/metadata/namespace", std::nullopt, "Service web: metadata.namespace: missing"},
      {Kind::kService, "/metadata/resourceVersion", 1234,
       "Service default/web: metadata.resourceVersion: expected a string"},
      {Kind::kService, "/metadata/labels", json::array(), "Service default/web: metadata.labels: expected an object"},
      {Kind::kLbService, "/metadata/labels/service.kubernetes.io~1service-proxy-name", true,
       "Service shop/checkout: metadata.labels.service.kubernetes.io/service-proxy-name: expected a string"},
      // Service spec.
      {Kind::kService, "/spec", std::nullopt, "Service default/web: spec: missing"},
      {Kind::kService, "/spec", json::array(), "Service default/web: spec: expected an object, got array"},
      {Kind::kService, "/spec/type", "Magic", "Service default/web: spec.type: unknown value \"Magic\""},
      {Kind::kService, "/spec/clusterIP", "10.96.0.300",
       "spec.clusterIPs: [0] \"10.96.0.10\" differs from clusterIP \"10.96.0.300\""},
      {Kind::kService, "/spec/clusterIPs/0", "10.96.0.300", "clusterIPs: [0] \"10.96.0.300\" differs from clusterIP"},
      {Kind::kService, "/spec/clusterIPs", json::array({"10.96.0.300"}), "clusterIPs: [0] \"10.96.0.300\" differs"},
      {Kind::kService, "/spec/clusterIPs", json::array({"10.96.0.10", "fd00::1", "fd00::2"}),
       "spec.clusterIPs: more than two addresses"},
      {Kind::kService, "/spec/clusterIPs", json::array({"10.96.0.10", "10.96.0.11"}),
       "spec.clusterIPs: two addresses of the same family"},
      {Kind::kService, "/spec/clusterIPs", json::array({"10.96.0.10", 5}),
       "spec.clusterIPs[1]: expected a string, got number"},
      {Kind::kService, "/spec/clusterIPs", "10.96.0.10", "spec.clusterIPs: expected an array, got string"},
      {Kind::kLbService, "/spec/clusterIPs/1", "fd00::zz", "spec.clusterIPs[1]: \"fd00::zz\" is not an IP address"},
      {Kind::kService, "/spec/ipFamilies", json::array({"IPv6"}),
       "spec.ipFamilies[0]: IPv6 does not match clusterIPs[0]"},
      {Kind::kService, "/spec/ipFamilies", json::array({"IPv5"}), "spec.ipFamilies[0]: unknown value \"IPv5\""},
      {Kind::kService, "/spec/ports", json::object(), "spec.ports: expected an array, got object"},
      {Kind::kService, "/spec/ports/0", "http", "spec.ports[0]: expected an object, got string"},
      {Kind::kService, "/spec/ports/0/port", std::nullopt, "Service default/web: spec.ports[0].port: missing"},
      {Kind::kService, "/spec/ports/0/port", 0, "spec.ports[0].port: 0 is out of range 1..65535"},
      {Kind::kService, "/spec/ports/0/port", 65536, "spec.ports[0].port: 65536 is out of range 1..65535"},
      {Kind::kService, "/spec/ports/0/port", -80, "spec.ports[0].port: -80 is out of range 1..65535"},
      {Kind::kService, "/spec/ports/0/port", 18446744073709551615ull,
       "spec.ports[0].port: 18446744073709551615 is out of range"},
      {Kind::kService, "/spec/ports/0/port", json::parse("1e300"),
       "spec.ports[0].port: expected an integer, got number"},
      {Kind::kService, "/spec/ports/0/port", 80.5, "spec.ports[0].port: expected an integer"},
      {Kind::kService, "/spec/ports/0/port", "80", "spec.ports[0].port: expected an integer, got string"},
      {Kind::kService, "/spec/ports/0/protocol", "ICMP", "spec.ports[0].protocol: unknown value \"ICMP\""},
      {Kind::kService, "/spec/ports/0/protocol", "tcp", "spec.ports[0].protocol: unknown value \"tcp\""},
      {Kind::kService, "/spec/ports/0/name", json::array(), "spec.ports[0].name: expected a string"},
      {Kind::kService, "/spec/ports/0/targetPort", 0, "spec.ports[0].targetPort: 0 is out of range 1..65535"},
      {Kind::kService, "/spec/ports/0/targetPort", true, "spec.ports[0].targetPort: expected an integer, got boolean"},
      {Kind::kService, "/spec/ports/0/nodePort", 99999, "spec.ports[0].nodePort: 99999 is out of range 0..65535"},
      {Kind::kService, "/spec/ports/-", json{{"name", "http"}, {"port", 81}},
       "spec.ports[1]: duplicate port name \"http\""},
      {Kind::kService, "/spec/ports/-", json{{"name", "web"}, {"port", 80}}, "spec.ports[1]: duplicate port 80/TCP"},
      {Kind::kLbService, "/spec/externalIPs/1", "2001:db8::g", "spec.externalIPs[1]: \"2001:db8::g\" is not an IP"},
      {Kind::kLbService, "/spec/externalIPs", "192.0.2.10", "spec.externalIPs: expected an array"},
      {Kind::kLbService, "/spec/loadBalancerIP", "lb.example.com", "spec.loadBalancerIP: \"lb.example.com\" is not"},
      {Kind::kLbService, "/spec/loadBalancerSourceRanges/0", "203.0.113.0",
       "loadBalancerSourceRanges[0]: \"203.0.113.0\" is not a CIDR"},
      {Kind::kLbService, "/spec/loadBalancerSourceRanges/0", "203.0.113.0/33", "is not a CIDR"},
      {Kind::kLbService, "/spec/loadBalancerSourceRanges/1", "2001:db8::/129", "loadBalancerSourceRanges[1]"},
      {Kind::kLbService, "/spec/loadBalancerSourceRanges/0", "203.0.113.0/-1", "is not a CIDR"},
      {Kind::kLbService, "/spec/externalTrafficPolicy", "Global", "spec.externalTrafficPolicy: unknown value"},
      {Kind::kLbService, "/spec/internalTrafficPolicy", "local", "spec.internalTrafficPolicy: unknown value \"local\""},
      {Kind::kLbService, "/spec/healthCheckNodePort", 70000, "spec.healthCheckNodePort: 70000 is out of range"},
      {Kind::kLbService, "/spec/sessionAffinity", "Cookie", "spec.sessionAffinity: unknown value"},
      {Kind::kLbService, "/spec/sessionAffinityConfig/clientIP/timeoutSeconds", 0,
       "spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 is out of range 1..86400"},
      {Kind::kLbService, "/spec/sessionAffinityConfig/clientIP/timeoutSeconds", 86401, "out of range 1..86400"},
      {Kind::kLbService, "/spec/sessionAffinityConfig/clientIP", 5,
       "spec.sessionAffinityConfig.clientIP: expected an object"},
      {Kind::kLbService, "/status", "ok", "Service shop/checkout: status: expected an object"},
      {Kind::kLbService, "/status/loadBalancer/ingress", json::object(),
       "status.loadBalancer.ingress: expected an array"},
      {Kind::kLbService, "/status/loadBalancer/ingress/0/ip", "1.2.3", "status.loadBalancer.ingress[0].ip: \"1.2.3\""},
      {Kind::kLbService, "/status/loadBalancer/ingress/1/ipMode", "Direct",
       "status.loadBalancer.ingress[1].ipMode: unknown value"},
      // EndpointSlice.
      {Kind::kSlice, "/metadata/namespace", "", "EndpointSlice web-x7k2p: metadata.namespace: missing"},
      {Kind::kSlice, "/metadata/labels/kubernetes.io~1service-name", 3,
       "EndpointSlice default/web-x7k2p: metadata.labels.kubernetes.io/service-name: expected a string"},
      {Kind::kSlice, "/metadata/annotations", "x", "metadata.annotations: expected an object"},
      {Kind::kSlice, "/metadata/annotations/endpoints.kubernetes.io~1last-change-trigger-time", 1714557600,
       "metadata.annotations.endpoints.kubernetes.io/last-change-trigger-time: expected a string"},
      {Kind::kSlice, "/addressType", std::nullopt, "EndpointSlice default/web-x7k2p: addressType: missing"},
      {Kind::kSlice, "/addressType", "IPv5", "addressType: unknown value \"IPv5\""},
      {Kind::kSlice, "/ports", "http", "EndpointSlice default/web-x7k2p: ports: expected an array"},
      {Kind::kSlice, "/ports/0/port", 65536, "ports[0].port: 65536 is out of range 0..65535"},
      {Kind::kSlice, "/ports/1/protocol", "udp", "ports[1].protocol: unknown value \"udp\""},
      {Kind::kSlice, "/ports/1/name", 5, "ports[1].name: expected a string"},
      {Kind::kSlice, "/endpoints", json::object(), "endpoints: expected an array"},
      {Kind::kSlice, "/endpoints/0", "10.244.1.5", "endpoints[0]: expected an object, got string"},
      {Kind::kSlice, "/endpoints/0/addresses", "10.244.1.5", "endpoints[0].addresses: expected an array"},
      {Kind::kSlice, "/endpoints/1/addresses/1", "10.244.2", "endpoints[1].addresses[1]: \"10.244.2\" is not an IP"},
      {Kind::kSlice, "/endpoints/0/addresses/0", "fd00::5",
       "endpoints[0].addresses[0]: fd00::5 is not an IPv4 address"},
      {Kind::kSlice, "/endpoints/0/addresses/0", "10.244.1.5%eth0", "is not an IP address"},
      {Kind::kSlice, "/endpoints/0/conditions", true, "endpoints[0].conditions: expected an object, got boolean"},
      {Kind::kSlice, "/endpoints/0/conditions/ready", "true", "endpoints[0].conditions.ready: expected a boolean"},
      {Kind::kSlice, "/endpoints/1/conditions/serving", 1, "endpoints[1].conditions.serving: expected a boolean"},
      {Kind::kSlice, "/endpoints/1/conditions/terminating", "yes", "endpoints[1].conditions.terminating: expected a"},
      {Kind::kSlice, "/endpoints/0/nodeName", 1, "endpoints[0].nodeName: expected a string"},
      {Kind::kSlice, "/endpoints/0/zone", json::object(), "endpoints[0].zone: expected a string"},
      {Kind::kSlice, "/endpoints/0/hints", json::array(), "endpoints[0].hints: expected an object"},
      {Kind::kSlice, "/endpoints/0/hints/forZones", "zone-a", "endpoints[0].hints.forZones: expected an array"},
      {Kind::kSlice, "/endpoints/0/hints/forZones/0", "zone-a", "endpoints[0].hints.forZones[0]: expected an object"},
      {Kind::kSlice, "/endpoints/0/hints/forNodes/0/name", 7, "endpoints[0].hints.forNodes[0].name: expected a string"},
      // Node.
      {Kind::kNode, "/metadata/namespace", "default",
       "Node default/node-a: metadata.namespace: set on a cluster-scoped"},
      {Kind::kNode, "/metadata/labels/topology.kubernetes.io~1zone", json::array(),
       "Node node-a: metadata.labels.topology.kubernetes.io/zone: expected a string"},
      {Kind::kNode, "/metadata/deletionTimestamp", 0, "Node node-a: metadata.deletionTimestamp: expected a string"},
      {Kind::kNode, "/spec", "x", "Node node-a: spec: expected an object"},
      {Kind::kNode, "/spec/taints", json::object(), "Node node-a: spec.taints: expected an array"},
      {Kind::kNode, "/spec/taints/1", "ToBeDeletedByClusterAutoscaler", "spec.taints[1]: expected an object"},
      {Kind::kNode, "/spec/taints/1/key", false, "spec.taints[1].key: expected a string, got boolean"},
  };
  return *kCases;
}

json Apply(const MalformedCase& c) {
  json object = Fixture(c.kind);
  json::json_pointer pointer(c.pointer);
  if (pointer.empty()) return c.value.value_or(json());
  if (c.value.has_value()) {
    object[pointer] = *c.value;
  } else {
    object[pointer.parent_pointer()].erase(pointer.back());
  }
  return object;
}

class DecodeMalformedCaseTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(DecodeMalformedCaseTest, IsInvalidArgumentNamingObjectAndField) {
  const MalformedCase& c = GetParam();
  SCOPED_TRACE(Describe(c));
  absl::Status status = Decode(c.kind, Apply(c));
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(c.message), absl::string_view::npos) << status.message();
}

// "Service_spec_ports_0_port_3": the fixture, the field, and the case's
// index (a field has several cases).
std::string CaseName(const ::testing::TestParamInfo<MalformedCase>& info) {
  static constexpr const char* kKinds[] = {"Service", "LbService", "Slice", "Node"};
  std::string name = absl::StrCat(kKinds[static_cast<int>(info.param.kind)], info.param.pointer, "_", info.index);
  for (char& ch : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Table, DecodeMalformedCaseTest, ::testing::ValuesIn(Cases()), CaseName);

TEST(DecodeMalformedTest, FixturesThemselvesDecode) {
  // Guards the table above: each error comes from the mutation alone.
  for (Kind kind : {Kind::kService, Kind::kLbService, Kind::kSlice, Kind::kNode}) {
    absl::Status status = Decode(kind, Fixture(kind));
    EXPECT_TRUE(status.ok()) << status;
  }
}

TEST(DecodeMalformedTest, NonObjectsOfEveryJsonType) {
  for (const json& value : {json(nullptr), json(true), json(1), json(-1), json(1.5), json("Service"), json::array(),
                            json::object(), json::binary({1, 2, 3})}) {
    SCOPED_TRACE(value.dump());
    EXPECT_EQ(DecodeService(value).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(DecodeEndpointSlice(value).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(DecodeNode(value).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(DecodeObjectMeta(value, "Service").status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace bpfproxy::k8s
