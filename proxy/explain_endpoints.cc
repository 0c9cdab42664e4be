#include "proxy/explain_endpoints.h"

#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/container/btree_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bpfproxy {
namespace {

std::string JoinOrNone(const std::vector<std::string>& items) {
  return items.empty() ? "none" : absl::StrJoin(items, ", ");
}

// ---- Endpoints of one Service port ----

k8s::AddressType AddressTypeOf(k8s::IpFamily family) {
  return family == k8s::IpFamily::kIPv4 ? k8s::AddressType::kIPv4 : k8s::AddressType::kIPv6;
}

std::string ConditionsText(const k8s::EndpointConditions& c) {
  return absl::StrCat("ready=", c.ready ? "true" : "false", " serving=", c.serving ? "true" : "false",
                      " terminating=", c.terminating ? "true" : "false");
}

std::string SlicePortsText(const k8s::EndpointSlice& slice) {
  std::vector<std::string> ports;
  for (const k8s::EndpointPort& p : slice.ports) {
    ports.push_back(absl::StrCat(p.name.empty() ? "(unnamed)" : p.name, "/", ProtocolName(p.protocol), ":",
                                 p.port == 0 ? "all" : absl::StrCat(p.port)));
  }
  return JoinOrNone(ports);
}

// The same judgement for both kinds of endpoints: set before categorizing.
void Judge(EndpointRow& row, EndpointReason reason, std::string detail) {
  row.cluster = {reason, detail};
  row.local_judgement = {reason, std::move(detail)};
}

EndpointRow RowOf(const k8s::EndpointSlice& slice, const k8s::Endpoint& endpoint, const std::string& node_name) {
  EndpointRow row;
  row.slice = slice.meta.name;
  if (!endpoint.addresses.empty()) row.address = endpoint.addresses[0].ToString();
  row.node_name = endpoint.node_name;
  row.zone = endpoint.zone;
  row.conditions = endpoint.conditions;
  row.local = !node_name.empty() && endpoint.node_name == node_name;
  return row;
}

// Rows that one Service port collects, with the endpoints kube-proxy keeps
// (EndpointSliceCache.addEndpoints) by IP:port.
struct Collected {
  std::vector<EndpointRow> rows;
  std::vector<const k8s::Endpoint*> sources;        // Per row: for its hints.
  absl::btree_map<L4Address, size_t> kept;          // Endpoint -> row.
};

// One slice whose port |slice_port| matches: its endpoints, deduplicated.
void CollectFromSlicePort(const k8s::EndpointSlice& slice, const k8s::EndpointPort& slice_port,
                          const k8s::ServicePort& port, const std::string& node_name, Collected& out) {
  for (const k8s::Endpoint& endpoint : slice.endpoints) {
    EndpointRow row = RowOf(slice, endpoint, node_name);
    const size_t index = out.rows.size();
    if (endpoint.addresses.empty()) {
      Judge(row, EndpointReason::kNoAddress, "the endpoint has no address");
    } else {
      row.backend = L4Address{endpoint.addresses[0], slice_port.port, port.protocol};
      auto [it, inserted] = out.kept.try_emplace(*row.backend, index);
      if (!inserted) {
        EndpointRow& kept = out.rows[it->second];
        // A reused IP: the running pod wins over the terminating one;
        // otherwise the first seen (by slice name) stays.
        if (kept.conditions.terminating && !endpoint.conditions.terminating) {
          Judge(kept, EndpointReason::kDuplicate,
                absl::StrCat("same IP:port as the non-terminating endpoint in slice ", slice.meta.name,
                             ", which is used instead"));
          it->second = index;
        } else {
          Judge(row, EndpointReason::kDuplicate,
                absl::StrCat("same IP:port as the endpoint in slice ", kept.slice, ", which is used instead"));
        }
      }
    }
    out.rows.push_back(std::move(row));
    out.sources.push_back(&endpoint);
  }
}

void CollectFromSlice(const k8s::EndpointSlice& slice, const k8s::ServicePort& port, k8s::IpFamily family,
                      const std::string& node_name, Collected& out) {
  auto reject_all = [&](EndpointReason reason, const std::string& detail) {
    for (const k8s::Endpoint& endpoint : slice.endpoints) {
      EndpointRow row = RowOf(slice, endpoint, node_name);
      Judge(row, reason, detail);
      out.rows.push_back(std::move(row));
      out.sources.push_back(&endpoint);
    }
  };
  if (slice.address_type == k8s::AddressType::kFqdn) {
    return reject_all(EndpointReason::kOtherFamily, "FQDN slice: a proxy cannot use it");
  }
  if (slice.address_type != AddressTypeOf(family)) {
    return reject_all(EndpointReason::kOtherFamily,
                      absl::StrCat(k8s::IpFamilyName(family == k8s::IpFamily::kIPv4 ? k8s::IpFamily::kIPv6
                                                                                     : k8s::IpFamily::kIPv4),
                                   " slice; this frontend is ", k8s::IpFamilyName(family)));
  }
  bool matched = false;
  bool unnumbered = false;
  for (const k8s::EndpointPort& slice_port : slice.ports) {
    if (slice_port.name != port.name || slice_port.protocol != port.protocol) continue;
    // Port 0 (unset) would mean "all ports": kube-proxy ignores it.
    if (slice_port.port == 0) {
      unnumbered = true;
      continue;
    }
    matched = true;
    CollectFromSlicePort(slice, slice_port, port, node_name, out);
  }
  if (matched) return;
  const std::string service_port = absl::StrCat(port.name.empty() ? "(unnamed)" : port.name, "/",
                                                ProtocolName(port.protocol));
  reject_all(EndpointReason::kPortMismatch,
             unnumbered ? absl::StrCat("slice port ", service_port, " has no number (all ports): unsupported")
                        : absl::StrCat("slice ports: ", SlicePortsText(slice), "; none is ", service_port,
                                       " (ports match by name and protocol)"));
}

enum class TopologyMode { kNone, kNode, kZone };

// topology.go topologyModeFromHints, with the reason in words.
TopologyMode TopologyModeOf(const Collected& collected, const std::string& node_name, const std::string& zone,
                            std::string& text) {
  bool any_ready = false, any_hint = false;
  bool all_node_hints = true, node_match = false, all_zone_hints = true, zone_match = false;
  for (const auto& [address, index] : collected.kept) {
    if (!collected.rows[index].conditions.ready) continue;
    any_ready = true;
    const k8s::Endpoint& ep = *collected.sources[index];
    if (!ep.node_hints.empty() || !ep.zone_hints.empty()) any_hint = true;
    if (ep.node_hints.empty()) all_node_hints = false;
    if (!node_name.empty() && absl::c_linear_search(ep.node_hints, node_name)) node_match = true;
    if (ep.zone_hints.empty()) all_zone_hints = false;
    if (!zone.empty() && absl::c_linear_search(ep.zone_hints, zone)) zone_match = true;
  }
  if (all_node_hints && node_match && any_ready) {
    text = absl::StrCat("node hints in use: endpoints hinted for node ", node_name, " only");
    return TopologyMode::kNode;
  }
  if (all_zone_hints && zone_match && any_ready) {
    text = absl::StrCat("zone hints in use: endpoints hinted for zone ", zone, " only");
    return TopologyMode::kZone;
  }
  if (!any_hint) {
    text = "no topology hints";
  } else if (!all_node_hints && !all_zone_hints) {
    text = "topology hints ignored: not every ready endpoint has one";
  } else {
    text = absl::StrCat("topology hints ignored: none is for node ", node_name, " or zone ",
                        zone.empty() ? "(unknown: no zone label on the Node)" : zone);
  }
  return TopologyMode::kNone;
}

std::string HintsText(const k8s::Endpoint& ep) {
  return absl::StrCat("hints: zones [", absl::StrJoin(ep.zone_hints, ","), "] nodes [",
                      absl::StrJoin(ep.node_hints, ","), "]");
}

// topology.go CategorizeEndpoints over the kept endpoints, judging each: for
// the cluster endpoints (|local_only| false) or the local ones.
std::vector<L4Address> Categorize(Collected& c, bool local_only, TopologyMode mode, const std::string& node_name,
                                  const std::string& zone) {
  std::vector<L4Address> ready, fallback;
  std::vector<size_t> fallback_rows;
  for (const auto& [address, index] : c.kept) {
    EndpointRow& row = c.rows[index];
    EndpointJudgement& j = local_only ? row.local_judgement : row.cluster;
    const k8s::EndpointConditions& cond = row.conditions;
    const bool serving_terminating = !cond.ready && cond.serving && cond.terminating;
    if (!cond.ready && !serving_terminating) {
      j = {EndpointReason::kNotReady, ConditionsText(cond)};
    } else if (local_only && !row.local) {
      j = {EndpointReason::kOtherNode, row.node_name.empty()
                                           ? std::string("no nodeName: never local")
                                           : absl::StrCat("on node ", row.node_name, ", not ", node_name)};
    } else if (serving_terminating) {
      fallback.push_back(address);
      fallback_rows.push_back(index);
    } else {
      const k8s::Endpoint& ep = *c.sources[index];
      const bool available = local_only || mode == TopologyMode::kNone ||
                             (mode == TopologyMode::kNode ? absl::c_linear_search(ep.node_hints, node_name)
                                                          : absl::c_linear_search(ep.zone_hints, zone));
      if (available) {
        j = {EndpointReason::kEligible, "ready"};
        ready.push_back(address);
      } else {
        j = {EndpointReason::kTopology, absl::StrCat(HintsText(ep), "; this node is ", node_name, " in zone ",
                                                     zone.empty() ? "(unknown)" : zone)};
      }
    }
  }
  // The serving-terminating fallback ignores topology, as upstream does.
  const bool use_fallback = ready.empty();
  for (size_t index : fallback_rows) {
    EndpointJudgement& j = local_only ? c.rows[index].local_judgement : c.rows[index].cluster;
    j = use_fallback ? EndpointJudgement{EndpointReason::kEligible, "serving and terminating: no endpoint is ready"}
                     : EndpointJudgement{EndpointReason::kTerminatingWhileReady,
                                         absl::StrCat("serving but terminating; ", ready.size(), " ready endpoint",
                                                      ready.size() == 1 ? "" : "s",
                                                      local_only ? " on this node take" : " take", " the traffic")};
  }
  return use_fallback ? fallback : ready;
}

}  // namespace

void ExplainEndpoints(const ExplainInput& input, const std::string& zone, const k8s::Service& service,
                      const k8s::ServicePort& port, k8s::IpFamily family, ExplainedPort& out) {
  std::vector<const k8s::EndpointSlice*> slices;
  for (const k8s::EndpointSlice& slice : input.slices) {
    if (slice.meta.namespace_ == service.meta.namespace_ && slice.service_name == service.meta.name) {
      slices.push_back(&slice);
    }
  }
  absl::c_stable_sort(slices, [](const k8s::EndpointSlice* a, const k8s::EndpointSlice* b) {
    return a->meta.name < b->meta.name;
  });
  Collected c;
  for (const k8s::EndpointSlice* slice : slices) CollectFromSlice(*slice, port, family, input.node_name, c);
  const TopologyMode mode = TopologyModeOf(c, input.node_name, zone, out.topology);
  out.cluster = Categorize(c, /*local_only=*/false, mode, input.node_name, zone);
  out.local = Categorize(c, /*local_only=*/true, mode, input.node_name, zone);
  for (const auto& [address, index] : c.kept) {
    const k8s::EndpointConditions& cond = c.rows[index].conditions;
    if (cond.ready || (cond.serving && cond.terminating)) out.has_any = true;
  }
  out.endpoints = std::move(c.rows);
}

}  // namespace bpfproxy
