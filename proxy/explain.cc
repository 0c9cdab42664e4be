#include "proxy/explain.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "proxy/explain_endpoints.h"
#include "proxy/ip_prefix.h"

namespace bpfproxy {
namespace {

const IpAddress& Localhost4() {
  static const IpAddress* const kLocalhost = new IpAddress(IpAddress::Parse("127.0.0.1").value());
  return *kLocalhost;
}

std::string JoinAddresses(const std::vector<L4Address>& addresses) {
  return absl::StrJoin(addresses, ", ", [](std::string* out, const L4Address& a) { absl::StrAppend(out, a.ToString()); });
}

std::string JoinOrNone(const std::vector<std::string>& items) {
  return items.empty() ? "none" : absl::StrJoin(items, ", ");
}

// ---- Which Services program anything (ServiceTracker::Programmed) ----

std::string NotProgrammedReason(const k8s::Service& service, const std::string& proxy_name) {
  if (service.type == k8s::ServiceType::kExternalName) return "type ExternalName: a DNS alias, nothing to program";
  if (service.headless) return "headless (clusterIP None): DNS only, nothing to program";
  if (service.cluster_ips.empty()) return "no clusterIP allocated";
  if (service.headless_label) {
    return absl::StrCat("label ", k8s::kLabelHeadless, ": kube-proxy's watch leaves it out");
  }
  const std::optional<std::string>& label = service.service_proxy_name_label;
  if (proxy_name.empty() && label.has_value()) {
    return absl::StrCat("label ", k8s::kLabelServiceProxyName, "=", *label, ": it belongs to another proxy");
  }
  if (!proxy_name.empty() && label != proxy_name) {
    return absl::StrCat("not labelled ", k8s::kLabelServiceProxyName, "=", proxy_name, " (this proxy's name)");
  }
  return "";
}

// kube-proxy's ExternalPolicyLocal (proxy/service_views.h): the policy
// applies to NodePort and LoadBalancer Services only.
bool ExternalLocal(const k8s::Service& service) {
  return (service.type == k8s::ServiceType::kNodePort || service.type == k8s::ServiceType::kLoadBalancer) &&
         service.external_traffic_policy == k8s::TrafficPolicy::kLocal;
}

bool PerPacketProtocol(Protocol proto) { return proto == Protocol::kTcp || proto == Protocol::kUdp; }

// ---- Matching the query ----

bool Contains(const std::vector<IpAddress>& ips, const IpAddress& ip) { return absl::c_linear_search(ips, ip); }

bool IsLoadBalancerIp(const k8s::Service& service, const IpAddress& ip) {
  for (const k8s::LoadBalancerIngress& ingress : service.load_balancer_ingress) {
    if (ingress.ip == ip && ingress.ip_mode != k8s::LoadBalancerIpMode::kProxy) return true;
  }
  return false;
}

// How |ip| reaches |port| of |service| in |family|, strongest claim first
// (the ClusterIP's rule stands over any other spelling of the address, and
// an LB IP over an externalIP, as in proxy/service_views.cc).
std::optional<std::pair<FrontendKind, L4Address>> MatchPort(const ExplainQuery& query, const ExplainInput& input,
                                                            const k8s::Service& service, const k8s::ServicePort& port,
                                                            k8s::IpFamily family) {
  if (query.protocol.has_value() && *query.protocol != port.protocol) return std::nullopt;
  if (k8s::FamilyOf(query.ip) != family) return std::nullopt;
  const L4Address frontend{query.ip, query.port, port.protocol};
  if (query.port == port.port) {
    if (service.ClusterIp(family) == query.ip) return std::make_pair(FrontendKind::kClusterIp, frontend);
    if (IsLoadBalancerIp(service, query.ip)) return std::make_pair(FrontendKind::kLoadBalancerIp, frontend);
    if (Contains(service.external_ips, query.ip)) return std::make_pair(FrontendKind::kExternalIp, frontend);
  }
  if (port.node_port != 0 && query.port == port.node_port) {
    if (Contains(input.nodeport_addresses, query.ip)) return std::make_pair(FrontendKind::kNodePort, frontend);
    if (query.ip == Localhost4() && input.localhost_nodeports) {
      return std::make_pair(FrontendKind::kLocalhostNodePort, frontend);
    }
  }
  return std::nullopt;
}

// Services sorted as the daemon's tracker sorts them (namespace, then
// name): when two claim one frontend, the first wins.
std::vector<const k8s::Service*> SortedServices(const std::vector<k8s::Service>& services) {
  std::vector<const k8s::Service*> out;
  for (const k8s::Service& s : services) out.push_back(&s);
  absl::c_stable_sort(out, [](const k8s::Service* a, const k8s::Service* b) {
    return std::tie(a->meta.namespace_, a->meta.name) < std::tie(b->meta.namespace_, b->meta.name);
  });
  return out;
}

// ---- Views ----

ExplainedView MakeView(ctl::View view, const L4Address& frontend, std::string policy_field,
                       k8s::TrafficPolicy policy, bool uses_local, bool required, const ExplainedPort& port) {
  ExplainedView v{.view = view,
                  .frontend = frontend,
                  .policy_field = std::move(policy_field),
                  .policy = policy,
                  .uses_local = uses_local,
                  .required = required};
  v.eligible = uses_local ? port.local : port.cluster;
  if (!v.eligible.empty()) {
    v.verdict = Verdict::kForward;
  } else {
    // kube-proxy: no endpoints at all is REJECT; endpoints, but none on
    // this node under a Local policy, is DROP.
    v.verdict = uses_local && port.has_any ? Verdict::kDrop : Verdict::kRefuse;
  }
  return v;
}

uint16_t DropFlag(const ExplainedView& v) { return v.verdict == Verdict::kDrop ? LB_POL_F_DROP_NO_BACKEND : 0; }

// loadBalancerSourceRanges of |family| as the maps hold them: host bits
// cleared, sorted, unique.
std::vector<IpPrefix> SourceRanges(const k8s::Service& service, k8s::IpFamily family) {
  absl::btree_set<IpPrefix> ranges;
  for (const IpPrefix& range : service.load_balancer_source_ranges) {
    if (k8s::FamilyOf(range.address) == family) ranges.insert(MaskedPrefix(range));
  }
  return {ranges.begin(), ranges.end()};
}

// The views |port|'s frontend is programmed in (proxy/service_views.h).
void AddViews(const k8s::Service& service, ExplainedPort& port) {
  const k8s::TrafficPolicy itp = service.internal_traffic_policy;
  const k8s::TrafficPolicy etp = service.external_traffic_policy;
  const bool per_packet = PerPacketProtocol(port.port.protocol);
  if (port.kind == FrontendKind::kClusterIp) {
    const bool local = itp == k8s::TrafficPolicy::kLocal;
    port.views.push_back(MakeView(ctl::View::kSocket, port.frontend, "internalTrafficPolicy", itp, local, true, port));
    if (per_packet) {
      // Only with --socket-lb=host-only, for pods whose sockets are not hooked.
      ExplainedView v =
          MakeView(ctl::View::kExternal, port.frontend, "internalTrafficPolicy", itp, local, false, port);
      v.expected_policy = ctl::ProgrammedPolicy{.flags = static_cast<uint16_t>(LB_POL_F_PRESERVE_SOURCE | DropFlag(v))};
      port.views.push_back(std::move(v));
    }
    return;
  }
  if (port.kind != FrontendKind::kLocalhostNodePort && per_packet) {
    const bool local = ExternalLocal(service);
    ExplainedView v = MakeView(ctl::View::kExternal, port.frontend, "externalTrafficPolicy", etp, local, true, port);
    ctl::ProgrammedPolicy policy{
        .flags = static_cast<uint16_t>((local ? LB_POL_F_PRESERVE_SOURCE : 0) | DropFlag(v))};
    if (port.kind == FrontendKind::kLoadBalancerIp) {
      policy.source_ranges = SourceRanges(service, port.family);
      if (!policy.source_ranges.empty()) policy.flags |= LB_POL_F_SOURCE_RANGES;
    }
    v.expected_policy = std::move(policy);
    port.views.push_back(std::move(v));
  }
  // Pods and the node itself use the cluster endpoints whatever the
  // externalTrafficPolicy, as kube-proxy's short-circuit does.
  ExplainedView socket = MakeView(ctl::View::kSocket, port.frontend, "", k8s::TrafficPolicy::kCluster, false, true, port);
  if (!per_packet && port.kind != FrontendKind::kLocalhostNodePort) {
    socket.notes.push_back(absl::StrCat("the per-packet path translates TCP and UDP only: ",
                                        ProtocolName(port.port.protocol),
                                        " from outside the node is not translated"));
  }
  port.views.push_back(std::move(socket));
}

// When two Services claim one frontend in one view, the daemon programs the
// first by namespace/name; the others are shadowed.
void MarkShadowed(Explanation& e) {
  absl::btree_map<std::pair<ctl::View, L4Address>, std::string> owner;
  for (ExplainedPort& port : e.ports) {
    for (ExplainedView& v : port.views) {
      auto [it, inserted] = owner.try_emplace({v.view, v.frontend}, port.service);
      if (!inserted && it->second != port.service) {
        v.required = false;
        v.notes.push_back(absl::StrCat("shadowed: ", it->second, " claims ", v.frontend.ToString(),
                                       " first (by namespace/name), so the datapath holds its backends"));
        v.shadowed = true;
      }
    }
  }
}

// Hints for a query that matched nothing.
void NoteNearMisses(const ExplainQuery& query, const ExplainInput& input, Explanation& e) {
  for (const k8s::Service* service : SortedServices(input.services)) {
    for (const k8s::ServicePort& port : service->ports) {
      if (port.node_port == 0 || port.node_port != query.port) continue;
      if (query.protocol.has_value() && *query.protocol != port.protocol) continue;
      std::vector<std::string> addresses;
      for (const IpAddress& ip : input.nodeport_addresses) addresses.push_back(ip.ToString());
      e.notes.push_back(absl::StrCat(service->meta.Key(), " has NodePort ", port.node_port, "/",
                                     ProtocolName(port.protocol), ", but ", query.ip.ToString(),
                                     " is not a NodePort address of this node (", JoinOrNone(addresses),
                                     "; see --nodeport-addresses)"));
    }
  }
  if (e.notes.empty()) e.notes.push_back(absl::StrCat("no Service has the frontend ", query.ToString()));
}

// ---- Comparing with the datapath ----

std::string VerdictText(Verdict v) {
  switch (v) {
    case Verdict::kForward:
      return "forwards";
    case Verdict::kRefuse:
      return "refuses";
    case Verdict::kDrop:
      return "drops";
  }
  return "?";
}

void ComparePolicy(const ctl::DatapathSnapshot& datapath, ExplainedView& v) {
  v.programmed_policy = datapath.PolicyOf(v.frontend);
  const ctl::ProgrammedPolicy& got = *v.programmed_policy;
  const ctl::ProgrammedPolicy& want = *v.expected_policy;
  if (got.flags != want.flags) {
    v.mismatches.push_back(absl::StrCat("policy flags: the datapath has ", ctl::PolicyFlagNames(got.flags),
                                        ", kube-proxy's rules ask for ", ctl::PolicyFlagNames(want.flags)));
  }
  if (got.source_ranges != want.source_ranges) {
    auto text = [](const std::vector<IpPrefix>& ranges) {
      std::vector<std::string> out;
      for (const IpPrefix& p : ranges) out.push_back(IpPrefixString(p));
      return JoinOrNone(out);
    };
    v.mismatches.push_back(absl::StrCat("source ranges: the datapath has ", text(got.source_ranges),
                                        ", the Service asks for ", text(want.source_ranges)));
  }
  if (v.programmed->count == 0 && v.verdict != Verdict::kForward) {
    const Verdict datapath_verdict = got.flags & LB_POL_F_DROP_NO_BACKEND ? Verdict::kDrop : Verdict::kRefuse;
    if (datapath_verdict != v.verdict) {
      v.mismatches.push_back(absl::StrCat("no backends: the datapath ", VerdictText(datapath_verdict),
                                          " the traffic, kube-proxy ", VerdictText(v.verdict), " it"));
    }
  }
}

void CompareBackends(ExplainedView& v) {
  const absl::btree_set<L4Address> programmed(v.programmed->backends.begin(), v.programmed->backends.end());
  const absl::btree_set<L4Address> eligible(v.eligible.begin(), v.eligible.end());
  std::vector<L4Address> missing, extra;
  absl::c_set_difference(eligible, programmed, std::back_inserter(missing));
  absl::c_set_difference(programmed, eligible, std::back_inserter(extra));
  if (!missing.empty()) v.mismatches.push_back("eligible but not in the datapath: " + JoinAddresses(missing));
  if (!extra.empty()) v.mismatches.push_back("in the datapath but not eligible: " + JoinAddresses(extra));
  if (programmed.size() != v.programmed->backends.size()) {
    v.mismatches.push_back("a backend fills more than one slot: traffic is not spread evenly");
  }
  for (const std::string& problem : v.programmed->problems) v.mismatches.push_back("broken entry: " + problem);
}

void CompareView(const ctl::DatapathSnapshot& datapath, ExplainedView& v) {
  v.view_loaded = datapath.view(v.view) != nullptr;
  if (!v.view_loaded) {
    v.notes.push_back("the per-packet path is not loaded (socket-LB-only mode): traffic from outside the node to " +
                      v.frontend.ToString() + " is not translated");
    return;
  }
  const ctl::ProgrammedFrontend* programmed = datapath.Find(v.view, v.frontend);
  if (programmed == nullptr) {
    if (v.required) {
      v.mismatches.push_back("not in the datapath: the daemon has not programmed this frontend");
    } else if (!v.shadowed) {
      v.notes.push_back("not in this view: it holds ClusterIPs only with --socket-lb=host-only");
    }
    return;
  }
  v.programmed = *programmed;
  v.connections = datapath.Connections(v.view, programmed->service_id);
  if (v.shadowed) return;  // The owner's view says whether it matches.
  CompareBackends(v);
  if (v.expected_policy.has_value()) ComparePolicy(datapath, v);
  if (v.view == ctl::View::kSocket && v.verdict == Verdict::kDrop && programmed->count == 0) {
    v.notes.push_back("kube-proxy drops this traffic; the socket hooks have no drop verdict and refuse it");
  }
}

// Frontends the datapath holds for the query that no programmed Service
// port explains: left over, or written by something else.
void FindStale(const ctl::DatapathSnapshot& datapath, Explanation& e) {
  absl::btree_set<std::pair<ctl::View, L4Address>> explained;
  for (const ExplainedPort& port : e.ports) {
    for (const ExplainedView& v : port.views) explained.insert({v.view, v.frontend});
  }
  for (ctl::View view : {ctl::View::kSocket, ctl::View::kExternal}) {
    const ctl::ProgrammedView* in = datapath.view(view);
    if (in == nullptr) continue;
    for (const auto& [frontend, programmed] : in->frontends) {
      if (e.query.Matches(frontend) && !explained.contains({view, frontend})) {
        e.stale.push_back(StaleFrontend{view, frontend, programmed});
      }
    }
  }
}

}  // namespace

// ---- Public ----

absl::StatusOr<ExplainQuery> ExplainQuery::Parse(absl::string_view text) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bad address \"", text, "\": ", why,
                                                   " (want IP:port[/protocol], IPv6 as [IP]:port)"));
  };
  ExplainQuery query;
  absl::string_view rest = text;
  if (size_t slash = rest.rfind('/'); slash != absl::string_view::npos) {
    absl::StatusOr<Protocol> proto = ParseProtocol(absl::AsciiStrToUpper(rest.substr(slash + 1)));
    if (!proto.ok()) return invalid("unknown protocol");
    query.protocol = *proto;
    rest = rest.substr(0, slash);
  }
  const size_t colon = rest.rfind(':');
  if (colon == absl::string_view::npos) return invalid("no port");
  absl::string_view host = rest.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[") && !absl::ConsumeSuffix(&host, "]")) return invalid("unbalanced brackets");
  if (host.find(':') != absl::string_view::npos && rest.front() != '[') return invalid("IPv6 needs brackets");
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(host);
  if (!ip.ok()) return invalid("not an IP address");
  query.ip = *ip;
  uint32_t port = 0;
  if (!absl::SimpleAtoi(rest.substr(colon + 1), &port) || port == 0 || port > 65535) return invalid("bad port");
  query.port = static_cast<uint16_t>(port);
  return query;
}

std::string ExplainQuery::ToString() const {
  std::string out = ip.is_v4() ? ip.ToString() : absl::StrCat("[", ip.ToString(), "]");
  absl::StrAppend(&out, ":", port);
  if (protocol.has_value()) absl::StrAppend(&out, "/", ProtocolName(*protocol));
  return out;
}

bool ExplainQuery::Matches(const L4Address& frontend) const {
  return frontend.ip == ip && frontend.port == port && (!protocol.has_value() || *protocol == frontend.proto);
}

absl::string_view FrontendKindName(FrontendKind kind) {
  switch (kind) {
    case FrontendKind::kClusterIp:
      return "ClusterIP";
    case FrontendKind::kExternalIp:
      return "externalIP";
    case FrontendKind::kLoadBalancerIp:
      return "LoadBalancer IP";
    case FrontendKind::kNodePort:
      return "NodePort";
    case FrontendKind::kLocalhostNodePort:
      return "localhost NodePort";
  }
  return "?";
}

absl::string_view EndpointReasonName(EndpointReason reason) {
  switch (reason) {
    case EndpointReason::kEligible:
      return "eligible";
    case EndpointReason::kNotReady:
      return "not-ready";
    case EndpointReason::kTerminatingWhileReady:
      return "terminating-while-ready";
    case EndpointReason::kOtherNode:
      return "other-node";
    case EndpointReason::kTopology:
      return "topology";
    case EndpointReason::kPortMismatch:
      return "port-mismatch";
    case EndpointReason::kOtherFamily:
      return "other-family";
    case EndpointReason::kDuplicate:
      return "duplicate";
    case EndpointReason::kNoAddress:
      return "no-address";
  }
  return "?";
}

absl::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kForward:
      return "forward";
    case Verdict::kRefuse:
      return "refuse";
    case Verdict::kDrop:
      return "drop";
  }
  return "?";
}

bool ExplainedView::InDatapath(const EndpointRow& row) const {
  return programmed.has_value() && row.backend.has_value() &&
         absl::c_linear_search(programmed->backends, *row.backend);
}

bool Explanation::mismatch() const {
  if (!stale.empty()) return true;
  for (const ExplainedPort& port : ports) {
    for (const ExplainedView& v : port.views) {
      if (!v.mismatches.empty()) return true;
    }
  }
  return false;
}

std::vector<FrontendMatch> MatchFrontends(const ExplainQuery& query, const ExplainInput& input) {
  std::vector<FrontendMatch> out;
  for (const k8s::Service* service : SortedServices(input.services)) {
    for (size_t i = 0; i < service->ports.size(); ++i) {
      for (k8s::IpFamily family : {k8s::IpFamily::kIPv4, k8s::IpFamily::kIPv6}) {
        std::optional<std::pair<FrontendKind, L4Address>> match =
            MatchPort(query, input, *service, service->ports[i], family);
        if (!match.has_value()) continue;
        out.push_back(FrontendMatch{service, i, family, match->first, match->second});
      }
    }
  }
  return out;
}

Explanation Explain(const ExplainQuery& query, const ExplainInput& input) {
  Explanation e{.query = query, .node_name = input.node_name};
  if (input.node.has_value()) {
    e.node_found = true;
    e.zone = input.node->zone;
  } else {
    e.notes.push_back(absl::StrCat("Node ", input.node_name,
                                   " not found: no endpoint counts as local and topology hints are ignored"
                                   " unless they name the node (check --hostname-override)"));
  }
  for (const FrontendMatch& match : MatchFrontends(query, input)) {
    const k8s::Service& service = *match.service;
    ExplainedPort port{.service = service.meta.Key(),
                       .port = service.ports[match.port_index],
                       .family = match.family,
                       .kind = match.kind,
                       .frontend = match.frontend};
    port.not_programmed = NotProgrammedReason(service, input.service_proxy_name);
    if (port.not_programmed.empty()) {
      // A family the Service has no ClusterIP of is not programmed at all.
      if (!service.ClusterIp(match.family).has_value()) {
        port.not_programmed = absl::StrCat("the Service has no ", k8s::IpFamilyName(match.family),
                                           " ClusterIP: its ", k8s::IpFamilyName(match.family),
                                           " addresses are not programmed");
      }
    }
    if (port.not_programmed.empty()) {
      ExplainEndpoints(input, e.zone, service, port.port, match.family, port);
      AddViews(service, port);
    }
    e.ports.push_back(std::move(port));
  }
  MarkShadowed(e);
  if (e.ports.empty()) NoteNearMisses(query, input, e);
  return e;
}

void CompareWithDatapath(const ctl::DatapathSnapshot& datapath, Explanation& explanation) {
  for (ExplainedPort& port : explanation.ports) {
    for (ExplainedView& v : port.views) CompareView(datapath, v);
  }
  FindStale(datapath, explanation);
}

}  // namespace bpfproxy
