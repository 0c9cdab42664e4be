// `bpfproxyctl explain <VIP:port[/proto]>`: for a Service address, which
// endpoints the datapath should use and why each of the others is not
// used, in each view of the datapath, and whether the pinned maps agree.
//
// The reasons are kube-proxy's rules (shared/KUBE_PROXY_REFERENCE.md, "Which
// Services and endpoints are programmed"), applied to the decoded
// Services, EndpointSlices and Node the way proxy/service_tracker.cc
// (CategorizeEndpoints) and proxy/service_views.h apply them, but kept per
// endpoint: not ready; terminating while ready endpoints exist; on another
// node under a Local traffic policy; excluded by topology hints; no slice
// port of the Service port's name and protocol; another address family;
// a duplicate IP:port; no address (proxy/explain_endpoints.cc).
// tests/proxy/explain_crosscheck_test.cc checks that the endpoints and
// frontends explain calls eligible are exactly the ServiceTracker's and
// ComputeViews()', so the two cannot drift apart.
//
// Pure functions over plain values: proxy/ctl/ fetches the objects and reads
// the maps.
#ifndef BPFPROXY_PROXY_EXPLAIN_H_
#define BPFPROXY_PROXY_EXPLAIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "k8s/objects.h"
#include "proxy/ctl/datapath_snapshot.h"
#include "proxy/ip_address.h"

namespace bpfproxy {

// "10.96.0.10:80", "10.96.0.10:80/TCP", "[fd00::10]:53/udp": an address to
// explain. Without a protocol, every protocol on that port matches.
struct ExplainQuery {
  IpAddress ip;
  uint16_t port = 0;
  std::optional<Protocol> protocol;

  static absl::StatusOr<ExplainQuery> Parse(absl::string_view text);
  std::string ToString() const;
  bool Matches(const L4Address& frontend) const;
};

// What explain knows of the cluster and of this node.
struct ExplainInput {
  std::string node_name;             // --hostname-override, or the hostname.
  std::optional<k8s::Node> node;     // This node's Node (its zone), if found.
  // Where NodePorts are served on this node (SelectNodePortAddresses() of
  // the daemon's --nodeport-addresses), and whether 127.0.0.1 serves them
  // too (socket view only).
  std::vector<IpAddress> nodeport_addresses;
  bool localhost_nodeports = true;
  // The Services to match the query against, and the EndpointSlices of
  // those that match (others are ignored): slices belong to a Service by
  // namespace and their kubernetes.io/service-name label.
  std::vector<k8s::Service> services;
  std::vector<k8s::EndpointSlice> slices;
  // kube-proxy's serviceProxyName ("": Services without that label).
  std::string service_proxy_name;
};

// How a frontend address belongs to its Service.
enum class FrontendKind { kClusterIp, kExternalIp, kLoadBalancerIp, kNodePort, kLocalhostNodePort };
absl::string_view FrontendKindName(FrontendKind kind);  // "ClusterIP", "externalIP", ...

// Why an endpoint is or is not used, for one view of one Service port.
enum class EndpointReason {
  kEligible,
  kNotReady,               // Neither ready nor serving-and-terminating.
  kTerminatingWhileReady,  // Serving and terminating, but ready endpoints exist.
  kOtherNode,              // A Local traffic policy, and the endpoint is elsewhere.
  kTopology,               // Topology hints send this node's traffic elsewhere.
  kPortMismatch,           // Its slice has no port of the Service port's name and protocol.
  kOtherFamily,            // Its slice is of the other address family (or FQDN).
  kDuplicate,              // Its IP:port is already another endpoint's.
  kNoAddress,              // No addresses.
};
// "eligible", "not-ready", "terminating-while-ready", "other-node",
// "topology", "port-mismatch", "other-family", "duplicate", "no-address".
absl::string_view EndpointReasonName(EndpointReason reason);

struct EndpointJudgement {
  EndpointReason reason = EndpointReason::kEligible;
  std::string detail;  // Human text: "ready=false serving=false", "hints: zones [zone-b]", ...
  bool eligible() const { return reason == EndpointReason::kEligible; }
};

// One endpoint of one of the Service's slices, as seen for one port.
struct EndpointRow {
  std::string slice;
  std::string address;                 // addresses[0]; "" when it has none.
  std::optional<L4Address> backend;    // address:slice port, when a slice port matched.
  std::string node_name, zone;
  k8s::EndpointConditions conditions;
  bool local = false;                  // On this node.
  EndpointJudgement cluster;           // For the cluster endpoints.
  EndpointJudgement local_judgement;   // For the local endpoints (a Local policy).
};

// What the datapath does with a frontend's traffic.
enum class Verdict { kForward, kRefuse, kDrop };
absl::string_view VerdictName(Verdict verdict);  // "forward", "refuse", "drop"

// One view of one frontend: what it should hold, what it holds, and where
// the two differ.
struct ExplainedView {
  ctl::View view = ctl::View::kSocket;
  L4Address frontend;  // As this view holds it.
  // The traffic policy in force ("internalTrafficPolicy"/"externalTrafficPolicy"),
  // and whether it restricts the view to this node's endpoints.
  std::string policy_field;
  k8s::TrafficPolicy policy = k8s::TrafficPolicy::kCluster;
  bool uses_local = false;
  // Whether the daemon programs this frontend in this view. Some frontends
  // are optional (the external view's ClusterIPs exist only with
  // --socket-lb=host-only): absent, they are no mismatch.
  bool required = true;
  // Another Service claims this frontend in this view first (by
  // namespace/name): the daemon programs that one's backends instead.
  bool shadowed = false;
  std::vector<L4Address> eligible;  // Sorted.
  Verdict verdict = Verdict::kRefuse;
  // What kube-proxy's rules ask of the per-packet policy (external view).
  std::optional<ctl::ProgrammedPolicy> expected_policy;

  // Filled by CompareWithDatapath().
  bool view_loaded = false;
  std::optional<ctl::ProgrammedFrontend> programmed;  // nullopt: not in the datapath.
  std::optional<ctl::ProgrammedPolicy> programmed_policy;  // External view, when programmed.
  std::optional<uint64_t> connections;
  std::vector<std::string> mismatches;  // Empty: the datapath agrees.
  std::vector<std::string> notes;       // Worth knowing, not wrong.

  const EndpointJudgement& JudgementOf(const EndpointRow& row) const {
    return uses_local ? row.local_judgement : row.cluster;
  }
  // Whether |row|'s backend is in the programmed backends.
  bool InDatapath(const EndpointRow& row) const;
};

// One Service port (in one family) whose frontend matched the query.
struct ExplainedPort {
  std::string service;  // "namespace/name"
  k8s::ServicePort port;
  k8s::IpFamily family = k8s::IpFamily::kIPv4;
  FrontendKind kind = FrontendKind::kClusterIp;
  L4Address frontend;
  // Non-empty when the Service programs nothing, and why (ExternalName,
  // headless, another proxy's label, ...); then there are no views.
  std::string not_programmed;
  std::vector<EndpointRow> endpoints;
  // kube-proxy's categories for this port: the cluster endpoints, the local
  // ones, and whether any endpoint is usable at all.
  std::vector<L4Address> cluster, local;
  bool has_any = false;
  std::string topology;  // How topology hints were applied, in words.
  std::vector<ExplainedView> views;
};

// A frontend the datapath holds that no Service explains.
struct StaleFrontend {
  ctl::View view;
  L4Address frontend;
  ctl::ProgrammedFrontend programmed;
};

struct Explanation {
  ExplainQuery query;
  std::string node_name, zone;
  bool node_found = false;
  std::vector<ExplainedPort> ports;
  std::vector<StaleFrontend> stale;  // Filled by CompareWithDatapath().
  std::vector<std::string> notes;
  // Any view's mismatch, or a stale frontend: what an admin must report.
  bool mismatch() const;
};

// The Services of |services| with a frontend |query| matches, and how.
struct FrontendMatch {
  const k8s::Service* service = nullptr;
  size_t port_index = 0;
  k8s::IpFamily family = k8s::IpFamily::kIPv4;
  FrontendKind kind = FrontendKind::kClusterIp;
  L4Address frontend;
};
std::vector<FrontendMatch> MatchFrontends(const ExplainQuery& query, const ExplainInput& input);

// Explains |query| from the cluster's objects alone.
Explanation Explain(const ExplainQuery& query, const ExplainInput& input);

// Fills in what the datapath holds for every view of |explanation| and the
// mismatches, plus the frontends the datapath holds for the query that no
// Service explains.
void CompareWithDatapath(const ctl::DatapathSnapshot& datapath, Explanation& explanation);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_EXPLAIN_H_
