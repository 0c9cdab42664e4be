#include "tests/k8s/objects_fixtures.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace bpfproxy::k8s::testing {
namespace {

using json = nlohmann::json;

json Parse(const char* text) { return json::parse(text); }

int next_resource_version = 5000;

json Metadata(const std::string& ns, const std::string& name) {
  json meta = {
      {"name", name},
      {"uid", absl::StrCat("0b6a1c3e-6f0e-4f7a-9d2c-", 100000000000 + next_resource_version)},
      {"resourceVersion", std::to_string(++next_resource_version)},
      {"creationTimestamp", "2024-05-01T10:00:00Z"},
  };
  if (!ns.empty()) meta["namespace"] = ns;
  return meta;
}

}  // namespace

json ClusterIpServiceFixture() {
  return Parse(R"json({
  "kind": "Service",
  "apiVersion": "v1",
  "metadata": {
    "name": "web",
    "namespace": "default",
    "uid": "5f1c2b7e-3d0a-4d8e-9a51-7c0f3e2d9b10",
    "resourceVersion": "1234",
    "creationTimestamp": "2024-05-01T10:00:00Z",
    "labels": {"app": "web"},
    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
    "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
                       "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
  },
  "spec": {
    "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}],
    "selector": {"app": "web"},
    "clusterIP": "10.96.0.10",
    "clusterIPs": ["10.96.0.10"],
    "type": "ClusterIP",
    "sessionAffinity": "None",
    "ipFamilies": ["IPv4"],
    "ipFamilyPolicy": "SingleStack",
    "internalTrafficPolicy": "Cluster"
  },
  "status": {"loadBalancer": {}}
})json");
}

json LoadBalancerServiceFixture() {
  return Parse(R"json({
  "kind": "Service",
  "apiVersion": "v1",
  "metadata": {
    "name": "checkout",
    "namespace": "shop",
    "uid": "a3d9e0f1-2b4c-4e6d-8f90-1a2b3c4d5e6f",
    "resourceVersion": "88211",
    "creationTimestamp": "2024-04-30T08:15:42Z",
    "labels": {"app": "checkout", "service.kubernetes.io/service-proxy-name": "bpfproxy"},
    "finalizers": ["service.kubernetes.io/load-balancer-cleanup"]
  },
  "spec": {
    "ports": [
      {"name": "https", "protocol": "TCP", "appProtocol": "https", "port": 443, "targetPort": "https-web",
       "nodePort": 30443},
      {"name": "quic", "protocol": "UDP", "port": 443, "targetPort": 8443, "nodePort": 30444},
      {"name": "sig", "protocol": "SCTP", "port": 3868, "nodePort": 30868}
    ],
    "selector": {"app": "checkout"},
    "clusterIP": "10.96.12.34",
    "clusterIPs": ["10.96.12.34", "fd00:10:96::1234"],
    "type": "LoadBalancer",
    "externalIPs": ["192.0.2.10", "2001:db8::10"],
    "sessionAffinity": "ClientIP",
    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
    "loadBalancerIP": "198.51.100.7",
    "loadBalancerSourceRanges": ["203.0.113.0/24", " 2001:db8:1::/48 "],
    "externalTrafficPolicy": "Local",
    "healthCheckNodePort": 32001,
    "ipFamilies": ["IPv4", "IPv6"],
    "ipFamilyPolicy": "PreferDualStack",
    "allocateLoadBalancerNodePorts": true,
    "internalTrafficPolicy": "Local"
  },
  "status": {
    "loadBalancer": {
      "ingress": [
        {"ip": "198.51.100.7", "ipMode": "VIP"},
        {"ip": "2001:db8:ffff::7", "ipMode": "Proxy"},
        {"ip": "198.51.100.8"},
        {"hostname": "lb-123.elb.example.com"}
      ]
    },
    "conditions": []
  }
})json");
}

json ExternalNameServiceFixture() {
  return Parse(R"json({
  "kind": "Service",
  "apiVersion": "v1",
  "metadata": {"name": "search", "namespace": "default", "uid": "c2d1e0f9-8a7b-4c6d-9e5f-0a1b2c3d4e5f",
               "resourceVersion": "777", "creationTimestamp": "2024-05-01T09:00:00Z"},
  "spec": {"type": "ExternalName", "externalName": "search.example.com", "sessionAffinity": "None",
           "ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 443}]},
  "status": {"loadBalancer": {}}
})json");
}

json HeadlessServiceFixture() {
  return Parse(R"json({
  "kind": "Service",
  "apiVersion": "v1",
  "metadata": {"name": "db", "namespace": "default", "uid": "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70",
               "resourceVersion": "778", "creationTimestamp": "2024-05-01T09:00:00Z",
               "labels": {"app": "db"}},
  "spec": {"ports": [{"name": "pg", "protocol": "TCP", "port": 5432, "targetPort": 5432}],
           "selector": {"app": "db"}, "clusterIP": "None", "clusterIPs": ["None"], "type": "ClusterIP",
           "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
           "internalTrafficPolicy": "Cluster"},
  "status": {"loadBalancer": {}}
})json");
}

json EndpointSliceFixture() {
  return Parse(R"json({
  "kind": "EndpointSlice",
  "apiVersion": "discovery.k8s.io/v1",
  "metadata": {
    "name": "web-x7k2p",
    "generateName": "web-",
    "namespace": "default",
    "uid": "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b",
    "resourceVersion": "1240",
    "generation": 3,
    "creationTimestamp": "2024-05-01T10:00:01Z",
    "labels": {
      "app": "web",
      "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
      "kubernetes.io/service-name": "web"
    },
    "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2024-05-01T10:00:05.250Z"},
    "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web",
                         "uid": "5f1c2b7e-3d0a-4d8e-9a51-7c0f3e2d9b10", "controller": true,
                         "blockOwnerDeletion": true}]
  },
  "addressType": "IPv4",
  "endpoints": [
    {"addresses": ["10.244.1.5"], "conditions": {"ready": true, "serving": true, "terminating": false},
     "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-7d4b9c-abcde",
                   "uid": "f0e1d2c3-b4a5-4968-8776-655443322110"},
     "nodeName": "node-a", "zone": "zone-a",
     "hints": {"forZones": [{"name": "zone-a"}], "forNodes": [{"name": "node-a"}]}},
    {"addresses": ["10.244.2.6", "10.244.2.7"],
     "conditions": {"ready": false, "serving": true, "terminating": true},
     "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-7d4b9c-fghij",
                   "uid": "01234567-89ab-4cde-8f01-23456789abcd"},
     "nodeName": "node-b", "zone": "zone-b"},
    {"addresses": ["10.244.3.8"], "conditions": {}}
  ],
  "ports": [{"name": "http", "protocol": "TCP", "port": 8080}, {"name": "", "protocol": "UDP", "port": 5353}]
})json");
}

json NodeFixture() {
  return Parse(R"json({
  "kind": "Node",
  "apiVersion": "v1",
  "metadata": {
    "name": "node-a",
    "uid": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "resourceVersion": "42001",
    "creationTimestamp": "2024-04-01T00:00:00Z",
    "deletionTimestamp": "2024-05-02T00:00:00Z",
    "labels": {
      "kubernetes.io/arch": "amd64",
      "kubernetes.io/hostname": "node-a",
      "kubernetes.io/os": "linux",
      "topology.kubernetes.io/region": "region-1",
      "topology.kubernetes.io/zone": "zone-a"
    },
    "annotations": {"node.alpha.kubernetes.io/ttl": "0"}
  },
  "spec": {
    "podCIDR": "10.244.1.0/24",
    "podCIDRs": ["10.244.1.0/24"],
    "taints": [
      {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
      {"key": "ToBeDeletedByClusterAutoscaler", "value": "1714600000", "effect": "NoSchedule"}
    ]
  },
  "status": {
    "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2024-05-01T10:00:00Z",
                    "lastTransitionTime": "2024-04-01T00:01:00Z", "reason": "KubeletReady",
                    "message": "kubelet is posting ready status"}],
    "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": "node-a"}],
    "nodeInfo": {"kubeletVersion": "v1.30.0", "kubeProxyVersion": "v1.30.0", "operatingSystem": "linux",
                 "architecture": "amd64"}
  }
})json");
}

json MakeService(const std::string& ns, const std::string& name, const std::vector<std::string>& cluster_ips,
                 const std::vector<PortSpec>& ports) {
  json families = json::array();
  for (const std::string& ip : cluster_ips) {
    families.push_back(ip.find(':') == std::string::npos ? "IPv4" : "IPv6");
  }
  json port_list = json::array();
  for (const PortSpec& p : ports) {
    port_list.push_back({{"name", p.name},
                         {"protocol", p.protocol},
                         {"port", p.port},
                         {"targetPort", p.target_port == 0 ? p.port : p.target_port}});
  }
  json spec = {
      {"ports", port_list},
      {"selector", {{"app", name}}},
      {"clusterIP", cluster_ips.empty() ? "" : cluster_ips[0]},
      {"clusterIPs", cluster_ips},
      {"type", "ClusterIP"},
      {"sessionAffinity", "None"},
      {"ipFamilies", families},
      {"ipFamilyPolicy", cluster_ips.size() > 1 ? "RequireDualStack" : "SingleStack"},
      {"internalTrafficPolicy", "Cluster"},
  };
  if (!cluster_ips.empty() && cluster_ips[0] == "None") spec["ipFamilies"] = {"IPv4"};
  return {{"kind", "Service"},
          {"apiVersion", "v1"},
          {"metadata", Metadata(ns, name)},
          {"spec", spec},
          {"status", {{"loadBalancer", json::object()}}}};
}

EndpointSpec Ready(const std::string& ip, const std::string& node) {
  EndpointSpec spec;
  spec.addresses = {ip};
  spec.node_name = node;
  spec.ready = true;
  spec.serving = true;
  spec.terminating = false;
  return spec;
}

EndpointSpec ServingTerminating(const std::string& ip, const std::string& node) {
  EndpointSpec spec = Ready(ip, node);
  spec.ready = false;
  spec.terminating = true;
  return spec;
}

json MakeSlice(const std::string& ns, const std::string& name, const std::string& service,
               const std::string& address_type, const std::vector<SlicePortSpec>& ports,
               const std::vector<EndpointSpec>& endpoints) {
  json meta = Metadata(ns, name);
  meta["generateName"] = service + "-";
  meta["generation"] = 1;
  meta["labels"] = {{"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"}};
  if (!service.empty()) meta["labels"]["kubernetes.io/service-name"] = service;
  meta["annotations"] = {{"endpoints.kubernetes.io/last-change-trigger-time", "2024-05-01T10:00:05Z"}};
  json port_list = json::array();
  for (const SlicePortSpec& p : ports)
    port_list.push_back({{"name", p.name}, {"protocol", p.protocol}, {"port", p.port}});
  // The API server sends null, not [], for a slice without endpoints.
  json endpoint_list = endpoints.empty() ? json(nullptr) : json::array();
  for (const EndpointSpec& e : endpoints) {
    json endpoint = {{"addresses", e.addresses}, {"conditions", json::object()}};
    if (e.ready) endpoint["conditions"]["ready"] = *e.ready;
    if (e.serving) endpoint["conditions"]["serving"] = *e.serving;
    if (e.terminating) endpoint["conditions"]["terminating"] = *e.terminating;
    if (!e.node_name.empty()) endpoint["nodeName"] = e.node_name;
    if (!e.zone.empty()) endpoint["zone"] = e.zone;
    if (!e.zone_hints.empty() || !e.node_hints.empty()) endpoint["hints"] = json::object();
    for (const std::string& z : e.zone_hints) endpoint["hints"]["forZones"].push_back({{"name", z}});
    for (const std::string& n : e.node_hints) endpoint["hints"]["forNodes"].push_back({{"name", n}});
    endpoint["targetRef"] = {{"kind", "Pod"},
                             {"namespace", ns},
                             {"name", absl::StrCat(service, "-pod-", e.addresses.empty() ? "none" : e.addresses[0])}};
    endpoint_list.push_back(endpoint);
  }
  return {{"kind", "EndpointSlice"},     {"apiVersion", "discovery.k8s.io/v1"}, {"metadata", meta},
          {"addressType", address_type}, {"endpoints", endpoint_list},          {"ports", port_list}};
}

json MakeNode(const std::string& name, const std::string& zone) {
  json meta = Metadata("", name);
  meta["labels"] = {{"kubernetes.io/hostname", name}, {"kubernetes.io/os", "linux"}};
  if (!zone.empty()) meta["labels"]["topology.kubernetes.io/zone"] = zone;
  return {{"kind", "Node"},
          {"apiVersion", "v1"},
          {"metadata", meta},
          {"spec", {{"podCIDR", "10.244.1.0/24"}, {"podCIDRs", {"10.244.1.0/24"}}}},
          {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", "192.168.1.10"}}}}}}};
}

}  // namespace bpfproxy::k8s::testing
