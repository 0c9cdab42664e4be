// bpfproxyctl on a real node: the daemon in a node namespace programs
// Services from the API server emulator, and the tool, run as an admin runs
// it, must show exactly those Services, explain an address with the right
// reasons, and flag a datapath that disagrees. A second fixture pins the
// per-packet path's maps by hand (policies, LPM source ranges, conntrack,
// per-CPU counters) to check that the tool reads every map type right.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "e2e/apiserver/emulator.h"
#include "e2e/apiserver/test_pki.h"
#include "e2e/k8s_objects.h"
#include "e2e/process.h"
#include "gmock/gmock.h"
#include "proxy/bpf_lb_maps.h"
#include "proxy/mounts.h"
#include "proxy/reconciler.h"
#include "proxy/socket_lb.h"
#include "tests/kernel/daemon_node_fixture.h"
#include "tests/kernel/socket_lb_fixture.h"

namespace bpfproxy {
namespace {

using e2e::NotReady;
using e2e::Ready;
using e2e::ServiceObject;
using e2e::SliceObject;
using json = nlohmann::json;
using ::testing::HasSubstr;

constexpr const char* kNode = DaemonNodeFixture::kNodeName;

struct CtlRun {
  int exit_code = -1;
  std::string out;
};

// Runs bpfproxyctl with |args| in the calling thread's network namespace;
// its stdout goes to |out_file|, its stderr to |log|.
CtlRun RunCtl(std::vector<std::string> args, const std::string& out_file, const std::string& log) {
  args.insert(args.begin(), BPFPROXYCTL_BINARY);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  pid_t pid = 0;
  CtlRun run;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = e2e::ReadFile(out_file);
  }
  posix_spawn_file_actions_destroy(&actions);
  return run;
}

class CtlTest : public DaemonNodeFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpDaemonNode({8080}, "ctl"));
    ASSERT_NO_FATAL_FAILURE(StartDaemon());
  }

  // bpfproxyctl as an admin on this node runs it.
  CtlRun Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), "--bpf-root=" + bpf_root());
    return RunCtl(std::move(args), dir_ + "/ctl.out", Log());
  }
  CtlRun Explain(const std::string& address, bool as_json) {
    std::vector<std::string> args = {"explain", address, "--kubeconfig=" + kubeconfig_,
                                     std::string("--hostname-override=") + kNode};
    if (as_json) args.push_back("--json");
    return Ctl(std::move(args));
  }

  // `services --json` of the socket view: frontend -> sorted backends.
  std::map<std::string, std::vector<std::string>> SocketView(const json& services) {
    std::map<std::string, std::vector<std::string>> out;
    for (const json& f : services["frontends"]) {
      if (f["view"] != "socket") continue;
      std::vector<std::string> backends = f["backends"];
      std::sort(backends.begin(), backends.end());
      out[f["frontend"]] = backends;
    }
    return out;
  }

  // Polls `services --json` until its socket view is |want| and the
  // per-packet path (on by default) is loaded; returns the last output.
  json EventuallyServices(const std::map<std::string, std::vector<std::string>>& want) {
    json got;
    for (absl::Time end = absl::Now() + absl::Seconds(15); absl::Now() < end; absl::SleepFor(absl::Milliseconds(50))) {
      CtlRun run = Ctl({"services", "--json"});
      // While the daemon starts, its maps are pinned one by one.
      if (run.exit_code != 0) continue;
      got = json::parse(run.out);
      if (SocketView(got) == want && got["per_packet_path"] == true) return got;
    }
    ADD_FAILURE() << "services --json never showed the wanted socket view; last:\n" << got.dump(2);
    return got;
  }

  static std::string Pod(int i, const char* suffix = ":8080/TCP") {
    return absl::StrCat(PodTopology::pod_ip4(i).ToString(), suffix);
  }

};

json WithInternalTrafficPolicyLocal(json service) {
  service["spec"]["internalTrafficPolicy"] = "Local";
  return service;
}

TEST_F(CtlTest, ServicesJsonEqualsTheServicesInTheApiServer) {
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}, {"dns", 53, "UDP"}}));
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}, {"dns", 8080, "UDP"}},
                    {Ready(PodTopology::pod_ip4(0), kNode), Ready(PodTopology::pod_ip4(1), "node-b"),
                     NotReady(PodTopology::pod_ip4(2), kNode)}));
  Apply(ServiceObject("db", "10.96.0.11", {{"pg", 5432, "TCP"}}));
  Apply(ServiceObject("theirs", "10.96.0.12", {{"http", 80, "TCP"}},
                      {{"service.kubernetes.io/service-proxy-name", "other"}}));
  const json services = EventuallyServices({{"10.96.0.10:80/TCP", {Pod(0), Pod(1)}},
                                            {"10.96.0.10:53/UDP", {Pod(0, ":8080/UDP"), Pod(1, ":8080/UDP")}},
                                            {"10.96.0.11:5432/TCP", {}}});
  for (const json& f : services["frontends"]) {
    EXPECT_EQ(f["view"], "socket") << "ClusterIP Services program no external frontend: " << f.dump();
    EXPECT_EQ(f["problems"], json::array()) << f.dump();
    EXPECT_EQ(f["verdict"], f["frontend"] == "10.96.0.11:5432/TCP" ? "refuse" : "forward") << f.dump();
  }

  // Connections are counted per frontend in the datapath.
  auto connections = [&]() -> uint64_t {
    const json services = json::parse(Ctl({"services", "--json"}).out);
    for (const json& f : services["frontends"]) {
      if (f["frontend"] == "10.96.0.10:80/TCP") return f["connections"].is_null() ? 0 : f["connections"].get<uint64_t>();
    }
    return 0;
  };
  const uint64_t before = connections();
  for (int i = 0; i < 3; ++i) ASSERT_OK(TcpClient::Connect(kVip4, 80).status());
  EXPECT_EQ(connections(), before + 3);

  // 3 masters + 2 + 2 slots; 4 backends (the protocol is part of one).
  CtlRun maps = Ctl({"maps", "--json"});
  ASSERT_EQ(maps.exit_code, 0);
  std::map<std::string, std::pair<size_t, size_t>> usage;
  const json maps_json = json::parse(maps.out);
  for (const json& m : maps_json["maps"]) usage[m["map"]] = {m["entries"], m["capacity"]};
  EXPECT_EQ(usage["bpfp_svc_v1"], std::make_pair(size_t{7}, size_t{LB_DEFAULT_SERVICE_ENTRIES})) << maps.out;
  EXPECT_EQ(usage["bpfp_be_v1"], std::make_pair(size_t{4}, size_t{LB_DEFAULT_BACKEND_ENTRIES})) << maps.out;
  EXPECT_EQ(usage["bpfp_memb_v1"].first, 4u) << maps.out;
  EXPECT_TRUE(usage.contains("bpfp_stat_v1")) << maps.out;
}

TEST_F(CtlTest, ExplainNamesTheReasonsAndTheDatapathAgrees) {
  Apply(WithInternalTrafficPolicyLocal(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}})));
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}},
                    {Ready(PodTopology::pod_ip4(0), kNode), NotReady(PodTopology::pod_ip4(1), kNode),
                     Ready(PodTopology::pod_ip4(2), "node-b")}));
  EventuallyServices({{"10.96.0.10:80/TCP", {Pod(0)}}});

  CtlRun run = Explain("10.96.0.10:80/TCP", /*as_json=*/true);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const json e = json::parse(run.out);
  EXPECT_EQ(e["mismatch"], false);
  ASSERT_EQ(e["matches"].size(), 1u) << run.out;
  const json& port = e["matches"][0];
  EXPECT_EQ(port["service"], "default/web");
  EXPECT_EQ(port["kind"], "ClusterIP");
  const json& socket = port["views"][0];
  EXPECT_EQ(socket["view"], "socket");
  EXPECT_EQ(socket["traffic_policy"], json::parse(R"({"field": "internalTrafficPolicy", "value": "Local"})"));
  EXPECT_EQ(socket["datapath"]["in_datapath"], true);
  std::map<std::string, std::string> reasons;
  for (const json& endpoint : socket["endpoints"]) {
    reasons[endpoint["backend"]] = absl::StrCat(endpoint["reason"].get<std::string>(), " in_datapath=",
                                                endpoint["in_datapath"].get<bool>());
  }
  EXPECT_EQ(reasons, (std::map<std::string, std::string>{{Pod(0), "eligible in_datapath=1"},
                                                          {Pod(1), "not-ready in_datapath=0"},
                                                          {Pod(2), "other-node in_datapath=0"}}));

  run = Explain("10.96.0.10:80", /*as_json=*/false);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("socket view 10.96.0.10:80/TCP: internalTrafficPolicy Local: this node's endpoints "
                                 "only\n"));
  EXPECT_THAT(run.out, HasSubstr("not-ready: ready=false serving=false terminating=false"));
  EXPECT_THAT(run.out, HasSubstr("other-node: on node node-b, not node-a"));
  EXPECT_THAT(run.out, HasSubstr("in datapath: yes (service id "));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("MISMATCH")));
}

TEST_F(CtlTest, ExplainFlagsADatapathThatDisagrees) {
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}}));
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}},
                    {Ready(PodTopology::pod_ip4(0), kNode), Ready(PodTopology::pod_ip4(1), kNode)}));
  EventuallyServices({{"10.96.0.10:80/TCP", {Pod(0), Pod(1)}}});
  StopDaemon();
  {
    // Something other than the daemon rewrites the maps: one backend gone,
    // and a frontend no Service has.
    auto open = [&](const char* name) { return UniqueFd(bpf_obj_get((bpf_root() + "/maps/" + name).c_str())); };
    BpfLbMaps maps(open(LB_SERVICES_MAP_NAME), open(LB_BACKENDS_MAP_NAME), open(LB_MEMBERS_MAP_NAME), {});
    ASSERT_OK_AND_ASSIGN(auto reconciler, Reconciler::Create(&maps));
    ASSERT_OK(reconciler->Upsert(e2e::L4("10.96.0.10:80/TCP"), {e2e::L4(Pod(0).c_str())}));
    ASSERT_OK(reconciler->Upsert(e2e::L4("10.96.0.10:81/TCP"), {e2e::L4(Pod(2).c_str())}));
  }
  CtlRun run = Explain("10.96.0.10:80", /*as_json=*/false);
  EXPECT_EQ(run.exit_code, 3) << run.out;
  EXPECT_THAT(run.out, HasSubstr("    !! MISMATCH: eligible but not in the datapath: " + Pod(1) + "\n"));
  EXPECT_THAT(run.out, HasSubstr("!! MISMATCH: the datapath does not hold what kube-proxy's rules ask for"));

  run = Explain("10.96.0.10:81", /*as_json=*/true);
  EXPECT_EQ(run.exit_code, 3) << run.out;
  const json e = json::parse(run.out);
  EXPECT_EQ(e["mismatch"], true);
  ASSERT_EQ(e["stale"].size(), 1u) << run.out;
  EXPECT_EQ(e["stale"][0]["frontend"], "10.96.0.10:81/TCP");
  EXPECT_EQ(e["stale"][0]["backends"], json::array({Pod(2)}));
}

TEST_F(CtlTest, ExplainANodePortWithExternalTrafficPolicyLocalInBothViews) {
  json service = ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}});
  service["spec"]["type"] = "NodePort";
  service["spec"]["externalTrafficPolicy"] = "Local";
  service["spec"]["ports"][0]["nodePort"] = 30080;
  Apply(service);
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}},
                    {Ready(PodTopology::pod_ip4(0), kNode), Ready(PodTopology::pod_ip4(1), "node-b")}));
  // The node's address is br0's: the per-packet path is attached there.
  const std::string node_port = absl::StrCat(PodTopology::node_ip4().ToString(), ":30080/TCP");
  const json services = EventuallyServices({{"10.96.0.10:80/TCP", {Pod(0), Pod(1)}},
                                            {node_port, {Pod(0), Pod(1)}},
                                            {"127.0.0.1:30080/TCP", {Pod(0), Pod(1)}}});
  ASSERT_EQ(services["per_packet_path"], true) << services.dump(2);
  json external;
  for (const json& f : services["frontends"]) {
    if (f["view"] == "external") external.push_back(f);
  }
  ASSERT_EQ(external.size(), 1u) << services.dump(2);
  EXPECT_EQ(external[0]["frontend"], node_port);
  EXPECT_EQ(external[0]["backends"], json::array({Pod(0)}));
  EXPECT_EQ(external[0]["policy"]["preserve_source"], true);

  CtlRun run = Explain(PodTopology::node_ip4().ToString() + ":30080", /*as_json=*/true);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const json e = json::parse(run.out);
  ASSERT_EQ(e["matches"].size(), 1u) << run.out;
  EXPECT_EQ(e["matches"][0]["kind"], "NodePort");
  std::map<std::string, std::string> got;
  for (const json& v : e["matches"][0]["views"]) {
    for (const json& endpoint : v["endpoints"]) {
      got[absl::StrCat(v["view"].get<std::string>(), " ", endpoint["backend"].get<std::string>())] =
          absl::StrCat(endpoint["reason"].get<std::string>(), " in_datapath=", endpoint["in_datapath"].get<bool>());
    }
    EXPECT_EQ(v["datapath"]["in_datapath"], true) << v.dump(2);
    EXPECT_EQ(v["mismatches"], json::array()) << v.dump(2);
  }
  EXPECT_EQ(got, (std::map<std::string, std::string>{{"external " + Pod(0), "eligible in_datapath=1"},
                                                      {"external " + Pod(1), "other-node in_datapath=0"},
                                                      {"socket " + Pod(0), "eligible in_datapath=1"},
                                                      {"socket " + Pod(1), "eligible in_datapath=1"}}));
}

TEST_F(CtlTest, UsageAndUnreachableApiServerAreClearErrors) {
  EXPECT_EQ(Ctl({"explain", "10.96.0.10"}).exit_code, 2);
  EXPECT_EQ(Ctl({"servics"}).exit_code, 2);
  EXPECT_EQ(RunCtl({"--bpf-root=/nonexistent", "services"}, dir_ + "/ctl.out", Log()).exit_code, 1);
  EventuallyServices({});
  CtlRun run = Ctl({"explain", "10.96.0.10:80", "--master=http://127.0.0.1:1", "--hostname-override=node-a"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(e2e::ReadFile(Log()), HasSubstr("bpfproxyctl: list nodes: "));
}

// ---- Every map type, pinned by hand ----

class PinnedMapsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_KERNEL_TEST_PREREQUISITES();
    ASSERT_OK_AND_ASSIGN(bpffs_, e2e::BpffsMount::Create());
    maps_dir_ = bpffs_->path() + "/bpfproxy/maps";
    ASSERT_OK(MakeDirs(maps_dir_));
    out_ = bpffs_->path() + "-ctl.out";
    log_ = bpffs_->path() + "-ctl.log";
  }
  void TearDown() override {
    fds_.clear();
    if (bpffs_ != nullptr) {
      if (HasFailure()) std::fprintf(stderr, "bpfproxyctl log:\n%s\n", e2e::ReadFile(log_).c_str());
      unlink(out_.c_str());
      unlink(log_.c_str());
    }
  }

  // Creates map |name| and pins it where the daemon would.
  int Pin(const char* name, bpf_map_type type, uint32_t key, uint32_t value, uint32_t max, uint32_t flags = 0) {
    LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
    UniqueFd fd(bpf_map_create(type, name, key, value, max, &opts));
    EXPECT_TRUE(fd.valid()) << name << ": " << strerror(errno);
    EXPECT_EQ(bpf_obj_pin(fd.get(), (maps_dir_ + "/" + name).c_str()), 0) << name << ": " << strerror(errno);
    fds_.push_back(std::move(fd));
    return fds_.back().get();
  }

  CtlRun Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), "--bpf-root=" + bpffs_->path() + "/bpfproxy");
    return RunCtl(std::move(args), out_, log_);
  }

  std::unique_ptr<e2e::BpffsMount> bpffs_;
  std::string maps_dir_, out_, log_;
  std::vector<UniqueFd> fds_;
};

lb_frontend_key FrontendKey(const L4Address& f) {
  lb_frontend_key key{};
  std::memcpy(key.vip.u8, f.ip.bytes().data(), 16);
  key.port = htons(f.port);
  key.proto = static_cast<uint8_t>(f.proto);
  return key;
}

TEST_F(PinnedMapsTest, ReadsBothViewsPoliciesRangesCountersAndFlows) {
  const int svc = Pin(LB_SERVICES_MAP_NAME, BPF_MAP_TYPE_HASH, sizeof(lb_service_key), sizeof(lb_service_value), 64,
                      BPF_F_NO_PREALLOC);
  Pin(LB_BACKENDS_MAP_NAME, BPF_MAP_TYPE_HASH, 4, sizeof(lb_backend_value), 64, BPF_F_NO_PREALLOC);
  const int xsvc = Pin(LB_XSERVICES_MAP_NAME, BPF_MAP_TYPE_HASH, sizeof(lb_service_key), sizeof(lb_service_value),
                       64, BPF_F_NO_PREALLOC);
  const int xbe = Pin(LB_XBACKENDS_MAP_NAME, BPF_MAP_TYPE_HASH, 4, sizeof(lb_backend_value), 64, BPF_F_NO_PREALLOC);
  const int xpol = Pin(LB_XPOLICY_MAP_NAME, BPF_MAP_TYPE_HASH, sizeof(lb_frontend_key), sizeof(lb_policy_value), 64,
                       BPF_F_NO_PREALLOC);
  const int xsrc =
      Pin(LB_XSRC_MAP_NAME, BPF_MAP_TYPE_LPM_TRIE, sizeof(lb_src_range_key), 1, 64, BPF_F_NO_PREALLOC);
  const int ct = Pin(LB_CT_MAP_NAME, BPF_MAP_TYPE_LRU_HASH, sizeof(lb_ct_key), sizeof(lb_ct_value), 64);
  const int stat = Pin(LB_STATS_MAP_NAME, BPF_MAP_TYPE_LRU_PERCPU_HASH, sizeof(lb_stats_key), sizeof(lb_stats_value), 64);
  ASSERT_FALSE(HasFailure());

  const L4Address lb = e2e::L4("198.51.100.5:80/TCP");
  const L4Address backend = e2e::L4("10.244.0.10:8080/TCP");
  // External view: the LB IP with one backend, service ID 5.
  lb_service_key master = MakeServiceKey(lb, LB_SLOT_MASTER), slot = MakeServiceKey(lb, 1);
  lb_service_value master_value = MakeMasterValue(5, 1), slot_value = MakeSlotValue(5, 9);
  lb_backend_value backend_value = MakeBackendValue(9, backend);
  uint32_t backend_id = 9;
  ASSERT_EQ(bpf_map_update_elem(xsvc, &master, &master_value, BPF_ANY), 0);
  ASSERT_EQ(bpf_map_update_elem(xsvc, &slot, &slot_value, BPF_ANY), 0);
  ASSERT_EQ(bpf_map_update_elem(xbe, &backend_id, &backend_value, BPF_ANY), 0);
  // Socket view: the ClusterIP, no backends.
  lb_service_key cluster = MakeServiceKey(e2e::L4("10.96.0.10:80/TCP"), LB_SLOT_MASTER);
  lb_service_value cluster_value = MakeMasterValue(1, 0);
  ASSERT_EQ(bpf_map_update_elem(svc, &cluster, &cluster_value, BPF_ANY), 0);
  // Policy: preserve the source, only 10.0.0.0/8 (an LPM entry).
  lb_frontend_key policy_key = FrontendKey(lb);
  lb_policy_value policy{.flags = LB_POL_F_PRESERVE_SOURCE | LB_POL_F_SOURCE_RANGES};
  ASSERT_EQ(bpf_map_update_elem(xpol, &policy_key, &policy, BPF_ANY), 0);
  lb_src_range_key range{};
  range.prefixlen = LB_SRC_RANGE_FRONTEND_BITS + 96 + 8;
  std::memcpy(range.vip.u8, policy_key.vip.u8, 16);
  range.port = policy_key.port;
  range.proto = policy_key.proto;
  std::memcpy(range.src.u8, Ip("10.0.0.0").bytes().data(), 16);
  uint8_t one = 1;
  ASSERT_EQ(bpf_map_update_elem(xsrc, &range, &one, BPF_ANY), 0);
  // 2 connections on CPU 0 and 3 on the last CPU.
  lb_stats_key stats_key{.service_id = 5, .view = LB_VIEW_EXTERNAL};
  std::vector<uint64_t> per_cpu(libbpf_num_possible_cpus(), 0);
  per_cpu.front() += 2;
  per_cpu.back() += 3;
  ASSERT_EQ(bpf_map_update_elem(stat, &stats_key, per_cpu.data(), BPF_ANY), 0);
  // One flow, source preserved, with its reply entry.
  lb_ct_key forward{};
  std::memcpy(forward.saddr.u8, Ip("10.1.2.3").bytes().data(), 16);
  std::memcpy(forward.daddr.u8, lb.ip.bytes().data(), 16);
  forward.sport = htons(40000);
  forward.dport = htons(80);
  forward.proto = IPPROTO_TCP;
  forward.dir = LB_CT_DIR_FORWARD;
  lb_ct_value forward_value{};
  forward_value.saddr = forward.saddr;
  forward_value.sport = forward.sport;
  std::memcpy(forward_value.daddr.u8, backend.ip.bytes().data(), 16);
  forward_value.dport = htons(8080);
  forward_value.backend_id = 9;
  forward_value.service_id = 5;
  lb_ct_key reply{};
  reply.saddr = forward_value.daddr;
  reply.daddr = forward.saddr;
  reply.sport = htons(8080);
  reply.dport = forward.sport;
  reply.proto = IPPROTO_TCP;
  reply.dir = LB_CT_DIR_REPLY;
  lb_ct_value reply_value{};
  ASSERT_EQ(bpf_map_update_elem(ct, &forward, &forward_value, BPF_ANY), 0);
  ASSERT_EQ(bpf_map_update_elem(ct, &reply, &reply_value, BPF_ANY), 0);

  CtlRun services = Ctl({"services", "--json"});
  ASSERT_EQ(services.exit_code, 0) << services.out;
  const json s = json::parse(services.out);
  EXPECT_EQ(s["per_packet_path"], true);
  ASSERT_EQ(s["frontends"].size(), 2u) << services.out;
  EXPECT_EQ(s["frontends"][0]["frontend"], "10.96.0.10:80/TCP");
  EXPECT_EQ(s["frontends"][0]["verdict"], "refuse");
  EXPECT_EQ(s["frontends"][0]["connections"], 0);
  EXPECT_EQ(s["frontends"][1], json::parse(R"({"frontend": "198.51.100.5:80/TCP", "ip": "198.51.100.5", "port": 80,
      "protocol": "TCP", "view": "external", "service_id": 5, "backends": ["10.244.0.10:8080/TCP"],
      "verdict": "forward", "connections": 5, "problems": [],
      "policy": {"flags": ["preserve-source", "source-ranges"], "preserve_source": true,
                 "drop_if_no_backend": false, "source_ranges": ["10.0.0.0/8"]}})"));

  CtlRun table = Ctl({"services"});
  EXPECT_THAT(table.out, HasSubstr("198.51.100.5:80/TCP  external   5            5  "
                                   "preserve-source,source-ranges=[10.0.0.0/8]  10.244.0.10:8080\n"));

  CtlRun flows = Ctl({"conntrack", "--json"});
  ASSERT_EQ(flows.exit_code, 0) << flows.out;
  const json c = json::parse(flows.out);
  EXPECT_EQ(c["reply_entries"], 1);
  ASSERT_EQ(c["flows"].size(), 1u) << flows.out;
  EXPECT_EQ(c["flows"][0]["client"], "10.1.2.3:40000");
  EXPECT_EQ(c["flows"][0]["frontend"], "198.51.100.5:80");
  EXPECT_EQ(c["flows"][0]["backend"], "10.244.0.10:8080");
  EXPECT_EQ(c["flows"][0]["snat"], nullptr);
  EXPECT_EQ(c["flows"][0]["reply_entry"], true);

  CtlRun maps = Ctl({"maps", "--json"});
  ASSERT_EQ(maps.exit_code, 0) << maps.out;
  std::vector<std::string> got;
  const json m = json::parse(maps.out);
  for (const json& map : m["maps"]) {
    got.push_back(absl::StrCat(map["map"].get<std::string>(), " ", map["type"].get<std::string>(), " ",
                               map["entries"].get<size_t>(), "/", map["capacity"].get<uint32_t>()));
  }
  EXPECT_THAT(got, ::testing::ElementsAre("bpfp_svc_v1 hash 1/64", "bpfp_be_v1 hash 0/64",
                                          "bpfp_stat_v1 lru_percpu_hash 1/64", "bpfp_xsvc_v1 hash 2/64",
                                          "bpfp_xbe_v1 hash 1/64", "bpfp_xpol_v1 hash 1/64",
                                          "bpfp_xsrc_v1 lpm_trie 1/64", "bpfp_ct_v1 lru_hash 2/64"));
}

TEST_F(PinnedMapsTest, AMapOfAnotherLayoutIsRefusedNotMisread) {
  Pin(LB_SERVICES_MAP_NAME, BPF_MAP_TYPE_HASH, sizeof(lb_service_key) + 4, sizeof(lb_service_value), 8,
      BPF_F_NO_PREALLOC);
  Pin(LB_BACKENDS_MAP_NAME, BPF_MAP_TYPE_HASH, 4, sizeof(lb_backend_value), 8, BPF_F_NO_PREALLOC);
  CtlRun run = Ctl({"services"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(e2e::ReadFile(log_), HasSubstr("has key/value sizes 28/12, this bpfproxyctl expects 24/12"));
}

}  // namespace
}  // namespace bpfproxy
