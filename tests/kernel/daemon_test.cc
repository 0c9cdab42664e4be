// The daemon binary (build/bpfproxy) as an operator runs it: a process that
// programs frontends from a file, reloads on SIGHUP, leaves the datapath in
// place when it exits, and removes it with --cleanup.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "bpfproxy/lb_abi.h"
#include "e2e/topology.h"
#include "gtest/gtest.h"
#include "tests/kernel/kernel_gate.h"
#include "tests/kernel/node_fixture.h"
#include "e2e/process.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {
namespace {

using e2e::PodTopology;
using e2e::TcpClient;

constexpr uint16_t kPodPort = 8080;
const IpAddress kVip = IpAddress::Parse("10.96.0.10").value();

using e2e::Process;
using e2e::ReadFile;

class DaemonTest : public NodeFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpNode({kPodPort}));
    bpf_root_ = bpf_root();
    frontends_file_ = bpffs_->path() + "-frontends.json";
    log_file_ = bpffs_->path() + "-daemon.log";
  }

  void TearDown() override {
    daemon_.reset();
    LeaveNode();
    if (node_ready()) {
      EXPECT_EQ(RunDaemon({"--cleanup"}), 0);
      if (HasFailure()) std::fprintf(stderr, "daemon log:\n%s\n", ReadFile(log_file_).c_str());
      unlink(frontends_file_.c_str());
      unlink(log_file_.c_str());
    }
  }

  std::vector<std::string> Args(std::vector<std::string> extra) {
    std::vector<std::string> args = {BPFPROXY_BINARY, "--bpf-root=" + bpf_root_, "--cgroup-root=" + cgroup_->path()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  void StartDaemon() {
    ASSERT_OK_AND_ASSIGN(daemon_, Process::Start(Args({"--frontends-file=" + frontends_file_}), log_file_));
  }

  // Runs the daemon to completion; returns its exit code.
  int RunDaemon(std::vector<std::string> extra) {
    auto p = Process::Start(Args(std::move(extra)), log_file_);
    return p.ok() ? (*p)->Wait() : -1;
  }

  void WriteFrontends(std::initializer_list<int> pods) {
    std::vector<std::string> backends;
    for (int i : pods) backends.push_back(absl::StrCat("\"", PodTopology::pod_ip4(i).ToString(), ":8080/TCP\""));
    std::ofstream(frontends_file_) << R"({"frontends": [{"frontend": "10.96.0.10:80/TCP", "backends": [)"
                                   << absl::StrJoin(backends, ", ") << "]}]}";
  }

  // Backends reached by 30 connections to the VIP (errors as "error: ...").
  std::set<std::string> Reached() {
    std::set<std::string> out;
    for (int i = 0; i < 30; ++i) {
      absl::StatusOr<TcpClient> c = TcpClient::Connect(kVip, 80);
      absl::StatusOr<std::string> line = c.ok() ? c->Request() : c.status();
      if (!line.ok()) {
        out.insert(absl::StrCat("error: ", line.status().message()));
        continue;
      }
      size_t start = line->find("backend=") + 8;
      out.insert(line->substr(start, line->find(' ', start) - start));
    }
    return out;
  }

  // Polls until Reached() == |want| (the daemon applies files asynchronously).
  ::testing::AssertionResult Eventually(const std::set<std::string>& want) {
    std::set<std::string> got;
    for (absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;) {
      got = Reached();
      if (got == want) return ::testing::AssertionSuccess();
      absl::SleepFor(absl::Milliseconds(50));
    }
    return ::testing::AssertionFailure() << "reached {" << absl::StrJoin(got, ", ") << "}, want {"
                                         << absl::StrJoin(want, ", ") << "}";
  }

  static std::string Pod(int i) { return e2e::HostPort(PodTopology::pod_ip4(i), kPodPort); }

  std::string bpf_root_, frontends_file_, log_file_;
  std::unique_ptr<Process> daemon_;
};

TEST_F(DaemonTest, ProgramsTheFrontendsFileAndReloadsItOnSighup) {
  WriteFrontends({0, 1});
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  EXPECT_TRUE(Eventually({Pod(0), Pod(1)}));
  WriteFrontends({2});
  daemon_->Signal(SIGHUP);
  EXPECT_TRUE(Eventually({Pod(2)}));
  daemon_->Signal(SIGTERM);
  EXPECT_EQ(daemon_->Wait(), 0);
}

TEST_F(DaemonTest, ExitLeavesTheDatapathAndCleanupRemovesIt) {
  WriteFrontends({0, 1, 2});
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_TRUE(Eventually({Pod(0), Pod(1), Pod(2)}));
  ASSERT_OK_AND_ASSIGN(TcpClient open, TcpClient::Connect(kVip, 80));
  daemon_->Signal(SIGTERM);
  EXPECT_EQ(daemon_->Wait(), 0);

  // No daemon: the pinned datapath still translates, old and new connections.
  EXPECT_OK(open.Request());
  EXPECT_EQ(Reached(), (std::set<std::string>{Pod(0), Pod(1), Pod(2)}));

  // A new daemon with a smaller set takes over the same pins.
  WriteFrontends({1});
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  EXPECT_TRUE(Eventually({Pod(1)}));
  daemon_->Signal(SIGINT);
  EXPECT_EQ(daemon_->Wait(), 0);

  EXPECT_EQ(RunDaemon({"--cleanup"}), 0);
  EXPECT_NE(access(bpf_root_.c_str(), F_OK), 0) << bpf_root_ << " still exists after --cleanup";
  EXPECT_EQ(Reached(), (std::set<std::string>{"error: connect 10.96.0.10:80: No route to host"}));
}

TEST_F(DaemonTest, RejectsUnknownFlagsAndBadValues) {
  EXPECT_EQ(RunDaemon({"--no-such-flag"}), 2);
  EXPECT_EQ(RunDaemon({"--bpf-lb-services-max=lots"}), 2);
  std::string log = ReadFile(log_file_);
  EXPECT_NE(log.find("unknown flag --no-such-flag"), std::string::npos) << log;
  EXPECT_NE(log.find("invalid value \"lots\" for flag --bpf-lb-services-max"), std::string::npos) << log;
}

TEST_F(DaemonTest, UnreadableFrontendsFileKeepsWhatIsProgrammed) {
  WriteFrontends({0});
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_TRUE(Eventually({Pod(0)}));
  std::ofstream(frontends_file_) << "{not json";
  daemon_->Signal(SIGHUP);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Reached(), (std::set<std::string>{Pod(0)}));
  EXPECT_NE(ReadFile(log_file_).find("Not applying"), std::string::npos);
}

TEST_F(DaemonTest, BpfproxyctlShowsWhatTheDatapathHolds) {
  WriteFrontends({0, 2});
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_TRUE(Eventually({Pod(0), Pod(2)}));
  ASSERT_OK_AND_ASSIGN(std::string services,
                       e2e::RunOutput({BPFPROXYCTL_BINARY, "--bpf-root=" + bpf_root_, "services", "--json"}));
  const nlohmann::json parsed = nlohmann::json::parse(services);
  nlohmann::json got = nlohmann::json::array();
  for (const auto& f : parsed["frontends"]) {
    got.push_back({{"frontend", f["frontend"]}, {"view", f["view"]}, {"backends", f["backends"]}});
  }
  nlohmann::json want = nlohmann::json::parse(R"([{"frontend": "10.96.0.10:80/TCP", "view": "socket",
      "backends": ["10.244.0.10:8080/TCP", "10.244.0.12:8080/TCP"]}])");
  EXPECT_EQ(got, want) << services;

  ASSERT_OK_AND_ASSIGN(std::string maps, e2e::RunOutput({BPFPROXYCTL_BINARY, "--bpf-root=" + bpf_root_, "maps", "--json"}));
  std::map<std::string, std::pair<size_t, size_t>> usage;
  const nlohmann::json maps_json = nlohmann::json::parse(maps);
  for (const auto& m : maps_json["maps"]) usage[m["map"]] = {m["entries"], m["capacity"]};
  EXPECT_EQ(usage["bpfp_svc_v1"], std::make_pair(size_t{3}, size_t{LB_DEFAULT_SERVICE_ENTRIES})) << maps;
  EXPECT_EQ(usage["bpfp_be_v1"], std::make_pair(size_t{2}, size_t{LB_DEFAULT_BACKEND_ENTRIES})) << maps;
  EXPECT_EQ(usage["bpfp_memb_v1"].first, 2u) << maps;

  // With the daemon gone the pins still tell.
  daemon_->Signal(SIGTERM);
  EXPECT_EQ(daemon_->Wait(), 0);
  ASSERT_OK_AND_ASSIGN(std::string table, e2e::RunOutput({BPFPROXYCTL_BINARY, "--bpf-root=" + bpf_root_, "services"}));
  // The connections column counts the probes above.
  EXPECT_TRUE(std::regex_search(table, std::regex("\n10\\.96\\.0\\.10:80/TCP  socket   1 +[0-9]+  -       "
                                                   "10\\.244\\.0\\.10:8080 10\\.244\\.0\\.12:8080\n")))
      << table;
  EXPECT_FALSE(e2e::RunOutput({BPFPROXYCTL_BINARY, "--bpf-root=/nonexistent", "services"}).ok());
}

}  // namespace
}  // namespace bpfproxy
