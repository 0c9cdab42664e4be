// The socket LB's life cycle on a real kernel: restart on the same pins,
// cleanup, pinned sizes, moving to another cgroup, stale and foreign pins,
// and the errors the kernel's maps give.
#include <bpf/bpf.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <thread>

#include "absl/container/btree_map.h"
#include "absl/time/clock.h"
#include "proxy/mounts.h"
#include "proxy/unique_fd.h"
#include "tests/kernel/socket_lb_fixture.h"

namespace bpfproxy {
namespace {

class SocketLbLifecycleTest : public SocketLbTest {
 protected:
  // Link ID of every pinned link, by pin name.
  absl::btree_map<std::string, uint32_t> PinnedLinkIds() const {
    absl::btree_map<std::string, uint32_t> ids;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(bpf_root() + "/links", ec)) {
      UniqueFd fd(bpf_obj_get(entry.path().c_str()));
      bpf_link_info info{};
      uint32_t len = sizeof(info);
      if (fd.valid() && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0) {
        ids[entry.path().filename().string()] = info.id;
      }
    }
    return ids;
  }

  // Programs attached to |cgroup| (default: the test's) for one hook.
  uint32_t AttachedProgramCount(bpf_attach_type type, const std::string& cgroup = "") const {
    UniqueFd fd(open((cgroup.empty() ? cgroup_->path() : cgroup).c_str(), O_RDONLY | O_DIRECTORY));
    uint32_t ids[16];
    uint32_t count = 16;
    if (bpf_prog_query(fd.get(), type, 0, nullptr, ids, &count) != 0) return 0;
    return count;
  }
};

TEST_F(SocketLbLifecycleTest, RestartOnTheSamePinsKeepsConnectionsAndTheVipAnswering) {
  DesiredFrontends desired = {{At(kVip4, 80, Protocol::kTcp), Pods({0, 1, 2}, Protocol::kTcp)}};
  ASSERT_TRUE(reconciler_->Sync(desired).ok());
  ASSERT_OK_AND_ASSIGN(TcpClient open, TcpClient::Connect(kVip4, 80));
  ASSERT_OK_AND_ASSIGN(std::string first, open.Request());

  // A client that keeps connecting to the VIP during the restart.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::string last_error;
  std::thread prober([&] {
    auto entered = topology_->node().Enter();  // setns is per thread.
    if (!entered.ok()) {
      last_error = std::string(entered.status().message());
      failed++;
      return;
    }
    while (!stop) {
      absl::StatusOr<TcpClient> c = TcpClient::Connect(kVip4, 80);
      absl::StatusOr<std::string> line = c.ok() ? c->Request() : c.status();
      if (line.ok()) {
        ok++;
      } else {
        failed++;
        last_error = std::string(line.status().message());
      }
    }
  });
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> before, DumpLines(lb_->maps()));
  absl::btree_map<std::string, uint32_t> links_before = PinnedLinkIds();
  ASSERT_EQ(links_before.size(), 8u);
  reconciler_.reset();
  lb_.reset();  // The daemon exits: fds closed, pins stay.
  int ok_while_down = ok;
  absl::SleepFor(absl::Milliseconds(200));
  ok_while_down = ok - ok_while_down;
  ASSERT_NO_FATAL_FAILURE(OpenDatapath());
  EXPECT_TRUE(lb_->reused_maps());
  EXPECT_EQ(reconciler_->Applied(), desired) << "the restarted reconciler rebuilt its state from the pins";
  SyncResult result = reconciler_->Sync(desired);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.pruned_services + result.pruned_backends, 0u);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> after, DumpLines(lb_->maps()));
  EXPECT_EQ(after, before) << "no flush, no rewrite";
  // The same links stayed attached (their programs were swapped in place),
  // and each hook has exactly one program.
  EXPECT_EQ(PinnedLinkIds(), links_before);
  EXPECT_EQ(AttachedProgramCount(BPF_CGROUP_INET4_CONNECT), 1u);
  EXPECT_EQ(AttachedProgramCount(BPF_CGROUP_UDP4_RECVMSG), 1u);
  absl::SleepFor(absl::Milliseconds(200));
  stop = true;
  prober.join();

  EXPECT_EQ(failed, 0) << "last error: " << last_error;
  EXPECT_GT(ok_while_down, 0) << "the VIP answered while no daemon was running";
  ASSERT_OK_AND_ASSIGN(std::string again, open.Request());
  EXPECT_EQ(BackendOf(again), BackendOf(first));
  EXPECT_EQ(open.PeerName().value_or("?"), "10.96.0.10:80");
}

TEST_F(SocketLbLifecycleTest, CleanupDetachesTheProgramsAndRemovesThePins) {
  ASSERT_OK(reconciler_->Upsert(At(kVip4, 80, Protocol::kTcp), Pods({0}, Protocol::kTcp)));
  EXPECT_EQ(Keys(TcpSpread(kVip4, 80, 2)), (std::set<std::string>{PodId(0)}));
  reconciler_.reset();
  lb_.reset();
  ASSERT_OK(SocketLb::Cleanup(bpf_root()));
  EXPECT_NE(access(bpf_root().c_str(), F_OK), 0) << bpf_root() << " still exists";
  absl::StatusOr<TcpClient> c = TcpClient::Connect(kVip4, 80);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(ErrnoOf(c.status()), EHOSTUNREACH) << "no translation after cleanup: " << c.status();
}

TEST_F(SocketLbLifecycleTest, KernelMapErrorsNameTheMapAndTheOperation) {
  lb_.reset();
  reconciler_.reset();
  ASSERT_OK(SocketLb::Cleanup(bpf_root()));
  SocketLbConfig config;
  config.bpf_root = bpf_root();
  config.cgroup_root = cgroup_->path();
  config.capacity.services = 2;
  ASSERT_OK_AND_ASSIGN(lb_, SocketLb::Open(config));
  EXPECT_EQ(lb_->maps().capacity().services, 2u);
  LbMaps& maps = lb_->maps();
  L4Address frontend = At(kVip4, 80, Protocol::kTcp);
  ASSERT_OK(maps.UpdateService(MakeServiceKey(frontend, 0), lb_service_value{}));
  ASSERT_OK(maps.UpdateService(MakeServiceKey(frontend, 1), lb_service_value{}));
  absl::Status full = maps.UpdateService(MakeServiceKey(frontend, 2), lb_service_value{});
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  EXPECT_EQ(full.message(), "bpf map bpfp_svc_v1: update 10.96.0.10:80/TCP#2: Argument list too long (E2BIG)");
  absl::Status missing = maps.DeleteBackend(42);
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  EXPECT_EQ(missing.message(), "bpf map bpfp_be_v1: delete 42: No such file or directory (ENOENT)");

  // Through the reconciler: the Service that does not fit fails, clearly.
  ASSERT_OK(maps.DeleteService(MakeServiceKey(frontend, 1)));
  ASSERT_OK(maps.DeleteService(MakeServiceKey(frontend, 0)));
  ASSERT_OK_AND_ASSIGN(reconciler_, Reconciler::Create(&maps));
  absl::Status s = reconciler_->Upsert(frontend, Pods({0, 1, 2}, Protocol::kTcp));
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_NE(s.message().find("bpfp_svc_v1"), absl::string_view::npos) << s;
}


TEST_F(SocketLbLifecycleTest, PinnedMapsKeepTheirSizeAcrossARestart) {
  reconciler_.reset();
  lb_.reset();
  ASSERT_OK(SocketLb::Cleanup(bpf_root()));
  SocketLbConfig config;
  config.bpf_root = bpf_root();
  config.cgroup_root = cgroup_->path();
  config.capacity.services = 1000;
  ASSERT_OK_AND_ASSIGN(lb_, SocketLb::Open(config));
  EXPECT_FALSE(lb_->reused_maps());
  lb_.reset();
  config.capacity.services = 5000;  // Takes a --cleanup to apply.
  ASSERT_OK_AND_ASSIGN(lb_, SocketLb::Open(config));
  EXPECT_TRUE(lb_->reused_maps());
  EXPECT_EQ(lb_->maps().capacity().services, 1000u);
}

TEST_F(SocketLbLifecycleTest, MovingToAnotherCgroupAttachesThereAndDetachesHere) {
  ASSERT_OK(reconciler_->Upsert(At(kVip4, 80, Protocol::kTcp), Pods({0}, Protocol::kTcp)));
  ASSERT_OK_AND_ASSIGN(auto other, e2e::TestCgroup::Create(e2e::kTestPrefix));
  reconciler_.reset();
  lb_.reset();
  SocketLbConfig config;
  config.bpf_root = bpf_root();
  config.cgroup_root = other->path();
  ASSERT_OK_AND_ASSIGN(lb_, SocketLb::Open(config));
  EXPECT_EQ(AttachedProgramCount(BPF_CGROUP_INET4_CONNECT), 0u);
  EXPECT_EQ(AttachedProgramCount(BPF_CGROUP_INET4_CONNECT, other->path()), 1u);
  EXPECT_EQ(PinnedLinkIds().size(), 8u);

  // This process is still in the first cgroup: no translation any more.
  absl::StatusOr<TcpClient> c = TcpClient::Connect(kVip4, 80);
  EXPECT_EQ(ErrnoOf(c.status()), EHOSTUNREACH) << c.status();
  {
    membership_.reset();
    ASSERT_OK_AND_ASSIGN(auto in_other, other->Enter());
    EXPECT_EQ(Keys(TcpSpread(kVip4, 80, 3)), (std::set<std::string>{PodId(0)}));
  }
  lb_.reset();
  ASSERT_OK(SocketLb::Cleanup(bpf_root()));  // Before |other| goes.
  EXPECT_EQ(AttachedProgramCount(BPF_CGROUP_INET4_CONNECT, other->path()), 0u);
}

TEST_F(SocketLbLifecycleTest, StalePinsOfOursAreRemovedAndForeignPinsKept) {
  std::string maps_dir = bpf_root() + "/maps", links_dir = bpf_root() + "/links";
  // A map of an older version, another tool's map, and an extra link of
  // ours on the connect4 hook, as an older version would have left them.
  for (const char* name : {"bpfp_old_v0", "othertool_map"}) {
    UniqueFd map(bpf_map_create(BPF_MAP_TYPE_ARRAY, name, 4, 4, 1, nullptr));
    ASSERT_TRUE(map.valid());
    ASSERT_EQ(bpf_obj_pin(map.get(), (maps_dir + "/" + name).c_str()), 0);
  }
  UniqueFd current(bpf_obj_get((links_dir + "/bpfp_connect4").c_str()));
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  ASSERT_EQ(bpf_obj_get_info_by_fd(current.get(), &info, &len), 0);
  UniqueFd prog(bpf_prog_get_fd_by_id(info.prog_id));
  UniqueFd cgroup(open(cgroup_->path().c_str(), O_RDONLY | O_DIRECTORY));
  UniqueFd old_link(bpf_link_create(prog.get(), cgroup.get(), BPF_CGROUP_INET4_CONNECT, nullptr));
  ASSERT_TRUE(old_link.valid());
  ASSERT_EQ(bpf_obj_pin(old_link.get(), (links_dir + "/bpfp_connect4_v0").c_str()), 0);
  old_link.reset();
  ASSERT_EQ(AttachedProgramCount(BPF_CGROUP_INET4_CONNECT), 2u);

  reconciler_.reset();
  lb_.reset();
  ASSERT_NO_FATAL_FAILURE(OpenDatapath());
  EXPECT_EQ(AttachedProgramCount(BPF_CGROUP_INET4_CONNECT), 1u);
  EXPECT_NE(access((links_dir + "/bpfp_connect4_v0").c_str(), F_OK), 0);
  EXPECT_NE(access((maps_dir + "/bpfp_old_v0").c_str(), F_OK), 0);
  EXPECT_EQ(access((maps_dir + "/othertool_map").c_str(), F_OK), 0);

  lb_.reset();
  ASSERT_OK(SocketLb::Cleanup(bpf_root()));
  EXPECT_EQ(access((maps_dir + "/othertool_map").c_str(), F_OK), 0) << "--cleanup removes only our pins";
  EXPECT_NE(access((maps_dir + "/bpfp_svc_v1").c_str(), F_OK), 0);
  unlink((maps_dir + "/othertool_map").c_str());
}

TEST_F(SocketLbLifecycleTest, APinnedMapOfAnotherLayoutIsAClearError) {
  reconciler_.reset();
  lb_.reset();
  ASSERT_OK(SocketLb::Cleanup(bpf_root()));
  ASSERT_OK(MakeDirs(bpf_root() + "/maps"));
  std::string path = bpf_root() + "/maps/bpfp_be_v1";
  UniqueFd map(bpf_map_create(BPF_MAP_TYPE_HASH, "bpfp_be_v1", 4, 8, 16, nullptr));
  ASSERT_EQ(bpf_obj_pin(map.get(), path.c_str()), 0);
  SocketLbConfig config;
  config.bpf_root = bpf_root();
  config.cgroup_root = cgroup_->path();
  absl::StatusOr<std::unique_ptr<SocketLb>> lb = SocketLb::Open(config);
  ASSERT_FALSE(lb.ok());
  EXPECT_EQ(lb.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(lb.status().message().find("bpfp_be_v1 has another layout"), absl::string_view::npos) << lb.status();
  EXPECT_NE(lb.status().message().find("--cleanup"), absl::string_view::npos) << lb.status();
  unlink(path.c_str());
}

TEST_F(SocketLbLifecycleTest, ARelativeBpfRootIsRejected) {
  SocketLbConfig config;
  config.bpf_root = "relative/bpfproxy";
  config.cgroup_root = cgroup_->path();
  absl::StatusOr<std::unique_ptr<SocketLb>> lb = SocketLb::Open(config);
  EXPECT_EQ(lb.status().code(), absl::StatusCode::kInvalidArgument) << lb.status();
}

}  // namespace
}  // namespace bpfproxy
