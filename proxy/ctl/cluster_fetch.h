// What `bpfproxyctl explain` reads from the API server: this node's Node,
// every Service, and the EndpointSlices of the Services whose frontends
// match the query. Plain LISTs through the daemon's own ApiClient, so the
// tool authenticates exactly as the daemon does (--kubeconfig, --master,
// in-cluster) and needs only the daemon's RBAC (list services,
// endpointslices, nodes).
#ifndef BPFPROXY_PROXY_CTL_CLUSTER_FETCH_H_
#define BPFPROXY_PROXY_CTL_CLUSTER_FETCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "k8s/api_client.h"
#include "proxy/explain.h"
#include "proxy/ip_address.h"

namespace bpfproxy::ctl {

struct FetchOptions {
  std::string node_name;
  // The addresses of the devices the daemon serves NodePorts on, and its
  // --nodeport-addresses value.
  std::vector<IpAddress> node_addresses;
  std::vector<std::string> nodeport_addresses_flag;
  std::string service_proxy_name;
};

struct Fetched {
  ExplainInput input;
  // Objects that did not decode (skipped, as the daemon skips them).
  std::vector<std::string> warnings;
};

// Lists what explaining |query| needs. Fails when the API server cannot be
// listed or --nodeport-addresses is invalid.
absl::StatusOr<Fetched> FetchExplainInput(k8s::ApiClient& client, const ExplainQuery& query,
                                          const FetchOptions& options);

// The InternalIP addresses in a Node object's status.addresses (for
// --nodeport-addresses=primary); entries that do not parse are skipped.
std::vector<IpAddress> NodeInternalIps(const nlohmann::json& node);

// Whether the daemon serves NodePorts on 127.0.0.1 too: --nodeport-addresses
// unset, or a CIDR of it contains 127.0.0.1.
bool LocalhostNodePorts(const std::vector<std::string>& nodeport_addresses_flag);

}  // namespace bpfproxy::ctl

#endif  // BPFPROXY_PROXY_CTL_CLUSTER_FETCH_H_
