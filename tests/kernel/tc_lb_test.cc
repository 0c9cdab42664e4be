// The tc loader and the datapath facade on a real kernel, inside the test's
// node namespace: device detection, attaching (twice, after a restart,
// next to someone else's filter), bpfp_dev_v1, detaching from devices that
// left, cleanup, the policy maps, and per-packet mode switched off.
#include "proxy/tc_lb.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "lb_sock.skel.h"
#include "lb_tc.skel.h"
#include "proxy/bpf_pins.h"
#include "proxy/datapath.h"
#include "proxy/ip_prefix.h"
#include "proxy/node_addresses.h"
#include "proxy/reconciler.h"
#include "tests/kernel/node_fixture.h"

namespace bpfproxy {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const std::vector<std::string> kBothHooks = {"ingress", "egress"};

IpAddress Ip(const char* text) { return IpAddress::Parse(text).value(); }
IpPrefix Pfx(const char* text) { return ParseIpPrefix(text).value(); }
L4Address Fe(const char* text) { return L4Address::Parse(text).value(); }

class TcLbTest : public NodeFixture {
 protected:
  // The node namespace gets, next to the topology's br0 (a bridge) and the
  // node ends of the pods' veths:
  //   ext0  a bridge (no ports), up, 192.0.2.10/24 and 2001:db8::10/64
  //   ext1  a second bridge, up, 198.51.100.10/24
  //   down0 a bridge, down, 203.0.113.10/24
  // (This kernel has no dummy driver: bridges stand in for NICs, being
  // neither loopback nor veth. Not ifb: loading the ifb module creates
  // ifb0/ifb1 in the host's namespace.)
  //   vtest0/vtest1  a veth pair, up, vtest0 with 192.0.2.77/32
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpNode());
    const std::vector<std::vector<std::string>> commands = {
        {"link", "add", "ext0", "type", "bridge"},
        {"addr", "add", "192.0.2.10/24", "dev", "ext0"},
        {"addr", "add", "2001:db8::10/64", "dev", "ext0", "nodad"},
        {"link", "set", "ext0", "up"},
        {"link", "add", "ext1", "type", "bridge"},
        {"addr", "add", "198.51.100.10/24", "dev", "ext1"},
        {"link", "set", "ext1", "up"},
        {"link", "add", "down0", "type", "bridge"},
        {"addr", "add", "203.0.113.10/24", "dev", "down0"},
        {"link", "add", "vtest0", "type", "veth", "peer", "name", "vtest1"},
        {"addr", "add", "192.0.2.77/32", "dev", "vtest0"},
        {"link", "set", "vtest0", "up"},
        {"link", "set", "vtest1", "up"},
    };
    for (const auto& args : commands) ASSERT_OK(topology_->node().Ip(args));
  }

  void TearDown() override {
    tc_.reset();
    datapath_.reset();
    // Filters live on devices of the node namespace, which goes with the
    // topology; the pins go with the private bpffs.
    if (node_ready()) EXPECT_OK(TcLb::Cleanup(bpf_root()));
    LeaveNode();
  }

  void OpenTc(std::vector<std::string> devices) {
    tc_.reset();
    TcLbConfig config;
    config.bpf_root = bpf_root();
    config.devices = std::move(devices);
    ASSERT_OK_AND_ASSIGN(tc_, TcLb::Open(config));
  }

  static int Ifindex(const std::string& name) { return static_cast<int>(if_nametoindex(name.c_str())); }

  static std::vector<std::string> Hooks(const std::string& device) {
    absl::StatusOr<std::vector<std::string>> hooks = OurTcHooks(Ifindex(device));
    EXPECT_OK(hooks);
    return hooks.value_or(std::vector<std::string>{"<error>"});
  }

  // The program ID in our slot of |device|'s ingress, 0 if none.
  static uint32_t IngressProgramId(const std::string& device) {
    bpf_tc_hook hook{};
    hook.sz = sizeof(hook);
    hook.ifindex = Ifindex(device);
    hook.attach_point = BPF_TC_INGRESS;
    bpf_tc_opts opts{};
    opts.sz = sizeof(opts);
    opts.handle = kTcHandle;
    opts.priority = kTcPriority;
    return bpf_tc_query(&hook, &opts) == 0 ? opts.prog_id : 0;
  }

  // `tc filter show` lines for |device|'s |direction| that name |text|.
  int FilterLines(const std::string& device, const std::string& direction, const std::string& text) {
    absl::StatusOr<std::string> out = e2e::RunOutput({"tc", "filter", "show", "dev", device, direction});
    EXPECT_OK(out);
    const std::string text_out = out.value_or("");
    int n = 0;
    for (absl::string_view line : absl::StrSplit(text_out, '\n')) n += absl::StrContains(line, text);
    return n;
  }

  // bpfp_dev_v1 as "ifname v4 v6" lines.
  std::set<std::string> DeviceEntries() {
    std::set<std::string> out;
    UniqueFd fd(bpf_obj_get((MapsDir(bpf_root()) + "/" LB_DEVICES_MAP_NAME).c_str()));
    EXPECT_TRUE(fd.valid()) << "bpfp_dev_v1 is not pinned";
    uint32_t key = 0, next = 0;
    const uint32_t* prev = nullptr;
    while (bpf_map_get_next_key(fd.get(), prev, &next) == 0) {
      lb_device_value value{};
      EXPECT_EQ(bpf_map_lookup_elem(fd.get(), &next, &value), 0);
      char name[IF_NAMESIZE] = "?";
      if_indextoname(next, name);
      auto text = [](const lb_addr& a) {
        std::array<uint8_t, 16> bytes;
        std::memcpy(bytes.data(), a.u8, 16);
        return IpAddress::FromBytes(bytes).ToString();
      };
      out.insert(absl::StrCat(name, " ", text(value.ipv4), " ", text(value.ipv6)));
      key = next;
      prev = &key;
    }
    return out;
  }

  std::set<std::string> MapPins() {
    std::vector<std::string> pins = OurPins(MapsDir(bpf_root()));
    return std::set<std::string>(pins.begin(), pins.end());
  }

  // A tc program that is not bpfproxy's: "other_prog", returns TC_ACT_OK.
  static UniqueFd ForeignProgram() {
    bpf_insn insns[2] = {};
    insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = 0
    insns[1].code = BPF_JMP | BPF_EXIT;
    return UniqueFd(bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "other_prog", "GPL", insns, 2, nullptr));
  }

  static absl::Status AttachForeign(const std::string& device, int prog_fd, uint32_t handle, uint32_t priority) {
    bpf_tc_hook hook{};
    hook.sz = sizeof(hook);
    hook.ifindex = Ifindex(device);
    hook.attach_point = BPF_TC_INGRESS;
    int err = bpf_tc_hook_create(&hook);
    if (err != 0 && err != -EEXIST) return ErrnoError("create clsact", err);
    bpf_tc_opts opts{};
    opts.sz = sizeof(opts);
    opts.prog_fd = prog_fd;
    opts.handle = handle;
    opts.priority = priority;
    if (int e = bpf_tc_attach(&hook, &opts); e != 0) return ErrnoError("attach foreign", e);
    return absl::OkStatus();
  }

  std::unique_ptr<TcLb> tc_;
  std::unique_ptr<Datapath> datapath_;
};

TEST_F(TcLbTest, DetectNodeDevicesPicksAddressedDevicesAndSkipsLoopbackVethsAndDownOnes) {
  ASSERT_OK_AND_ASSIGN(std::vector<NetDevice> all, ListNetDevices());
  std::map<std::string, std::string> kinds;
  for (const NetDevice& d : all) kinds[d.name] = d.kind;
  EXPECT_EQ(kinds["br0"], "bridge");
  EXPECT_EQ(kinds["ext0"], "bridge");
  EXPECT_EQ(kinds["ext1"], "bridge");
  EXPECT_EQ(kinds["vtest0"], "veth");
  EXPECT_EQ(kinds["lo"], "");

  ASSERT_OK_AND_ASSIGN(std::vector<std::string> detected, DetectNodeDevices());
  EXPECT_THAT(detected, UnorderedElementsAre("br0", "ext0", "ext1"));

  ASSERT_OK_AND_ASSIGN(std::vector<NetDevice> ext0, FindNetDevices({"ext0"}));
  EXPECT_THAT(ext0[0].addresses, ElementsAre(Ip("192.0.2.10"), Ip("2001:db8::10")))
      << "global addresses only: no fe80::";
  EXPECT_EQ(FindNetDevices({"ext0", "nosuchdev"}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TcLbTest, AttachesBothHooksAndAttachingAgainReplacesInPlace) {
  ASSERT_NO_FATAL_FAILURE(OpenTc({"ext0", "ext1"}));
  EXPECT_EQ(Hooks("ext0"), kBothHooks);
  EXPECT_EQ(Hooks("ext1"), kBothHooks);
  EXPECT_THAT(Hooks("br0"), IsEmpty());
  uint32_t first = IngressProgramId("ext0");
  ASSERT_NE(first, 0u);

  // Same process, second SetDevices: nothing changes.
  ASSERT_OK(tc_->SetDevices({"ext0", "ext1", "ext0"}));
  EXPECT_EQ(IngressProgramId("ext0"), first);

  // A restart loads a new program and swaps it into our slot.
  ASSERT_NO_FATAL_FAILURE(OpenTc({"ext0", "ext1"}));
  uint32_t second = IngressProgramId("ext0");
  EXPECT_NE(second, 0u);
  EXPECT_NE(second, first);
  EXPECT_EQ(Hooks("ext0"), kBothHooks);
  EXPECT_EQ(FilterLines("ext0", "ingress", "bpfp_tc_ingress"), 1);
  EXPECT_EQ(FilterLines("ext0", "egress", "bpfp_tc_egress"), 1);
  EXPECT_EQ(FilterLines("ext0", "ingress", "handle 0xb9f0"), 1);
}

TEST_F(TcLbTest, NeverReplacesSomeoneElsesFilterInOurSlot) {
  UniqueFd foreign = ForeignProgram();
  ASSERT_TRUE(foreign.valid()) << std::strerror(errno);
  ASSERT_OK(AttachForeign("ext1", foreign.get(), kTcHandle, kTcPriority));

  TcLbConfig config;
  config.bpf_root = bpf_root();
  config.devices = {"ext1"};
  absl::StatusOr<std::unique_ptr<TcLb>> tc = TcLb::Open(config);
  EXPECT_EQ(tc.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(tc.status().message()), ::testing::HasSubstr("other_prog"));
  EXPECT_EQ(FilterLines("ext1", "ingress", "other_prog"), 1);
  // Cleanup leaves it alone too.
  ASSERT_OK(TcLb::Cleanup(bpf_root()));
  EXPECT_EQ(FilterLines("ext1", "ingress", "other_prog"), 1);
}

TEST_F(TcLbTest, DeviceMapHoldsEachDevicesFirstAddressPerFamily) {
  ASSERT_NO_FATAL_FAILURE(OpenTc({"ext0", "ext1"}));
  EXPECT_EQ(DeviceEntries(), (std::set<std::string>{"ext0 192.0.2.10 2001:db8::10", "ext1 198.51.100.10 ::"}));
  EXPECT_THAT(tc_->devices(), ::testing::SizeIs(2));
}

TEST_F(TcLbTest, DevicesNoLongerConfiguredOrGoneLoseFiltersAndEntries) {
  ASSERT_NO_FATAL_FAILURE(OpenTc({"ext0", "ext1", "br0"}));
  ASSERT_EQ(Hooks("br0"), kBothHooks);

  // Dropped from the list at runtime.
  ASSERT_OK(tc_->SetDevices({"ext0", "ext1"}));
  EXPECT_THAT(Hooks("br0"), IsEmpty());
  EXPECT_EQ(DeviceEntries(), (std::set<std::string>{"ext0 192.0.2.10 2001:db8::10", "ext1 198.51.100.10 ::"}));

  // Gone from the kernel, then a restart without it.
  ASSERT_OK(topology_->node().Ip({"link", "del", "ext1"}));
  ASSERT_NO_FATAL_FAILURE(OpenTc({"ext0"}));
  EXPECT_EQ(DeviceEntries(), (std::set<std::string>{"ext0 192.0.2.10 2001:db8::10"}));
  EXPECT_EQ(Hooks("ext0"), kBothHooks);

  // A restart that names a missing device fails, naming it.
  TcLbConfig config;
  config.bpf_root = bpf_root();
  config.devices = {"ext1"};
  absl::StatusOr<std::unique_ptr<TcLb>> missing = TcLb::Open(config);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), ::testing::HasSubstr("ext1"));
}

TEST_F(TcLbTest, RestartReusesTheMapsWithTheirData) {
  ASSERT_NO_FATAL_FAILURE(OpenTc({"ext0"}));
  EXPECT_FALSE(tc_->reused_maps());
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Reconciler> reconciler, Reconciler::Create(&tc_->maps()));
    ASSERT_OK(reconciler->Upsert(Fe("192.0.2.10:30080/TCP"), {Fe("10.244.0.10:8080/TCP"), Fe("10.244.0.11:8080/TCP")}));
  }
  ASSERT_OK(tc_->policies().Upsert(Fe("192.0.2.10:30080/TCP"),
                                   {LB_POL_F_PRESERVE_SOURCE | LB_POL_F_SOURCE_RANGES, {Pfx("10.0.0.0/8")}}));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> before, DumpLines(tc_->maps()));
  DesiredPolicies policies_before = tc_->policies().Applied();
  ASSERT_EQ(before.size(), 7u) << "master, 2 slots, 2 members, 2 backends";

  ASSERT_NO_FATAL_FAILURE(OpenTc({"ext0"}));
  EXPECT_TRUE(tc_->reused_maps());
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> after, DumpLines(tc_->maps()));
  EXPECT_EQ(after, before);
  EXPECT_EQ(tc_->policies().Applied(), policies_before);
  EXPECT_EQ(DeviceEntries(), (std::set<std::string>{"ext0 192.0.2.10 2001:db8::10"}));
}

// An admin whose NodePorts stop updating reads the error and looks for the
// full map with bpftool: it must name the external view's maps (bpfp_x*),
// not the socket view's of the same layout.
TEST_F(TcLbTest, KernelMapErrorsNameTheExternalViewsMaps) {
  TcLbConfig config;
  config.bpf_root = bpf_root();
  config.capacity.services = 2;  // bpfp_xsvc_v1 and bpfp_xmemb_v1
  config.capacity.backends = 2;  // bpfp_xbe_v1
  ASSERT_OK_AND_ASSIGN(tc_, TcLb::Open(config));
  LbMaps& maps = tc_->maps();
  const L4Address frontend = Fe("192.0.2.10:30080/TCP");
  struct Case {
    std::function<absl::Status(uint16_t)> write;  // The n-th distinct entry.
    std::string third_write_error;
  };
  const std::vector<Case> cases = {
      {[&](uint16_t n) { return maps.UpdateService(MakeServiceKey(frontend, n), lb_service_value{}); },
       "bpf map bpfp_xsvc_v1: update 192.0.2.10:30080/TCP#2: Argument list too long (E2BIG)"},
      {[&](uint16_t n) { return maps.UpdateBackend(n + 1, MakeBackendValue(n + 1, Fe("10.244.0.10:8080/TCP"))); },
       "bpf map bpfp_xbe_v1: update 3 10.244.0.10:8080/TCP: Argument list too long (E2BIG)"},
      {[&](uint16_t n) { return maps.UpdateMember(MakeMemberKey(7, n + 1)); },
       "bpf map bpfp_xmemb_v1: update svc 7 backend 3: Argument list too long (E2BIG)"},
  };
  for (const Case& c : cases) {
    ASSERT_OK(c.write(0));
    ASSERT_OK(c.write(1));
    absl::Status full = c.write(2);
    EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
    EXPECT_EQ(std::string(full.message()), c.third_write_error);
  }
  absl::Status missing = maps.DeleteBackend(42);
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  EXPECT_EQ(std::string(missing.message()), "bpf map bpfp_xbe_v1: delete 42: No such file or directory (ENOENT)");
}

TEST_F(TcLbTest, CleanupRemovesOurFiltersAndTheTcPinsOnly) {
  UniqueFd foreign = ForeignProgram();
  ASSERT_TRUE(foreign.valid());
  ASSERT_OK(AttachForeign("ext0", foreign.get(), 7, 7));  // Someone else's slot.
  ASSERT_NO_FATAL_FAILURE(OpenTc({"ext0", "ext1"}));
  std::set<std::string> tc_pins(TcLbMapNames().begin(), TcLbMapNames().end());
  EXPECT_EQ(MapPins(), tc_pins);
  tc_.reset();

  ASSERT_OK(TcLb::Cleanup(bpf_root()));
  EXPECT_THAT(Hooks("ext0"), IsEmpty());
  EXPECT_THAT(Hooks("ext1"), IsEmpty());
  EXPECT_EQ(FilterLines("ext0", "ingress", "bpfp_"), 0);
  EXPECT_EQ(FilterLines("ext0", "ingress", "other_prog"), 1);
  // The stats map is the socket LB's too: SocketLb::Cleanup removes it.
  EXPECT_EQ(MapPins(), (std::set<std::string>{LB_STATS_MAP_NAME}));
  ASSERT_OK(TcLb::Cleanup(bpf_root()));  // Twice is fine.
}

TEST_F(TcLbTest, PinNameListsMatchTheBpfObjects) {
  auto names_of = [](bpf_object* obj) {
    std::set<std::string> names;
    bpf_map* map;
    bpf_object__for_each_map(map, obj) {
      if (!bpf_map__is_internal(map)) names.insert(bpf_map__name(map));
    }
    return names;
  };
  lb_sock* sock = lb_sock__open();
  lb_tc* tc = lb_tc__open();
  ASSERT_NE(sock, nullptr);
  ASSERT_NE(tc, nullptr);
  EXPECT_EQ(names_of(sock->obj), std::set<std::string>(SocketLbMapNames().begin(), SocketLbMapNames().end()));
  EXPECT_EQ(names_of(tc->obj), std::set<std::string>(TcLbMapNames().begin(), TcLbMapNames().end()));
  lb_sock__destroy(sock);
  lb_tc__destroy(tc);
}

// The LPM trie as the tc program uses it: a lookup with a full-length key
// (frontend + the packet's source as a /32 or /128) finds the longest range
// of that frontend holding the source.
TEST_F(TcLbTest, PolicyMapsRoundTripAndTheTrieMatchesSources) {
  ASSERT_NO_FATAL_FAILURE(OpenTc({"ext0"}));
  PolicyMaps& policies = tc_->policies();
  const L4Address lb4 = Fe("192.0.2.100:80/TCP");
  const L4Address lb6 = Fe("[2001:db8::100]:443/TCP");
  const L4Address other = Fe("192.0.2.101:80/TCP");
  ASSERT_OK(policies.Upsert(lb4, {LB_POL_F_SOURCE_RANGES, {Pfx("10.1.2.3/16"), Pfx("172.16.5.0/24")}}));
  ASSERT_OK(policies.Upsert(lb6, {LB_POL_F_SOURCE_RANGES | LB_POL_F_PRESERVE_SOURCE, {Pfx("2001:db8:aa::/48")}}));
  ASSERT_OK(policies.Upsert(other, {LB_POL_F_DROP_NO_BACKEND, {}}));

  DesiredPolicies want = {
      {lb4, {LB_POL_F_SOURCE_RANGES, {Pfx("10.1.0.0/16"), Pfx("172.16.5.0/24")}}},
      {lb6, {LB_POL_F_SOURCE_RANGES | LB_POL_F_PRESERVE_SOURCE, {Pfx("2001:db8:aa::/48")}}},
      {other, {LB_POL_F_DROP_NO_BACKEND, {}}},
  };
  EXPECT_EQ(policies.Applied(), want);

  UniqueFd trie(bpf_obj_get((MapsDir(bpf_root()) + "/" LB_XSRC_MAP_NAME).c_str()));
  ASSERT_TRUE(trie.valid());
  auto allowed = [&](const L4Address& frontend, const char* source) {
    IpAddress src = Ip(source);
    lb_src_range_key key = MakeSourceRangeKey(frontend, IpPrefix{src, static_cast<uint8_t>(src.is_v4() ? 32 : 128)});
    EXPECT_EQ(key.prefixlen, LB_SRC_RANGE_FRONTEND_BITS + 128u);
    uint8_t value = 0;
    return bpf_map_lookup_elem(trie.get(), &key, &value) == 0 && value == 1;
  };
  struct Case {
    L4Address frontend;
    const char* source;
    bool allowed;
  };
  for (const Case& c : std::vector<Case>{{lb4, "10.1.200.7", true},
                                         {lb4, "10.2.0.1", false},
                                         {lb4, "172.16.5.255", true},
                                         {lb4, "172.16.6.1", false},
                                         {other, "10.1.200.7", false},
                                         {Fe("192.0.2.100:81/TCP"), "10.1.200.7", false},
                                         {Fe("192.0.2.100:80/UDP"), "10.1.200.7", false},
                                         {lb6, "2001:db8:aa:1::1", true},
                                         {lb6, "2001:db8:ab::1", false}}) {
    EXPECT_EQ(allowed(c.frontend, c.source), c.allowed) << c.frontend.ToString() << " from " << c.source;
  }

  // Ranges that leave are deleted, also after a restart rebuilt the cache.
  ASSERT_NO_FATAL_FAILURE(OpenTc({"ext0"}));
  ASSERT_OK(tc_->policies().Upsert(lb4, {LB_POL_F_SOURCE_RANGES, {Pfx("172.16.5.0/24")}}));
  EXPECT_FALSE(allowed(lb4, "10.1.200.7"));
  EXPECT_TRUE(allowed(lb4, "172.16.5.1"));
  ASSERT_OK(tc_->policies().Upsert(lb4, {}));
  EXPECT_FALSE(allowed(lb4, "172.16.5.1"));
  ASSERT_OK(tc_->policies().Prune({other}));
  EXPECT_EQ(tc_->policies().Applied(), (DesiredPolicies{{other, {LB_POL_F_DROP_NO_BACKEND, {}}}}));
  EXPECT_FALSE(allowed(lb6, "2001:db8:aa:1::1"));
}

TEST_F(TcLbTest, DatapathDetectsDevicesAndTurningPerPacketOffRemovesTheTcPart) {
  DatapathConfig config;
  config.socket.bpf_root = bpf_root();
  config.socket.cgroup_root = cgroup_->path();
  ASSERT_OK_AND_ASSIGN(datapath_, Datapath::Open(config));
  EXPECT_THAT(datapath_->devices(), UnorderedElementsAre("br0", "ext0", "ext1"));
  EXPECT_THAT(datapath_->node_addresses(),
              UnorderedElementsAre(Ip("10.244.0.1"), Ip("fd00:244::1"), Ip("192.0.2.10"), Ip("2001:db8::10"),
                                   Ip("198.51.100.10")));
  ASSERT_NE(datapath_->external_maps(), nullptr);
  ASSERT_NE(datapath_->policies(), nullptr);
  EXPECT_EQ(Hooks("ext1"), kBothHooks);
  std::set<std::string> all_pins;
  for (const std::string& name : CurrentMapNames()) all_pins.insert(name);
  EXPECT_EQ(MapPins(), all_pins);

  // A new address shows after a refresh.
  ASSERT_OK(topology_->node().Ip({"addr", "add", "198.51.100.11/24", "dev", "ext1"}));
  ASSERT_OK_AND_ASSIGN(Datapath::DeviceRefresh refresh, datapath_->RefreshDevices());
  EXPECT_TRUE(refresh.addresses_changed);
  EXPECT_OK(refresh.attach);
  EXPECT_THAT(datapath_->node_addresses(), ::testing::Contains(Ip("198.51.100.11")));
  EXPECT_EQ(Hooks("ext1"), kBothHooks);
  ASSERT_OK_AND_ASSIGN(refresh, datapath_->RefreshDevices());
  EXPECT_FALSE(refresh.addresses_changed) << "nothing changed since";

  // Restart with --per-packet-lb=false and --devices=ext0.
  datapath_.reset();
  config.per_packet_lb = false;
  config.devices = {"ext0"};
  ASSERT_OK_AND_ASSIGN(datapath_, Datapath::Open(config));
  EXPECT_EQ(datapath_->external_maps(), nullptr);
  EXPECT_EQ(datapath_->policies(), nullptr);
  EXPECT_THAT(datapath_->node_addresses(), ElementsAre(Ip("192.0.2.10"), Ip("2001:db8::10")));
  for (const char* device : {"br0", "ext0", "ext1"}) EXPECT_THAT(Hooks(device), IsEmpty()) << device;
  std::set<std::string> socket_pins(SocketLbMapNames().begin(), SocketLbMapNames().end());
  EXPECT_EQ(MapPins(), socket_pins);

  // --cleanup.
  datapath_.reset();
  ASSERT_OK(Datapath::Cleanup(bpf_root()));
  EXPECT_FALSE(std::filesystem::exists(bpf_root()));
}

}  // namespace
}  // namespace bpfproxy
