// The per-endpoint half of explain (proxy/explain.h): kube-proxy's
// EndpointSliceCache.addEndpoints and topology.go CategorizeEndpoints for
// one Service port, as proxy/service_tracker.cc applies them, with every
// endpoint's reason kept. Internal to explain.cc.
#ifndef BPFPROXY_PROXY_EXPLAIN_ENDPOINTS_H_
#define BPFPROXY_PROXY_EXPLAIN_ENDPOINTS_H_

#include <string>

#include "k8s/objects.h"
#include "proxy/explain.h"

namespace bpfproxy {

// Fills |out|'s endpoints (one row per endpoint of every slice of
// |service|, in slice-name order), its cluster and local endpoints, has_any
// and the topology note, for |port| in |family|. |zone| is this node's.
void ExplainEndpoints(const ExplainInput& input, const std::string& zone, const k8s::Service& service,
                      const k8s::ServicePort& port, k8s::IpFamily family, ExplainedPort& out);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_EXPLAIN_ENDPOINTS_H_
