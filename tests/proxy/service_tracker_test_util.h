// Helpers shared by the ServiceTracker tests: frontends dumped into sorted
// text lines, compared against expected lines.
#ifndef BPFPROXY_TESTS_PROXY_SERVICE_TRACKER_TEST_UTIL_H_
#define BPFPROXY_TESTS_PROXY_SERVICE_TRACKER_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "proxy/service_tracker.h"

namespace bpfproxy::tracker_testing {

// One line per frontend, in frontend order:
//   "10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP 10.244.2.6:8080/TCP"
//   "10.96.0.10:80/TCP -> REJECT"   (no backends: connection refused)
//   "10.96.0.10:80/TCP -> DROP"     (no backends, in the drop set)
// A frontend in the drop set that has backends (a bug) shows as "[DROP]".
inline std::vector<std::string> Dump(const DesiredFrontends& frontends, const absl::btree_set<L4Address>& drop) {
  std::vector<std::string> lines;
  for (const auto& [frontend, backends] : frontends) {
    std::string line = absl::StrCat(frontend.ToString(), " -> ");
    if (backends.empty()) {
      absl::StrAppend(&line, drop.contains(frontend) ? "DROP" : "REJECT");
    } else {
      absl::StrAppend(&line, absl::StrJoin(backends, " ", [](std::string* out, const L4Address& backend) {
        absl::StrAppend(out, backend.ToString());
      }));
      if (drop.contains(frontend)) absl::StrAppend(&line, " [DROP]");
    }
    lines.push_back(std::move(line));
  }
  for (const L4Address& frontend : drop) {
    if (!frontends.contains(frontend))
      lines.push_back(absl::StrCat(frontend.ToString(), " -> [DROP without frontend]"));
  }
  return lines;
}

inline std::vector<std::string> DumpAll(const ServiceTracker& tracker) {
  return Dump(tracker.AllFrontends(), tracker.AllDropFrontends());
}
inline std::vector<std::string> DumpPrevious(const FrontendChange& change) {
  return Dump(change.previous, change.previous_drop);
}
inline std::vector<std::string> DumpCurrent(const FrontendChange& change) {
  return Dump(change.current, change.current_drop);
}

// "default/web" for each changed Service.
inline std::vector<std::string> ChangedNames(const absl::btree_map<ServiceName, FrontendChange>& changes) {
  std::vector<std::string> names;
  for (const auto& [name, change] : changes) names.push_back(name.ToString());
  return names;
}

inline nlohmann::json WithInternalTrafficPolicyLocal(nlohmann::json service) {
  service["spec"]["internalTrafficPolicy"] = "Local";
  return service;
}

// One line per external frontend, in frontend order, with its policy:
//   "192.168.1.10:30080/TCP -> 10.244.1.5:8080/TCP flags=preserve-source"
//   "192.168.1.10:30080/TCP -> none flags=preserve-source,drop-no-backend"
// A policy without its frontend (a bug) shows as "[policy without frontend]".
inline std::vector<std::string> DumpExternal(const ExternalFrontends& view) {
  std::vector<std::string> lines;
  for (const auto& [frontend, backends] : view.frontends) {
    std::string line = absl::StrCat(frontend.ToString(), " -> ");
    if (backends.empty()) {
      absl::StrAppend(&line, "none");
    } else {
      absl::StrAppend(&line, absl::StrJoin(backends, " ", [](std::string* out, const L4Address& backend) {
        absl::StrAppend(out, backend.ToString());
      }));
    }
    absl::StrAppend(&line, " ", view.PolicyOf(frontend).ToString());
    lines.push_back(std::move(line));
  }
  for (const auto& [frontend, policy] : view.policies) {
    if (!view.frontends.contains(frontend)) {
      lines.push_back(absl::StrCat(frontend.ToString(), " -> [policy without frontend] ", policy.ToString()));
    }
  }
  return lines;
}

// Service shapes: each returns |service| changed.
inline nlohmann::json WithType(nlohmann::json service, const std::string& type) {
  service["spec"]["type"] = type;
  return service;
}
// spec.ports[i].nodePort = node_ports[i]; type NodePort unless already
// LoadBalancer.
inline nlohmann::json WithNodePorts(nlohmann::json service, const std::vector<int>& node_ports) {
  for (size_t i = 0; i < node_ports.size(); ++i) service["spec"]["ports"][i]["nodePort"] = node_ports[i];
  if (service["spec"]["type"] != "LoadBalancer") service["spec"]["type"] = "NodePort";
  return service;
}
inline nlohmann::json WithExternalIps(nlohmann::json service, const std::vector<std::string>& ips) {
  service["spec"]["externalIPs"] = ips;
  return service;
}
// status.loadBalancer.ingress: {ip, ipMode} pairs; ipMode "" leaves it unset.
// Type LoadBalancer.
inline nlohmann::json WithIngress(nlohmann::json service,
                                  const std::vector<std::pair<std::string, std::string>>& ingress) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [ip, mode] : ingress) {
    nlohmann::json entry = {{"ip", ip}};
    if (!mode.empty()) entry["ipMode"] = mode;
    list.push_back(entry);
  }
  service["status"]["loadBalancer"]["ingress"] = list;
  service["spec"]["type"] = "LoadBalancer";
  return service;
}
inline nlohmann::json WithSourceRanges(nlohmann::json service, const std::vector<std::string>& ranges) {
  service["spec"]["loadBalancerSourceRanges"] = ranges;
  return service;
}
inline nlohmann::json WithExternalTrafficPolicyLocal(nlohmann::json service) {
  service["spec"]["externalTrafficPolicy"] = "Local";
  return service;
}
inline nlohmann::json WithHealthCheckNodePort(nlohmann::json service, int port) {
  service["spec"]["healthCheckNodePort"] = port;
  return service;
}

}  // namespace bpfproxy::tracker_testing

#endif  // BPFPROXY_TESTS_PROXY_SERVICE_TRACKER_TEST_UTIL_H_
