// Real-shaped Kubernetes objects for end-to-end tests and the demo, built in
// code so that each use says only what matters to it.
#ifndef BPFPROXY_E2E_K8S_OBJECTS_H_
#define BPFPROXY_E2E_K8S_OBJECTS_H_

#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "proxy/ip_address.h"

namespace bpfproxy::e2e {

struct PortSpec {
  std::string name;
  int port;
  std::string protocol;
  int node_port = 0;  // spec.ports[].nodePort of NodePort/LoadBalancer Services; 0: none.
};

struct EndpointSpec {
  IpAddress ip;
  std::string node;
  bool ready = true;
  bool serving = true;
  bool terminating = false;
};

inline EndpointSpec Ready(const IpAddress& ip, const std::string& node) { return {ip, node, true, true, false}; }
inline EndpointSpec NotReady(const IpAddress& ip, const std::string& node) { return {ip, node, false, false, false}; }
inline EndpointSpec Terminating(const IpAddress& ip, const std::string& node, bool serving) {
  return {ip, node, false, serving, true};
}

inline L4Address L4(const char* text) { return L4Address::Parse(text).value(); }

// Everything of a Service spec (and status) the tests vary. The defaults
// make a single-stack ClusterIP Service.
struct ServiceSpec {
  std::string type = "ClusterIP";  // "ClusterIP", "NodePort" or "LoadBalancer".
  // spec.clusterIPs; the first is spec.clusterIP. One of each family makes
  // the Service dual-stack (ipFamilyPolicy RequireDualStack).
  std::vector<std::string> cluster_ips;
  std::vector<PortSpec> ports;
  std::map<std::string, std::string> labels;
  std::string external_traffic_policy = "Cluster";  // Only set for NodePort/LoadBalancer.
  int health_check_node_port = 0;                   // 0: none.
  std::vector<std::string> external_ips;            // spec.externalIPs
  std::vector<std::string> source_ranges;           // spec.loadBalancerSourceRanges
  std::vector<std::string> load_balancer_ingress;   // status.loadBalancer.ingress[].ip
};

// A Service in "default"; targetPort is the port's name, so the
// EndpointSlice decides the number.
inline nlohmann::json ServiceObject(const std::string& name, const ServiceSpec& spec) {
  nlohmann::json ports = nlohmann::json::array();
  for (const PortSpec& port : spec.ports) {
    nlohmann::json p = {{"name", port.name}, {"port", port.port}, {"protocol", port.protocol}, {"targetPort", port.name}};
    if (port.node_port != 0) p["nodePort"] = port.node_port;
    ports.push_back(p);
  }
  nlohmann::json families = nlohmann::json::array();
  for (const std::string& ip : spec.cluster_ips) families.push_back(ip.find(':') == std::string::npos ? "IPv4" : "IPv6");
  nlohmann::json meta = {{"name", name}, {"namespace", "default"}};
  if (!spec.labels.empty()) meta["labels"] = spec.labels;
  nlohmann::json s = {{"type", spec.type},
                      {"clusterIP", spec.cluster_ips.empty() ? "" : spec.cluster_ips.front()},
                      {"clusterIPs", spec.cluster_ips},
                      {"ipFamilies", families},
                      {"ipFamilyPolicy", families.size() > 1 ? "RequireDualStack" : "SingleStack"},
                      {"internalTrafficPolicy", "Cluster"},
                      {"sessionAffinity", "None"},
                      {"ports", ports}};
  if (spec.type != "ClusterIP") s["externalTrafficPolicy"] = spec.external_traffic_policy;
  if (spec.health_check_node_port != 0) s["healthCheckNodePort"] = spec.health_check_node_port;
  if (!spec.external_ips.empty()) s["externalIPs"] = spec.external_ips;
  if (!spec.source_ranges.empty()) s["loadBalancerSourceRanges"] = spec.source_ranges;
  nlohmann::json ingress = nlohmann::json::array();
  for (const std::string& ip : spec.load_balancer_ingress) ingress.push_back({{"ip", ip}});
  nlohmann::json load_balancer = nlohmann::json::object();
  if (!ingress.empty()) load_balancer["ingress"] = ingress;
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", meta},
          {"spec", s},
          {"status", {{"loadBalancer", load_balancer}}}};
}

// A single-stack ClusterIP Service.
inline nlohmann::json ServiceObject(const std::string& name, const std::string& cluster_ip,
                                    const std::vector<PortSpec>& ports,
                                    const std::map<std::string, std::string>& labels = {}) {
  return ServiceObject(name, ServiceSpec{.cluster_ips = {cluster_ip}, .ports = ports, .labels = labels});
}

// |address_type| "" follows the endpoints' family (IPv4 when there are none).
inline nlohmann::json SliceObject(const std::string& service, const std::string& name,
                                  const std::vector<PortSpec>& ports, const std::vector<EndpointSpec>& endpoints,
                                  std::string address_type = "") {
  if (address_type.empty()) address_type = !endpoints.empty() && !endpoints.front().ip.is_v4() ? "IPv6" : "IPv4";
  nlohmann::json p = nlohmann::json::array();
  for (const PortSpec& port : ports) p.push_back({{"name", port.name}, {"port", port.port}, {"protocol", port.protocol}});
  nlohmann::json e = nlohmann::json::array();
  for (const EndpointSpec& ep : endpoints) {
    e.push_back({{"addresses", {ep.ip.ToString()}},
                 {"conditions", {{"ready", ep.ready}, {"serving", ep.serving}, {"terminating", ep.terminating}}},
                 {"nodeName", ep.node}});
  }
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", name},
            {"namespace", "default"},
            {"labels", {{"kubernetes.io/service-name", service}, {"endpointslice.kubernetes.io/managed-by",
                                                                 "endpointslice-controller.k8s.io"}}}}},
          {"addressType", address_type},
          {"ports", p},
          {"endpoints", e}};
}

inline nlohmann::json NodeObject(const std::string& name, const std::string& zone) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"labels", {{"topology.kubernetes.io/zone", zone}}}}},
          {"spec", nlohmann::json::object()}};
}

}  // namespace bpfproxy::e2e

#endif  // BPFPROXY_E2E_K8S_OBJECTS_H_
