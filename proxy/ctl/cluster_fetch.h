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

// Where the daemon serves NodePorts, worked out from its flags the way it
// does (proxy/main.cc NodeViews).
struct FetchOptions {
  std::string node_name;
  // The addresses of the devices the daemon serves NodePorts on.
  std::vector<IpAddress> node_addresses;
  std::vector<std::string> nodeport_addresses_flag;  // --nodeport-addresses
  std::string bind_address = "0.0.0.0";              // --bind-address: "primary" overrides
  bool iptables_localhost_nodeports = true;          // --iptables-localhost-nodeports
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

}  // namespace bpfproxy::ctl

#endif  // BPFPROXY_PROXY_CTL_CLUSTER_FETCH_H_
