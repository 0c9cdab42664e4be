#include "proxy/ctl/render.h"

#include <tuple>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "proxy/ctl/text_table.h"
#include "proxy/ip_prefix.h"

namespace bpfproxy::ctl {
namespace {

constexpr char kNoPerPacketPath[] =
    "per-packet path: not loaded (socket-LB-only mode): NodePorts, externalIPs and LoadBalancer IPs are not "
    "translated for traffic from outside the node\n";

// One frontend of one view, with what goes with it.
struct Row {
  View view;
  const L4Address* frontend;
  const ProgrammedFrontend* programmed;
  ProgrammedPolicy policy;  // The defaults for the socket view.
  std::optional<uint64_t> connections;
};

std::vector<Row> Rows(const DatapathSnapshot& snapshot) {
  std::vector<Row> rows;
  for (View view : {View::kSocket, View::kExternal}) {
    const ProgrammedView* in = snapshot.view(view);
    if (in == nullptr) continue;
    for (const auto& [frontend, programmed] : in->frontends) {
      rows.push_back(Row{view, &frontend, &programmed,
                         view == View::kExternal ? snapshot.PolicyOf(frontend) : ProgrammedPolicy{},
                         snapshot.Connections(view, programmed.service_id)});
    }
  }
  absl::c_stable_sort(rows, [](const Row& a, const Row& b) {
    return std::tie(*a.frontend, a.view) < std::tie(*b.frontend, b.view);
  });
  return rows;
}

std::vector<std::string> RangeStrings(const std::vector<IpPrefix>& ranges) {
  std::vector<std::string> out;
  for (const IpPrefix& p : ranges) out.push_back(IpPrefixString(p));
  return out;
}

nlohmann::json PolicyJson(const ProgrammedPolicy& policy) {
  std::vector<std::string> flags;
  if (policy.flags != 0) flags = absl::StrSplit(PolicyFlagNames(policy.flags), ',');
  return {{"flags", flags},
          {"preserve_source", (policy.flags & LB_POL_F_PRESERVE_SOURCE) != 0},
          {"drop_if_no_backend", (policy.flags & LB_POL_F_DROP_NO_BACKEND) != 0},
          {"source_ranges", RangeStrings(policy.source_ranges)}};
}

// "snat", "preserve-source,drop-no-backend", "snat,source-ranges=[10.0.0.0/8]".
std::string PolicyText(const ProgrammedPolicy& policy) {
  std::vector<std::string> parts;
  if (!(policy.flags & LB_POL_F_PRESERVE_SOURCE)) parts.push_back("snat");
  const uint16_t rest = policy.flags & ~LB_POL_F_SOURCE_RANGES;
  if (rest != 0) parts.push_back(PolicyFlagNames(rest));
  if (policy.flags & LB_POL_F_SOURCE_RANGES || !policy.source_ranges.empty()) {
    parts.push_back(absl::StrCat("source-ranges=[", absl::StrJoin(RangeStrings(policy.source_ranges), ","), "]"));
  }
  return absl::StrJoin(parts, ",");
}

std::string BackendsText(const Row& row) {
  if (row.programmed->backends.empty()) {
    return DatapathVerdict(row.view, *row.programmed, row.policy) == "drop" ? "(none: packets are dropped)"
                                                                           : "(none: connections are refused)";
  }
  std::vector<std::string> out;
  for (const L4Address& b : row.programmed->backends) out.push_back(HostPort(b));
  return absl::StrJoin(out, " ");
}

std::string Idle(uint64_t last_seen_ns, uint64_t now_ns) {
  if (last_seen_ns > now_ns) return "0s";
  return absl::StrCat((now_ns - last_seen_ns) / 1000000000ull, "s");
}

}  // namespace

std::string HostPort(const L4Address& a) {
  return a.ip.is_v4() ? absl::StrCat(a.ip.ToString(), ":", a.port) : absl::StrCat("[", a.ip.ToString(), "]:", a.port);
}

std::string DatapathVerdict(View view, const ProgrammedFrontend& frontend, const ProgrammedPolicy& policy) {
  if (frontend.count > 0) return "forward";
  return view == View::kExternal && (policy.flags & LB_POL_F_DROP_NO_BACKEND) ? "drop" : "refuse";
}

nlohmann::json ServicesJson(const DatapathSnapshot& snapshot) {
  nlohmann::json frontends = nlohmann::json::array();
  for (const Row& row : Rows(snapshot)) {
    nlohmann::json backends = nlohmann::json::array();
    for (const L4Address& b : row.programmed->backends) backends.push_back(b.ToString());
    frontends.push_back({{"frontend", row.frontend->ToString()},
                         {"ip", row.frontend->ip.ToString()},
                         {"port", row.frontend->port},
                         {"protocol", ProtocolName(row.frontend->proto)},
                         {"view", ViewName(row.view)},
                         {"service_id", row.programmed->service_id},
                         {"backends", backends},
                         {"verdict", DatapathVerdict(row.view, *row.programmed, row.policy)},
                         {"policy", row.view == View::kExternal ? PolicyJson(row.policy) : nlohmann::json()},
                         {"connections", row.connections.has_value() ? nlohmann::json(*row.connections)
                                                                     : nlohmann::json()},
                         {"problems", row.programmed->problems}});
  }
  nlohmann::json invisible = {{"socket", snapshot.socket.invisible_slots}};
  if (snapshot.external.has_value()) invisible["external"] = snapshot.external->invisible_slots;
  return {{"schema_version", kSchemaVersion},
          {"per_packet_path", snapshot.external.has_value()},
          {"connections_counted", snapshot.connections.has_value()},
          {"frontends", frontends},
          {"invisible_slots", invisible}};
}

std::string ServicesTable(const DatapathSnapshot& snapshot) {
  TextTable table({"FRONTEND", "VIEW", "ID", "CONNECTIONS", "POLICY", "BACKENDS"});
  table.AlignRight(2).AlignRight(3);
  std::vector<std::string> problems;
  for (const Row& row : Rows(snapshot)) {
    table.AddRow({row.frontend->ToString(), std::string(ViewName(row.view)), absl::StrCat(row.programmed->service_id),
                  row.connections.has_value() ? absl::StrCat(*row.connections) : "-",
                  row.view == View::kExternal ? PolicyText(row.policy) : "-", BackendsText(row)});
    for (const std::string& p : row.programmed->problems) {
      problems.push_back(absl::StrCat("!! ", row.frontend->ToString(), " (", ViewName(row.view), "): ", p, "\n"));
    }
  }
  std::string out = table.Render();
  for (const std::string& p : problems) out += p;
  if (!snapshot.external.has_value()) out += kNoPerPacketPath;
  if (!snapshot.connections.has_value()) out += "connections: not counted (no bpfp_stat_v1 pinned)\n";
  return out;
}

nlohmann::json MapsJson(const std::vector<MapUsage>& maps) {
  nlohmann::json out = nlohmann::json::array();
  bool per_packet = false;
  for (const MapUsage& m : maps) {
    if (m.name == LB_XSERVICES_MAP_NAME) per_packet = true;
    out.push_back({{"map", m.name},
                   {"type", m.type},
                   {"entries", m.entries},
                   {"capacity", m.capacity},
                   {"key_size", m.key_size},
                   {"value_size", m.value_size}});
  }
  return {{"schema_version", kSchemaVersion}, {"per_packet_path", per_packet}, {"maps", out}};
}

std::string MapsTable(const std::vector<MapUsage>& maps) {
  TextTable table({"MAP", "TYPE", "ENTRIES", "CAPACITY", "USED"});
  table.AlignRight(2).AlignRight(3).AlignRight(4);
  bool per_packet = false;
  for (const MapUsage& m : maps) {
    if (m.name == LB_XSERVICES_MAP_NAME) per_packet = true;
    const double used = m.capacity == 0 ? 0 : 100.0 * static_cast<double>(m.entries) / m.capacity;
    table.AddRow({m.name, m.type, absl::StrCat(m.entries), absl::StrCat(m.capacity), absl::StrFormat("%.1f%%", used)});
  }
  std::string out = table.Render();
  if (!per_packet) out += kNoPerPacketPath;
  return out;
}

nlohmann::json ConntrackJson(const std::optional<ConntrackTable>& table, uint64_t now_ns) {
  nlohmann::json flows = nlohmann::json::array();
  if (!table.has_value()) {
    return {{"schema_version", kSchemaVersion}, {"per_packet_path", false}, {"flows", flows}};
  }
  for (const ConntrackFlow& f : table->flows) {
    flows.push_back({{"protocol", ProtocolName(f.client.proto)},
                     {"client", HostPort(f.client)},
                     {"frontend", HostPort(f.frontend)},
                     {"backend", HostPort(f.backend)},
                     {"snat", f.snat.has_value() ? nlohmann::json(HostPort(*f.snat)) : nlohmann::json()},
                     {"service_id", f.service_id},
                     {"backend_id", f.backend_id},
                     {"idle_seconds", f.last_seen_ns > now_ns ? 0 : (now_ns - f.last_seen_ns) / 1000000000ull},
                     {"reply_entry", f.has_reply}});
  }
  return {{"schema_version", kSchemaVersion},
          {"per_packet_path", true},
          {"forward_entries", table->forward_entries},
          {"reply_entries", table->reply_entries},
          {"orphan_replies", table->orphan_replies},
          {"flows", flows}};
}

std::string ConntrackText(const std::optional<ConntrackTable>& table, uint64_t now_ns) {
  if (!table.has_value()) return kNoPerPacketPath;
  if (table->forward_entries == 0 && table->reply_entries == 0) return "no flows\n";
  TextTable text({"PROTO", "CLIENT", "", "FRONTEND", "", "BACKEND", "SNAT", "IDLE", "REPLY"});
  text.AlignRight(7);
  for (const ConntrackFlow& f : table->flows) {
    text.AddRow({std::string(ProtocolName(f.client.proto)), HostPort(f.client), "->", HostPort(f.frontend), "=>",
                 HostPort(f.backend), f.snat.has_value() ? HostPort(*f.snat) : "-", Idle(f.last_seen_ns, now_ns),
                 f.has_reply ? "yes" : "missing"});
  }
  std::string out = text.Render();
  absl::StrAppend(&out, table->flows.size(), " flows (", table->forward_entries, " forward and ",
                  table->reply_entries, " reply entries");
  if (table->orphan_replies > 0) absl::StrAppend(&out, "; ", table->orphan_replies, " replies without a flow");
  out += ")\n";
  return out;
}

}  // namespace bpfproxy::ctl
