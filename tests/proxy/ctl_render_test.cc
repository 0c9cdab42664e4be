// bpfproxyctl without a kernel: raw map entries decoded into a snapshot
// (broken entries named), the services/maps/conntrack tables and JSON, the
// explain report, and the command line.
#include <arpa/inet.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/ctl/commands.h"
#include "proxy/ctl/datapath_snapshot.h"
#include "proxy/ctl/explain_render.h"
#include "proxy/ctl/render.h"
#include "proxy/ctl/text_table.h"
#include "proxy/lb_maps.h"
#include "tests/proxy/explain_test_util.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::ctl {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

L4Address L4(const char* text) { return L4Address::Parse(text).value(); }
IpAddress Ip(const char* text) { return IpAddress::Parse(text).value(); }

std::pair<lb_service_key, lb_service_value> Master(const char* frontend, uint32_t id, uint16_t count) {
  return {MakeServiceKey(L4(frontend), LB_SLOT_MASTER), MakeMasterValue(id, count)};
}
std::pair<lb_service_key, lb_service_value> Slot(const char* frontend, uint16_t slot, uint32_t id, uint32_t backend) {
  return {MakeServiceKey(L4(frontend), slot), MakeSlotValue(id, backend)};
}
BackendEntries Backends(std::vector<std::pair<uint32_t, const char*>> backends) {
  BackendEntries out;
  for (const auto& [id, address] : backends) out[id] = MakeBackendValue(id, L4(address));
  return out;
}
std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// ---- Decoding ----

TEST(BuildViewTest, BackendsInSlotOrder) {
  ProgrammedView view = BuildView({Slot("10.96.0.10:80/TCP", 2, 7, 3), Master("10.96.0.10:80/TCP", 7, 2),
                                   Slot("10.96.0.10:80/TCP", 1, 7, 5), Master("10.96.0.11:80/TCP", 8, 0)},
                                  Backends({{3, "10.244.0.3:8080/TCP"}, {5, "10.244.0.5:8080/TCP"}}), "bpfp_be_v1");
  ASSERT_EQ(view.frontends.size(), 2u);
  const ProgrammedFrontend& web = view.frontends.at(L4("10.96.0.10:80/TCP"));
  EXPECT_EQ(web.service_id, 7u);
  EXPECT_THAT(web.backends, ElementsAre(L4("10.244.0.5:8080/TCP"), L4("10.244.0.3:8080/TCP")));
  EXPECT_THAT(web.problems, IsEmpty());
  EXPECT_THAT(view.frontends.at(L4("10.96.0.11:80/TCP")).backends, IsEmpty());
  EXPECT_EQ(view.invisible_slots, 0u);
}

TEST(BuildViewTest, NamesEveryInconsistency) {
  lb_backend_value wrong_id = MakeBackendValue(99, L4("10.244.0.6:8080/TCP"));
  BackendEntries backends = Backends({{3, "10.244.0.3:8080/TCP"}});
  backends[6] = wrong_id;
  ProgrammedView view = BuildView(
      {Master("10.96.0.10:80/TCP", 7, 4), Slot("10.96.0.10:80/TCP", 1, 8, 3), Slot("10.96.0.10:80/TCP", 3, 7, 4),
       Slot("10.96.0.10:80/TCP", 4, 7, 6), Slot("10.96.0.10:80/TCP", 5, 7, 3), Slot("10.96.0.12:80/TCP", 1, 9, 3)},
      backends, "bpfp_be_v1");
  const ProgrammedFrontend& web = view.frontends.at(L4("10.96.0.10:80/TCP"));
  EXPECT_THAT(web.problems, ElementsAre("slot 1 has service id 8, its master 7", "slot 2 is missing",
                                        "slot 3 points at backend 4, which bpfp_be_v1 lacks",
                                        "backend 6 in bpfp_be_v1 carries id 99"));
  EXPECT_THAT(web.backends, ElementsAre(L4("10.244.0.3:8080/TCP"), L4("10.244.0.6:8080/TCP")));
  // Slot 5 beyond the count, and a frontend with slots but no master.
  EXPECT_EQ(view.invisible_slots, 2u);
  EXPECT_FALSE(view.frontends.contains(L4("10.96.0.12:80/TCP")));
}

lb_frontend_key FrontendKey(const char* text) {
  const L4Address f = L4(text);
  lb_frontend_key key{};
  std::memcpy(key.vip.u8, f.ip.bytes().data(), 16);
  key.port = htons(f.port);
  key.proto = static_cast<uint8_t>(f.proto);
  return key;
}

lb_src_range_key RangeKey(const char* frontend, const char* range, int length) {
  const lb_frontend_key f = FrontendKey(frontend);
  lb_src_range_key key{};
  std::memcpy(key.vip.u8, f.vip.u8, 16);
  key.port = f.port;
  key.proto = f.proto;
  std::memcpy(key.src.u8, Ip(range).bytes().data(), 16);
  key.prefixlen = LB_SRC_RANGE_FRONTEND_BITS + (Ip(range).is_v4() ? 96 : 0) + length;
  return key;
}

TEST(BuildPoliciesTest, FlagsAndRangesPerFrontend) {
  Policies policies =
      BuildPolicies({{FrontendKey("198.51.100.5:80/TCP"), {LB_POL_F_SOURCE_RANGES | LB_POL_F_PRESERVE_SOURCE, 0}},
                     {FrontendKey("[2001:db8::5]:80/TCP"), {LB_POL_F_SOURCE_RANGES, 0}}},
                    {RangeKey("198.51.100.5:80/TCP", "192.0.2.0", 24), RangeKey("198.51.100.5:80/TCP", "10.0.0.0", 8),
                     RangeKey("[2001:db8::5]:80/TCP", "fd00::", 8), RangeKey("203.0.113.1:80/TCP", "10.0.0.0", 8)});
  EXPECT_EQ(explain_testing::PolicyString(policies.at(L4("198.51.100.5:80/TCP"))),
            "preserve-source,source-ranges 10.0.0.0/8,192.0.2.0/24");
  EXPECT_EQ(explain_testing::PolicyString(policies.at(L4("[2001:db8::5]:80/TCP"))), "source-ranges fd00::/8");
  // A range without a policy entry still shows, under the default flags.
  EXPECT_EQ(explain_testing::PolicyString(policies.at(L4("203.0.113.1:80/TCP"))), "none 10.0.0.0/8");
}

TEST(BuildConnectionCountsTest, SumsCpusPerViewAndService) {
  lb_stats_key socket{.service_id = 3, .view = LB_VIEW_SOCKET};
  lb_stats_key external{.service_id = 3, .view = LB_VIEW_EXTERNAL};
  ConnectionCounts counts = BuildConnectionCounts({{socket, {1, 2}}, {external, {5, 0}}});
  EXPECT_EQ(counts.at({View::kSocket, 3}), 3u);
  EXPECT_EQ(counts.at({View::kExternal, 3}), 5u);
}

std::pair<lb_ct_key, lb_ct_value> CtEntry(uint8_t dir, const char* src, const char* dst, const char* new_src,
                                          const char* new_dst, uint16_t flags, uint64_t seen) {
  const L4Address s = L4(src), d = L4(dst), ns = L4(new_src), nd = L4(new_dst);
  lb_ct_key key{};
  std::memcpy(key.saddr.u8, s.ip.bytes().data(), 16);
  std::memcpy(key.daddr.u8, d.ip.bytes().data(), 16);
  key.sport = htons(s.port);
  key.dport = htons(d.port);
  key.proto = static_cast<uint8_t>(s.proto);
  key.dir = dir;
  lb_ct_value value{};
  std::memcpy(value.saddr.u8, ns.ip.bytes().data(), 16);
  std::memcpy(value.daddr.u8, nd.ip.bytes().data(), 16);
  value.sport = htons(ns.port);
  value.dport = htons(nd.port);
  value.backend_id = dir == LB_CT_DIR_FORWARD ? 4 : 0;
  value.service_id = 2;
  value.flags = flags;
  value.last_seen_ns = seen;
  return {key, value};
}

TEST(BuildConntrackTest, FlowsFromForwardEntriesWithTheirReplies) {
  const uint64_t s = 1000000000ull;
  ConntrackTable table = BuildConntrack({
      // SNAT flow and its reply.
      CtEntry(LB_CT_DIR_FORWARD, "172.16.0.9:40000/TCP", "192.168.1.2:30080/TCP", "192.168.1.2:40000/TCP",
              "10.244.2.1:8080/TCP", LB_CT_F_SNAT, 10 * s),
      CtEntry(LB_CT_DIR_REPLY, "10.244.2.1:8080/TCP", "192.168.1.2:40000/TCP", "192.168.1.2:30080/TCP",
              "172.16.0.9:40000/TCP", 0, 10 * s),
      // Source preserved, reply entry evicted.
      CtEntry(LB_CT_DIR_FORWARD, "172.16.0.8:5000/UDP", "198.51.100.5:53/UDP", "172.16.0.8:5000/UDP",
              "10.244.1.1:53/UDP", 0, 4 * s),
      // A reply whose flow is gone.
      CtEntry(LB_CT_DIR_REPLY, "10.244.1.7:80/TCP", "172.16.0.1:1/TCP", "1.1.1.1:1/TCP", "2.2.2.2:2/TCP", 0, 0),
  });
  EXPECT_EQ(table.forward_entries, 2u);
  EXPECT_EQ(table.reply_entries, 2u);
  EXPECT_EQ(table.orphan_replies, 1u);
  ASSERT_EQ(table.flows.size(), 2u);
  EXPECT_EQ(ConntrackText(table, 12 * s),
            "PROTO  CLIENT                FRONTEND               BACKEND          SNAT               IDLE  REPLY\n"
            "UDP    172.16.0.8:5000   ->  198.51.100.5:53    =>  10.244.1.1:53    -                    8s  missing\n"
            "TCP    172.16.0.9:40000  ->  192.168.1.2:30080  =>  10.244.2.1:8080  192.168.1.2:40000    2s  yes\n"
            "2 flows (2 forward and 2 reply entries; 1 replies without a flow)\n");
  json j = ConntrackJson(table, 12 * s);
  EXPECT_EQ(j["flows"][1], json::parse(R"({"protocol": "TCP", "client": "172.16.0.9:40000",
      "frontend": "192.168.1.2:30080", "backend": "10.244.2.1:8080", "snat": "192.168.1.2:40000",
      "service_id": 2, "backend_id": 4, "idle_seconds": 2, "reply_entry": true})"));
  EXPECT_EQ(ConntrackJson(std::nullopt, 0)["per_packet_path"], false);
  EXPECT_EQ(ConntrackText(ConntrackTable{}, 0), "no flows\n");
  EXPECT_THAT(ConntrackText(std::nullopt, 0), HasSubstr("per-packet path: not loaded"));
}

// ---- Tables and JSON ----

TEST(TextTableTest, PadsColumnsAndAlignsNumbers) {
  TextTable table({"NAME", "N", "NOTE"});
  table.AlignRight(1);
  table.AddRow({"a", "1000", "x"});
  table.AddRow({"longer", "7"});
  EXPECT_EQ(table.Render("  "), "  NAME       N  NOTE\n  a       1000  x\n  longer     7\n");
}

DatapathSnapshot BothViews() {
  DatapathSnapshot s;
  s.socket.frontends[L4("10.96.0.10:80/TCP")] = {
      .service_id = 1, .count = 2, .backends = {L4("10.244.0.10:8080/TCP"), L4("10.244.0.12:8080/TCP")}};
  s.socket.frontends[L4("192.168.1.2:30080/TCP")] = {
      .service_id = 2, .count = 1, .backends = {L4("10.244.0.10:8080/TCP")}};
  s.external.emplace();
  s.external->frontends[L4("192.168.1.2:30080/TCP")] = {.service_id = 1, .count = 0};
  s.external->frontends[L4("198.51.100.5:80/TCP")] = {
      .service_id = 2, .count = 1, .backends = {L4("10.244.0.10:8080/TCP")}, .problems = {"slot 2 is missing"}};
  s.policies[L4("192.168.1.2:30080/TCP")] = {LB_POL_F_PRESERVE_SOURCE | LB_POL_F_DROP_NO_BACKEND, {}};
  s.policies[L4("198.51.100.5:80/TCP")] = {LB_POL_F_SOURCE_RANGES, {IpPrefix{Ip("10.0.0.0"), 8}}};
  s.connections = ConnectionCounts{{{View::kSocket, 1}, 17}, {{View::kExternal, 2}, 3}};
  return s;
}

TEST(ServicesTest, TableShowsBothViewsSideBySide) {
  EXPECT_THAT(
      SplitLines(ServicesTable(BothViews())),
      ElementsAre(
          "FRONTEND               VIEW      ID  CONNECTIONS  POLICY                           BACKENDS",
          "10.96.0.10:80/TCP      socket     1           17  -                                10.244.0.10:8080 "
          "10.244.0.12:8080",
          "192.168.1.2:30080/TCP  socket     2            0  -                                10.244.0.10:8080",
          "192.168.1.2:30080/TCP  external   1            0  preserve-source,drop-no-backend  (none: packets are "
          "dropped)",
          "198.51.100.5:80/TCP    external   2            3  snat,source-ranges=[10.0.0.0/8]  10.244.0.10:8080",
          "!! 198.51.100.5:80/TCP (external): slot 2 is missing"));
}

TEST(ServicesTest, SocketOnlyModeSaysSo) {
  DatapathSnapshot s;
  s.socket.frontends[L4("10.96.0.10:80/TCP")] = {.service_id = 1};
  EXPECT_THAT(SplitLines(ServicesTable(s)),
              ElementsAre("FRONTEND           VIEW    ID  CONNECTIONS  POLICY  BACKENDS",
                          "10.96.0.10:80/TCP  socket   1            -  -       (none: connections are refused)",
                          HasSubstr("per-packet path: not loaded (socket-LB-only mode)"),
                          "connections: not counted (no bpfp_stat_v1 pinned)"));
  json j = ServicesJson(s);
  EXPECT_EQ(j["per_packet_path"], false);
  EXPECT_EQ(j["frontends"][0]["verdict"], "refuse");
  EXPECT_EQ(j["frontends"][0]["connections"], nullptr);
}

TEST(ServicesTest, JsonSchema) {
  json j = ServicesJson(BothViews());
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["per_packet_path"], true);
  ASSERT_EQ(j["frontends"].size(), 4u);
  EXPECT_EQ(j["frontends"][0], json::parse(R"({"frontend": "10.96.0.10:80/TCP", "ip": "10.96.0.10", "port": 80,
      "protocol": "TCP", "view": "socket", "service_id": 1,
      "backends": ["10.244.0.10:8080/TCP", "10.244.0.12:8080/TCP"], "verdict": "forward", "policy": null,
      "connections": 17, "problems": []})"));
  EXPECT_EQ(j["frontends"][2]["verdict"], "drop");
  EXPECT_EQ(j["frontends"][2]["policy"], json::parse(R"({"flags": ["preserve-source", "drop-no-backend"],
      "preserve_source": true, "drop_if_no_backend": true, "source_ranges": []})"));
  EXPECT_EQ(j["frontends"][3]["policy"]["source_ranges"], json::parse(R"(["10.0.0.0/8"])"));
  EXPECT_EQ(j["frontends"][3]["problems"], json::parse(R"(["slot 2 is missing"])"));
}

TEST(MapsTest, TableAndJson) {
  std::vector<MapUsage> maps = {{"bpfp_svc_v1", "hash", 3, 2097152, 24, 12}, {"bpfp_ct_v1", "lru_hash", 4, 8, 40, 56}};
  EXPECT_THAT(
      SplitLines(MapsTable(maps)),
      ElementsAre("MAP          TYPE      ENTRIES  CAPACITY   USED", "bpfp_svc_v1  hash            3   2097152   0.0%",
                  "bpfp_ct_v1   lru_hash        4         8  50.0%", HasSubstr("per-packet path: not loaded")));
  EXPECT_EQ(MapsJson(maps)["maps"][1], json::parse(R"({"map": "bpfp_ct_v1", "type": "lru_hash", "entries": 4,
      "capacity": 8, "key_size": 40, "value_size": 56})"));
}

// ---- The explain report ----

TEST(ExplanationTextTest, ShowsReasonsAndMismatchesLoudly) {
  json service = k8s::testing::MakeService("default", "web", {"10.96.0.10"}, {{"http", 80, "TCP", 8080}});
  json slice =
      k8s::testing::MakeSlice("default", "web-1", "web", "IPv4", {{"http", 8080}},
                              {k8s::testing::Ready("10.244.1.1"), k8s::testing::Ready("10.244.2.1", "node-b")});
  slice["endpoints"][1]["conditions"]["ready"] = false;
  slice["endpoints"][1]["conditions"]["serving"] = false;
  Explanation e = Explain(ExplainQuery::Parse("10.96.0.10:80").value(), explain_testing::Build({service}, {slice}));
  DatapathSnapshot datapath;
  datapath.socket.frontends[L4("10.96.0.10:80/TCP")] = {
      .service_id = 4, .count = 1, .backends = {L4("10.244.1.1:8080/TCP")}};
  CompareWithDatapath(datapath, e);
  const std::string text = ExplanationText(e);
  EXPECT_THAT(SplitLines(text),
              ElementsAre("explain 10.96.0.10:80 on node node-a (zone zone-a)", "",
                          "default/web port http 80/TCP (IPv4), as ClusterIP 10.96.0.10:80/TCP",
                          "  topology: no topology hints",
                          "  socket view 10.96.0.10:80/TCP: internalTrafficPolicy Cluster: the cluster's endpoints",
                          "    ENDPOINT         SLICE  NODE    STATE      ELIGIBLE  REASON                           "
                          "                       IN DATAPATH",
                          "    10.244.1.1:8080  web-1  node-a  ready      yes       ready                            "
                          "                       yes",
                          "    10.244.2.1:8080  web-1  node-b  not ready  no        not-ready: ready=false "
                          "serving=false terminating=false  no",
                          "    verdict: forward to 1 eligible backend",
                          "    in datapath: yes (service id 4, 1 backend): matches",
                          "  external view 10.96.0.10:80/TCP: the per-packet path is not loaded (socket-LB-only "
                          "mode): traffic from outside the node to 10.96.0.10:80/TCP is not translated"));
  EXPECT_FALSE(e.mismatch());

  datapath.socket.frontends[L4("10.96.0.10:80/TCP")].backends = {L4("10.244.2.1:8080/TCP")};
  e = Explain(ExplainQuery::Parse("10.96.0.10:80").value(), explain_testing::Build({service}, {slice}));
  CompareWithDatapath(datapath, e);
  EXPECT_THAT(ExplanationText(e),
              HasSubstr("    !! MISMATCH: eligible but not in the datapath: 10.244.1.1:8080/TCP\n"
                        "    !! MISMATCH: in the datapath but not eligible: 10.244.2.1:8080/TCP\n"));
  EXPECT_THAT(ExplanationText(e), HasSubstr("!! MISMATCH: the datapath does not hold what kube-proxy's rules ask"));
  json j = ExplanationJson(e);
  EXPECT_EQ(j["mismatch"], true);
  const json& endpoint = j["matches"][0]["views"][0]["endpoints"][1];
  EXPECT_EQ(endpoint["reason"], "not-ready");
  EXPECT_EQ(endpoint["eligible"], false);
  EXPECT_EQ(endpoint["in_datapath"], true);
}

// ---- Command line ----

TEST(CtlArgsTest, FlagsAnywhereInBothForms) {
  ASSERT_OK_AND_ASSIGN(CtlConfig c, ParseCtlArgs({"--bpf-root", "/b", "explain", "10.96.0.10:80", "--json",
                                                  "--kubeconfig=/k", "--nodeport-addresses=10.0.0.0/8,primary"}));
  EXPECT_EQ(c.command, "explain");
  EXPECT_THAT(c.args, ElementsAre("10.96.0.10:80"));
  EXPECT_EQ(c.bpf_root, "/b");
  EXPECT_EQ(c.kubeconfig, "/k");
  EXPECT_TRUE(c.json);
  EXPECT_THAT(c.nodeport_addresses, ElementsAre("10.0.0.0/8", "primary"));
}

TEST(CtlArgsTest, BooleanFlags) {
  ASSERT_OK_AND_ASSIGN(CtlConfig c, ParseCtlArgs({"services"}));
  EXPECT_TRUE(c.iptables_localhost_nodeports);
  ASSERT_OK_AND_ASSIGN(c, ParseCtlArgs({"services", "--iptables-localhost-nodeports=false"}));
  EXPECT_FALSE(c.iptables_localhost_nodeports);
  ASSERT_OK_AND_ASSIGN(c, ParseCtlArgs({"--iptables-localhost-nodeports", "services"}));
  EXPECT_TRUE(c.iptables_localhost_nodeports);
  EXPECT_THAT(ParseCtlArgs({"services", "--iptables-localhost-nodeports=no"}).status().message(),
              HasSubstr("invalid value \"no\" for flag --iptables-localhost-nodeports"));
}

TEST(CtlArgsTest, UsageErrorsNameTheProblem) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{{{}, "no command"},
                                         {{"servics"}, "unknown command \"servics\""},
                                         {{"services", "--colour"}, "unknown flag --colour"},
                                         {{"services", "--bpf-root"}, "flag --bpf-root needs a value"},
                                         {{"explain"}, "explain takes one address"},
                                         {{"maps", "extra"}, "maps takes no arguments"},
                                         {{"dump", "--json"}, "dump has no --json form"}}) {
    absl::StatusOr<CtlConfig> config = ParseCtlArgs(c.args);
    ASSERT_FALSE(config.ok()) << c.error;
    EXPECT_THAT(config.status().message(), HasSubstr(c.error));
  }
}

}  // namespace
}  // namespace bpfproxy::ctl
