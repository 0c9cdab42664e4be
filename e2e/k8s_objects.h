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

// A ClusterIP Service in "default"; targetPort is the port's name, so the
// EndpointSlice decides the number.
inline nlohmann::json ServiceObject(const std::string& name, const std::string& cluster_ip,
                                    const std::vector<PortSpec>& ports,
                                    const std::map<std::string, std::string>& labels = {}) {
  nlohmann::json p = nlohmann::json::array();
  for (const PortSpec& port : ports) {
    p.push_back({{"name", port.name}, {"port", port.port}, {"protocol", port.protocol}, {"targetPort", port.name}});
  }
  nlohmann::json meta = {{"name", name}, {"namespace", "default"}};
  if (!labels.empty()) meta["labels"] = labels;
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", meta},
          {"spec",
           {{"type", "ClusterIP"},
            {"clusterIP", cluster_ip},
            {"clusterIPs", {cluster_ip}},
            {"ipFamilies", {"IPv4"}},
            {"ipFamilyPolicy", "SingleStack"},
            {"internalTrafficPolicy", "Cluster"},
            {"sessionAffinity", "None"},
            {"ports", p}}},
          {"status", {{"loadBalancer", nlohmann::json::object()}}}};
}

inline nlohmann::json SliceObject(const std::string& service, const std::string& name,
                                  const std::vector<PortSpec>& ports, const std::vector<EndpointSpec>& endpoints) {
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
          {"addressType", "IPv4"},
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
