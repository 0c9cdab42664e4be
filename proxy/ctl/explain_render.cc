#include "proxy/ctl/explain_render.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proxy/ctl/render.h"
#include "proxy/ctl/text_table.h"
#include "proxy/ip_prefix.h"

namespace bpfproxy::ctl {
namespace {

constexpr char kMismatchBanner[] =
    "!! MISMATCH: the datapath does not hold what kube-proxy's rules ask for. Please report it with the output of\n"
    "!! `bpfproxyctl explain --json` and the daemon's log.\n";

std::string StateText(const k8s::EndpointConditions& c) {
  if (c.ready) return c.terminating ? "ready,terminating" : "ready";
  if (c.terminating) return c.serving ? "serving,terminating" : "terminating";
  return c.serving ? "not ready,serving" : "not ready";
}

nlohmann::json AddressList(const std::vector<L4Address>& addresses) {
  nlohmann::json out = nlohmann::json::array();
  for (const L4Address& a : addresses) out.push_back(a.ToString());
  return out;
}

nlohmann::json PolicyJson(const std::optional<ProgrammedPolicy>& policy) {
  if (!policy.has_value()) return nullptr;
  std::vector<std::string> ranges;
  for (const IpPrefix& p : policy->source_ranges) ranges.push_back(IpPrefixString(p));
  return {{"flags", PolicyFlagNames(policy->flags)}, {"source_ranges", ranges}};
}

std::string PolicyText(const ProgrammedPolicy& policy) {
  std::string out = PolicyFlagNames(policy.flags);
  if (!policy.source_ranges.empty()) {
    std::vector<std::string> ranges;
    for (const IpPrefix& p : policy.source_ranges) ranges.push_back(IpPrefixString(p));
    absl::StrAppend(&out, " ranges=", absl::StrJoin(ranges, ","));
  }
  return out;
}

nlohmann::json EndpointJson(const ExplainedView& v, const EndpointRow& row) {
  const EndpointJudgement& j = v.JudgementOf(row);
  return {{"slice", row.slice},
          {"address", row.address},
          {"backend", row.backend.has_value() ? nlohmann::json(row.backend->ToString()) : nlohmann::json()},
          {"node", row.node_name},
          {"zone", row.zone},
          {"local", row.local},
          {"ready", row.conditions.ready},
          {"serving", row.conditions.serving},
          {"terminating", row.conditions.terminating},
          {"eligible", j.eligible()},
          {"reason", EndpointReasonName(j.reason)},
          {"detail", j.detail},
          {"in_datapath", v.InDatapath(row)}};
}

nlohmann::json ViewJson(const ExplainedPort& port, const ExplainedView& v) {
  nlohmann::json endpoints = nlohmann::json::array();
  for (const EndpointRow& row : port.endpoints) endpoints.push_back(EndpointJson(v, row));
  nlohmann::json datapath = {{"view_loaded", v.view_loaded}, {"in_datapath", v.programmed.has_value()}};
  if (v.programmed.has_value()) {
    datapath["service_id"] = v.programmed->service_id;
    datapath["backends"] = AddressList(v.programmed->backends);
    datapath["connections"] = v.connections.has_value() ? nlohmann::json(*v.connections) : nlohmann::json();
    datapath["policy"] = PolicyJson(v.programmed_policy);
  }
  return {{"view", ViewName(v.view)},
          {"frontend", v.frontend.ToString()},
          {"traffic_policy", v.policy_field.empty() ? nlohmann::json()
                                                    : nlohmann::json{{"field", v.policy_field},
                                                                     {"value", v.policy == k8s::TrafficPolicy::kLocal
                                                                                   ? "Local"
                                                                                   : "Cluster"}}},
          {"endpoints_used", v.uses_local ? "local" : "cluster"},
          {"required", v.required},
          {"shadowed", v.shadowed},
          {"eligible", AddressList(v.eligible)},
          {"verdict", VerdictName(v.verdict)},
          {"expected_policy", PolicyJson(v.expected_policy)},
          {"datapath", datapath},
          {"mismatches", v.mismatches},
          {"notes", v.notes},
          {"endpoints", endpoints}};
}

nlohmann::json PortJson(const ExplainedPort& port) {
  nlohmann::json views = nlohmann::json::array();
  for (const ExplainedView& v : port.views) views.push_back(ViewJson(port, v));
  return {{"service", port.service},
          {"port", {{"name", port.port.name},
                    {"port", port.port.port},
                    {"protocol", ProtocolName(port.port.protocol)},
                    {"node_port", port.port.node_port}}},
          {"family", k8s::IpFamilyName(port.family)},
          {"kind", FrontendKindName(port.kind)},
          {"frontend", port.frontend.ToString()},
          {"programmed", port.not_programmed.empty()},
          {"not_programmed_reason", port.not_programmed.empty() ? nlohmann::json() : nlohmann::json(port.not_programmed)},
          {"topology", port.topology},
          {"cluster_endpoints", AddressList(port.cluster)},
          {"local_endpoints", AddressList(port.local)},
          {"views", views}};
}

// "internalTrafficPolicy Local: this node's endpoints" and the like.
std::string PolicyLine(const ExplainedView& v) {
  if (v.policy_field.empty()) return "pods and this node use the cluster endpoints";
  return absl::StrCat(v.policy_field, " ", v.policy == k8s::TrafficPolicy::kLocal ? "Local" : "Cluster", ": ",
                      v.uses_local ? "this node's endpoints only" : "the cluster's endpoints");
}

std::string VerdictLine(const ExplainedView& v) {
  switch (v.verdict) {
    case Verdict::kForward:
      return absl::StrCat("verdict: forward to ", v.eligible.size(), " eligible backend",
                          v.eligible.size() == 1 ? "" : "s");
    case Verdict::kRefuse:
      return "verdict: refuse (no usable endpoint: clients see connection refused)";
    case Verdict::kDrop:
      return "verdict: drop (endpoints exist, but none on this node under the Local policy)";
  }
  return "";
}

std::string DatapathLine(const ExplainedView& v) {
  if (!v.view_loaded) return "in datapath: no (view not loaded)";
  if (!v.programmed.has_value()) return "in datapath: no";
  std::string out = absl::StrCat("in datapath: yes (service id ", v.programmed->service_id, ", ",
                                 v.programmed->backends.size(), " backend",
                                 v.programmed->backends.size() == 1 ? "" : "s");
  if (v.connections.has_value()) absl::StrAppend(&out, ", ", *v.connections, " connections");
  if (v.programmed_policy.has_value()) absl::StrAppend(&out, ", policy ", PolicyText(*v.programmed_policy));
  return out + ")";
}

void AppendView(const ExplainedPort& port, const ExplainedView& v, std::string& out) {
  // A view that is not loaded, or that holds this frontend only in another
  // mode, gets one line: its endpoint table would say nothing new.
  if (!v.view_loaded || (!v.required && !v.programmed.has_value() && v.mismatches.empty())) {
    absl::StrAppend(&out, "  ", ViewName(v.view), " view ", v.frontend.ToString(), ": ",
                    v.notes.empty() ? "not programmed" : v.notes.front(), "\n");
    return;
  }
  absl::StrAppend(&out, "  ", ViewName(v.view), " view ", v.frontend.ToString(), ": ", PolicyLine(v), "\n");
  TextTable table({"ENDPOINT", "SLICE", "NODE", "STATE", "ELIGIBLE", "REASON", "IN DATAPATH"});
  for (const EndpointRow& row : port.endpoints) {
    const EndpointJudgement& j = v.JudgementOf(row);
    table.AddRow({row.backend.has_value() ? HostPort(*row.backend) : (row.address.empty() ? "-" : row.address),
                  row.slice, row.node_name.empty() ? "-" : row.node_name, StateText(row.conditions),
                  j.eligible() ? "yes" : "no",
                  j.eligible() ? j.detail : absl::StrCat(EndpointReasonName(j.reason), ": ", j.detail),
                  v.InDatapath(row) ? "yes" : "no"});
  }
  if (table.rows() == 0) {
    absl::StrAppend(&out, "    (no endpoints)\n");
  } else {
    out += table.Render("    ");
  }
  absl::StrAppend(&out, "    ", VerdictLine(v), "\n");
  if (v.expected_policy.has_value()) absl::StrAppend(&out, "    expected policy: ", PolicyText(*v.expected_policy), "\n");
  absl::StrAppend(&out, "    ", DatapathLine(v), v.programmed.has_value() && v.mismatches.empty() && !v.shadowed
                                                      ? ": matches"
                                                      : "",
                  "\n");
  for (const std::string& note : v.notes) absl::StrAppend(&out, "    note: ", note, "\n");
  for (const std::string& m : v.mismatches) absl::StrAppend(&out, "    !! MISMATCH: ", m, "\n");
}

void AppendPort(const ExplainedPort& port, std::string& out) {
  absl::StrAppend(&out, "\n", port.service, " port ", port.port.name.empty() ? "(unnamed)" : port.port.name, " ",
                  port.port.port, "/", ProtocolName(port.port.protocol));
  if (port.port.node_port != 0) absl::StrAppend(&out, " nodePort ", port.port.node_port);
  absl::StrAppend(&out, " (", k8s::IpFamilyName(port.family), "), as ", FrontendKindName(port.kind), " ",
                  port.frontend.ToString(), "\n");
  if (!port.not_programmed.empty()) {
    absl::StrAppend(&out, "  not programmed: ", port.not_programmed, "\n");
    return;
  }
  absl::StrAppend(&out, "  topology: ", port.topology, "\n");
  for (const ExplainedView& v : port.views) AppendView(port, v, out);
}

}  // namespace

nlohmann::json ExplanationJson(const Explanation& e) {
  nlohmann::json ports = nlohmann::json::array();
  for (const ExplainedPort& port : e.ports) ports.push_back(PortJson(port));
  nlohmann::json stale = nlohmann::json::array();
  for (const StaleFrontend& s : e.stale) {
    stale.push_back({{"view", ViewName(s.view)},
                     {"frontend", s.frontend.ToString()},
                     {"service_id", s.programmed.service_id},
                     {"backends", AddressList(s.programmed.backends)}});
  }
  return {{"schema_version", kSchemaVersion},
          {"query", e.query.ToString()},
          {"node", {{"name", e.node_name}, {"zone", e.zone}, {"found", e.node_found}}},
          {"mismatch", e.mismatch()},
          {"matches", ports},
          {"stale", stale},
          {"notes", e.notes}};
}

std::string ExplanationText(const Explanation& e) {
  std::string out = absl::StrCat("explain ", e.query.ToString(), " on node ", e.node_name);
  if (e.node_found) absl::StrAppend(&out, " (zone ", e.zone.empty() ? "unset" : e.zone, ")");
  out += "\n";
  for (const std::string& note : e.notes) absl::StrAppend(&out, "note: ", note, "\n");
  for (const ExplainedPort& port : e.ports) AppendPort(port, out);
  for (const StaleFrontend& s : e.stale) {
    std::vector<std::string> backends;
    for (const L4Address& b : s.programmed.backends) backends.push_back(HostPort(b));
    absl::StrAppend(&out, "\n!! MISMATCH: the ", ViewName(s.view), " view holds ", s.frontend.ToString(),
                    " (service id ", s.programmed.service_id, ", backends ",
                    backends.empty() ? "none" : absl::StrJoin(backends, " "),
                    ") but no Service programs it: a stale entry\n");
  }
  if (e.mismatch()) absl::StrAppend(&out, "\n", kMismatchBanner);
  return out;
}

}  // namespace bpfproxy::ctl
