// Decoding of whole, well-formed API objects: every field, and the API's
// defaults for what is absent or null.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "k8s/objects.h"
#include "tests/k8s/objects_fixtures.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::k8s {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

IpAddress Ip(const char* text) { return IpAddress::Parse(text).value(); }

TEST(DecodeServiceTest, ClusterIpServiceEveryField) {
  ASSERT_OK_AND_ASSIGN(Service svc, DecodeService(testing::ClusterIpServiceFixture()));
  EXPECT_EQ(svc.meta, (ObjectMeta{"default", "web", "1234"}));
  EXPECT_EQ(svc.meta.Key(), "default/web");
  EXPECT_EQ(svc.service_proxy_name_label, std::nullopt);
  EXPECT_FALSE(svc.headless_label);
  EXPECT_EQ(svc.type, ServiceType::kClusterIP);
  EXPECT_THAT(svc.cluster_ips, ElementsAre(Ip("10.96.0.10")));
  EXPECT_FALSE(svc.headless);
  EXPECT_THAT(svc.ip_families, ElementsAre(IpFamily::kIPv4));
  EXPECT_THAT(svc.ports, ElementsAre(ServicePort{"http", Protocol::kTcp, 80, 8080, "", 0}));
  EXPECT_THAT(svc.external_ips, IsEmpty());
  EXPECT_EQ(svc.load_balancer_ip, std::nullopt);
  EXPECT_THAT(svc.load_balancer_ingress, IsEmpty());
  EXPECT_THAT(svc.load_balancer_source_ranges, IsEmpty());
  EXPECT_EQ(svc.external_traffic_policy, TrafficPolicy::kCluster);
  EXPECT_EQ(svc.internal_traffic_policy, TrafficPolicy::kCluster);
  EXPECT_EQ(svc.health_check_node_port, 0);
  EXPECT_EQ(svc.session_affinity, SessionAffinity::kNone);
  EXPECT_EQ(svc.session_affinity_timeout_seconds, 10800u);
  EXPECT_EQ(svc.ClusterIp(IpFamily::kIPv4), Ip("10.96.0.10"));
  EXPECT_EQ(svc.ClusterIp(IpFamily::kIPv6), std::nullopt);
}

TEST(DecodeServiceTest, DualStackLoadBalancerEveryField) {
  ASSERT_OK_AND_ASSIGN(Service svc, DecodeService(testing::LoadBalancerServiceFixture()));
  EXPECT_EQ(svc.meta, (ObjectMeta{"shop", "checkout", "88211"}));
  EXPECT_EQ(svc.service_proxy_name_label, "bpfproxy");
  EXPECT_EQ(svc.type, ServiceType::kLoadBalancer);
  EXPECT_THAT(svc.cluster_ips, ElementsAre(Ip("10.96.12.34"), Ip("fd00:10:96::1234")));
  EXPECT_THAT(svc.ip_families, ElementsAre(IpFamily::kIPv4, IpFamily::kIPv6));
  EXPECT_EQ(svc.ClusterIp(IpFamily::kIPv6), Ip("fd00:10:96::1234"));
  EXPECT_THAT(svc.ports, ElementsAre(ServicePort{"https", Protocol::kTcp, 443, 0, "https-web", 30443},
                                     ServicePort{"quic", Protocol::kUdp, 443, 8443, "", 30444},
                                     ServicePort{"sig", Protocol::kSctp, 3868, 3868, "", 30868}));
  EXPECT_THAT(svc.external_ips, ElementsAre(Ip("192.0.2.10"), Ip("2001:db8::10")));
  EXPECT_EQ(svc.load_balancer_ip, Ip("198.51.100.7"));
  // The hostname-only entry is dropped; an absent ipMode stays unset.
  EXPECT_THAT(svc.load_balancer_ingress,
              ElementsAre(LoadBalancerIngress{Ip("198.51.100.7"), LoadBalancerIpMode::kVip},
                          LoadBalancerIngress{Ip("2001:db8:ffff::7"), LoadBalancerIpMode::kProxy},
                          LoadBalancerIngress{Ip("198.51.100.8"), LoadBalancerIpMode::kUnset}));
  // " 2001:db8:1::/48 " is trimmed, as kube-proxy does.
  EXPECT_THAT(svc.load_balancer_source_ranges,
              ElementsAre(IpPrefix{Ip("203.0.113.0"), 24}, IpPrefix{Ip("2001:db8:1::"), 48}));
  EXPECT_EQ(svc.external_traffic_policy, TrafficPolicy::kLocal);
  EXPECT_EQ(svc.internal_traffic_policy, TrafficPolicy::kLocal);
  EXPECT_EQ(svc.health_check_node_port, 32001);
  EXPECT_EQ(svc.session_affinity, SessionAffinity::kClientIP);
  EXPECT_EQ(svc.session_affinity_timeout_seconds, 600u);
}

TEST(DecodeServiceTest, ExternalNameAndHeadless) {
  ASSERT_OK_AND_ASSIGN(Service external, DecodeService(testing::ExternalNameServiceFixture()));
  EXPECT_EQ(external.type, ServiceType::kExternalName);
  EXPECT_THAT(external.cluster_ips, IsEmpty());
  EXPECT_FALSE(external.headless);

  ASSERT_OK_AND_ASSIGN(Service headless, DecodeService(testing::HeadlessServiceFixture()));
  EXPECT_TRUE(headless.headless);
  EXPECT_THAT(headless.cluster_ips, IsEmpty());
  EXPECT_THAT(headless.ip_families, ElementsAre(IpFamily::kIPv4));
}

TEST(DecodeServiceTest, AbsentAndNullFieldsTakeTheApiDefaults) {
  // What an old API server, or a LIST item (no kind), might send.
  json minimal = json::parse(R"({
    "metadata": {"name": "min", "namespace": "ns", "labels": null, "annotations": null},
    "spec": {"clusterIP": "10.96.0.50", "clusterIPs": null, "type": null,
             "ports": [{"port": 53, "protocol": null, "name": null}],
             "externalTrafficPolicy": "", "sessionAffinityConfig": {"clientIP": null}},
    "status": null})");
  ASSERT_OK_AND_ASSIGN(Service svc, DecodeService(minimal));
  EXPECT_EQ(svc.meta, (ObjectMeta{"ns", "min", ""}));
  EXPECT_EQ(svc.type, ServiceType::kClusterIP);
  // clusterIP alone (before dual-stack) is the only ClusterIP.
  EXPECT_THAT(svc.cluster_ips, ElementsAre(Ip("10.96.0.50")));
  EXPECT_THAT(svc.ip_families, IsEmpty());
  // Protocol TCP, name "", targetPort = port.
  EXPECT_THAT(svc.ports, ElementsAre(ServicePort{"", Protocol::kTcp, 53, 53, "", 0}));
  EXPECT_EQ(svc.external_traffic_policy, TrafficPolicy::kCluster);
  EXPECT_EQ(svc.session_affinity_timeout_seconds, kDefaultSessionAffinityTimeoutSeconds);

  json no_ports = json::parse(R"({"metadata": {"name": "x", "namespace": "ns"}, "spec": {}})");
  ASSERT_OK_AND_ASSIGN(Service bare, DecodeService(no_ports));
  EXPECT_THAT(bare.ports, IsEmpty());
  EXPECT_THAT(bare.cluster_ips, IsEmpty());
}

TEST(DecodeServiceTest, SelectorLabels) {
  json svc = testing::ClusterIpServiceFixture();
  svc["metadata"]["labels"]["service.kubernetes.io/headless"] = "";
  svc["metadata"]["labels"]["service.kubernetes.io/service-proxy-name"] = "";
  ASSERT_OK_AND_ASSIGN(Service decoded, DecodeService(svc));
  EXPECT_TRUE(decoded.headless_label);
  // Present with an empty value is still present: the selector is "!label".
  EXPECT_EQ(decoded.service_proxy_name_label, "");
}

TEST(DecodeEndpointSliceTest, EveryField) {
  ASSERT_OK_AND_ASSIGN(EndpointSlice slice, DecodeEndpointSlice(testing::EndpointSliceFixture()));
  EXPECT_EQ(slice.meta, (ObjectMeta{"default", "web-x7k2p", "1240"}));
  EXPECT_EQ(slice.service_name, "web");
  EXPECT_EQ(slice.address_type, AddressType::kIPv4);
  EXPECT_THAT(slice.ports,
              ElementsAre(EndpointPort{"http", Protocol::kTcp, 8080}, EndpointPort{"", Protocol::kUdp, 5353}));
  ASSERT_EQ(slice.endpoints.size(), 3u);
  EXPECT_EQ(slice.endpoints[0],
            (Endpoint{{Ip("10.244.1.5")}, {true, true, false}, "node-a", "zone-a", {"zone-a"}, {"node-a"}}));
  EXPECT_EQ(slice.endpoints[1],
            (Endpoint{{Ip("10.244.2.6"), Ip("10.244.2.7")}, {false, true, true}, "node-b", "zone-b", {}, {}}));
  // Empty conditions: ready and serving, not terminating.
  EXPECT_EQ(slice.endpoints[2], (Endpoint{{Ip("10.244.3.8")}, {true, true, false}, "", "", {}, {}}));
  absl::Time want_time;
  std::string err;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2024-05-01T10:00:05.25Z", &want_time, &err)) << err;
  EXPECT_EQ(slice.last_change_trigger_time, want_time);
}

TEST(DecodeEndpointSliceTest, ConditionDefaultsOneByOne) {
  struct Case {
    const char* conditions;
    EndpointConditions want;
  };
  for (const Case& c : std::vector<Case>{
           {"null", {true, true, false}},
           {"{}", {true, true, false}},
           {R"({"ready": null, "serving": null, "terminating": null})", {true, true, false}},
           {R"({"ready": false})", {false, true, false}},
           {R"({"serving": false})", {true, false, false}},
           {R"({"terminating": true})", {true, true, true}},
           {R"({"ready": false, "serving": false, "terminating": true})", {false, false, true}},
       }) {
    json slice = testing::EndpointSliceFixture();
    slice["endpoints"][0]["conditions"] = json::parse(c.conditions);
    ASSERT_OK_AND_ASSIGN(EndpointSlice decoded, DecodeEndpointSlice(slice));
    EXPECT_EQ(decoded.endpoints[0].conditions, c.want) << c.conditions;
  }
  json absent = testing::EndpointSliceFixture();
  absent["endpoints"][0].erase("conditions");
  ASSERT_OK_AND_ASSIGN(EndpointSlice decoded, DecodeEndpointSlice(absent));
  EXPECT_EQ(decoded.endpoints[0].conditions, (EndpointConditions{true, true, false}));
}

TEST(DecodeEndpointSliceTest, NullListsPortDefaultsAndOptionalPieces) {
  // The API server sends "endpoints": null for a slice with no endpoints.
  json slice = json::parse(R"({
    "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
    "metadata": {"name": "web-empty", "namespace": "default", "resourceVersion": "9",
                 "labels": {"kubernetes.io/service-name": "web"}},
    "addressType": "IPv6", "endpoints": null,
    "ports": [{"port": 80}, {"name": "all", "protocol": "UDP"}, {"name": "zero", "port": 0}]})");
  ASSERT_OK_AND_ASSIGN(EndpointSlice decoded, DecodeEndpointSlice(slice));
  EXPECT_EQ(decoded.address_type, AddressType::kIPv6);
  EXPECT_THAT(decoded.endpoints, IsEmpty());
  EXPECT_THAT(decoded.ports, ElementsAre(EndpointPort{"", Protocol::kTcp, 80}, EndpointPort{"all", Protocol::kUdp, 0},
                                         EndpointPort{"zero", Protocol::kTcp, 0}));
  EXPECT_EQ(decoded.last_change_trigger_time, std::nullopt);

  slice["ports"] = nullptr;
  slice["metadata"].erase("labels");
  ASSERT_OK_AND_ASSIGN(EndpointSlice unlabelled, DecodeEndpointSlice(slice));
  EXPECT_EQ(unlabelled.service_name, "");
  EXPECT_THAT(unlabelled.ports, IsEmpty());
}

TEST(DecodeEndpointSliceTest, FqdnSlicesDecodeWithoutAddresses) {
  json slice = testing::EndpointSliceFixture();
  slice["addressType"] = "FQDN";
  slice["endpoints"] = json::parse(R"([{"addresses": ["web-0.example.com"], "conditions": {"ready": true}}])");
  ASSERT_OK_AND_ASSIGN(EndpointSlice decoded, DecodeEndpointSlice(slice));
  EXPECT_EQ(decoded.address_type, AddressType::kFqdn);
  ASSERT_EQ(decoded.endpoints.size(), 1u);
  EXPECT_THAT(decoded.endpoints[0].addresses, IsEmpty());
}

TEST(DecodeEndpointSliceTest, EndpointWithoutAddressesIsKept) {
  // kube-proxy skips such an endpoint rather than the slice.
  json slice = testing::EndpointSliceFixture();
  slice["endpoints"][0]["addresses"] = json::array();
  ASSERT_OK_AND_ASSIGN(EndpointSlice decoded, DecodeEndpointSlice(slice));
  EXPECT_THAT(decoded.endpoints[0].addresses, IsEmpty());
}

TEST(DecodeEndpointSliceTest, TriggerTimeThatIsNotRfc3339IsIgnored) {
  for (const char* value : {"yesterday", "", "2024-13-01T00:00:00Z"}) {
    json slice = testing::EndpointSliceFixture();
    slice["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"] = value;
    ASSERT_OK_AND_ASSIGN(EndpointSlice decoded, DecodeEndpointSlice(slice));
    EXPECT_EQ(decoded.last_change_trigger_time, std::nullopt) << value;
  }
  json slice = testing::EndpointSliceFixture();
  slice["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"] = "2024-05-01T12:00:00+02:00";
  ASSERT_OK_AND_ASSIGN(EndpointSlice decoded, DecodeEndpointSlice(slice));
  EXPECT_EQ(decoded.last_change_trigger_time, absl::FromUnixSeconds(1714557600));
}

TEST(DecodeNodeTest, EveryField) {
  ASSERT_OK_AND_ASSIGN(Node node, DecodeNode(testing::NodeFixture()));
  EXPECT_EQ(node.meta, (ObjectMeta{"", "node-a", "42001"}));
  EXPECT_EQ(node.meta.Key(), "node-a");
  EXPECT_EQ(node.zone, "zone-a");
  EXPECT_TRUE(node.deletion_timestamp);
  EXPECT_THAT(node.taint_keys, ElementsAre("node-role.kubernetes.io/control-plane", "ToBeDeletedByClusterAutoscaler"));
  EXPECT_FALSE(node.Eligible());
}

TEST(DecodeNodeTest, EligibilityFollowsDeletionAndTheAutoscalerTaint) {
  json node = testing::NodeFixture();
  node["metadata"].erase("deletionTimestamp");
  ASSERT_OK_AND_ASSIGN(Node tainted, DecodeNode(node));
  EXPECT_FALSE(tainted.deletion_timestamp);
  EXPECT_FALSE(tainted.Eligible());

  node["spec"]["taints"].erase(1);
  ASSERT_OK_AND_ASSIGN(Node healthy, DecodeNode(node));
  EXPECT_TRUE(healthy.Eligible());

  json bare = testing::MakeNode("node-b", "");
  bare.erase("spec");
  ASSERT_OK_AND_ASSIGN(Node minimal, DecodeNode(bare));
  EXPECT_EQ(minimal.zone, "");
  EXPECT_THAT(minimal.taint_keys, IsEmpty());
  EXPECT_TRUE(minimal.Eligible());
}

TEST(DecodeObjectMetaTest, NeedsOnlyTheIdentity) {
  json svc = testing::ClusterIpServiceFixture();
  svc["spec"]["ports"] = "garbage";  // The last state of a deleted object may be anything.
  EXPECT_FALSE(DecodeService(svc).ok());
  ASSERT_OK_AND_ASSIGN(ObjectMeta meta, DecodeObjectMeta(svc, "Service"));
  EXPECT_EQ(meta, (ObjectMeta{"default", "web", "1234"}));
  ASSERT_OK_AND_ASSIGN(ObjectMeta node, DecodeObjectMeta(testing::NodeFixture(), "Node"));
  EXPECT_EQ(node.name, "node-a");
  EXPECT_FALSE(DecodeObjectMeta(json::parse(R"({"metadata": {"namespace": "x"}})"), "Service").ok());
}

TEST(DecodeTest, FixturesAreNotMistakenForEachOther) {
  EXPECT_FALSE(DecodeService(testing::EndpointSliceFixture()).ok());
  EXPECT_FALSE(DecodeEndpointSlice(testing::ClusterIpServiceFixture()).ok());
  EXPECT_FALSE(DecodeNode(testing::ClusterIpServiceFixture()).ok());
  EXPECT_FALSE(DecodeService(testing::NodeFixture()).ok());
}

}  // namespace
}  // namespace bpfproxy::k8s
