// A node as the daemon's end-to-end tests need it: the node namespace with
// pods and a socket-LB cgroup (NodeFixture), the API server emulator
// serving HTTPS with a bearer token from inside the node namespace, holding
// this node's Node object, and the real bpfproxy binary watching it. The
// daemon inherits the test's namespace and cgroup, so every port it binds
// (health, metrics) is the node's, never the host's.
//
// Everything is removed in TearDown(), also after a failure: the daemon is
// killed (by its PID) if still running, its log printed, the emulator
// stopped, the pins cleaned and the working directory deleted.
#ifndef BPFPROXY_TESTS_KERNEL_DAEMON_NODE_FIXTURE_H_
#define BPFPROXY_TESTS_KERNEL_DAEMON_NODE_FIXTURE_H_

#include <signal.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "e2e/apiserver/emulator.h"
#include "e2e/apiserver/test_pki.h"
#include "e2e/k8s_objects.h"
#include "e2e/process.h"
#include "nlohmann/json.hpp"
#include "proxy/mounts.h"
#include "proxy/socket_lb.h"
#include "tests/kernel/socket_lb_fixture.h"

namespace bpfproxy {

class DaemonNodeFixture : public NodeFixture {
 public:
  static constexpr char kNodeName[] = "node-a";  // The node the daemon runs as.

 protected:
  // Call from SetUp(): the node with backends on |ports|, a working
  // directory named after |purpose|, the emulator. The daemon is not
  // started: StartDaemon() does that.
  void SetUpDaemonNode(std::vector<uint16_t> ports, const std::string& purpose) {
    ASSERT_NO_FATAL_FAILURE(SetUpNode(std::move(ports)));
    dir_ = bpffs_->path() + "-" + purpose;
    ASSERT_OK(MakeDirs(dir_));
    ASSERT_OK_AND_ASSIGN(pki_, e2e::apiserver::MakeTestPki(dir_, {"127.0.0.1"}));
    e2e::apiserver::EmulatorConfig config;
    config.server.tls_cert_file = pki_.server_cert;
    config.server.tls_key_file = pki_.server_key;
    config.token = pki_.token;
    config.initial_objects = {e2e::NodeObject(kNodeName, "zone-a")};
    ASSERT_OK_AND_ASSIGN(emulator_, e2e::apiserver::ApiServerEmulator::Start(config));
    ASSERT_OK_AND_ASSIGN(kubeconfig_, pki_.WriteKubeconfig(emulator_->url()));
  }

  void TearDown() override {
    daemon_.reset();
    if (HasFailure() && !dir_.empty()) std::fprintf(stderr, "daemon log:\n%s\n", e2e::ReadFile(Log()).c_str());
    emulator_.reset();
    LeaveNode();
    if (node_ready()) EXPECT_OK(SocketLb::Cleanup(bpf_root()));
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Where the daemon (and tools the test runs) log.
  std::string Log() const { return dir_ + "/daemon.log"; }

  // What every daemon of these tests needs: this node's name, the
  // emulator's kubeconfig, and the test's own bpffs and cgroup.
  std::vector<std::string> NodeArgs() const {
    return {"--kubeconfig=" + kubeconfig_, std::string("--hostname-override=") + kNodeName,
            "--bpf-root=" + bpf_root(), "--cgroup-root=" + cgroup_->path()};
  }

  // Starts the daemon with NodeArgs() and then |extra|; a later flag wins.
  void StartDaemon(const std::vector<std::string>& extra = {"--iptables-min-sync-period=0"}) {
    std::vector<std::string> args = {BPFPROXY_BINARY};
    for (const std::string& a : NodeArgs()) args.push_back(a);
    for (const std::string& a : extra) args.push_back(a);
    ASSERT_OK_AND_ASSIGN(daemon_, e2e::Process::Start(std::move(args), Log()));
  }

  // SIGTERM, as the kubelet stops it; the daemon must exit 0.
  void StopDaemon() {
    daemon_->Signal(SIGTERM);
    EXPECT_EQ(daemon_->Wait(), 0);
    daemon_.reset();
  }

  void Apply(const nlohmann::json& object) { ASSERT_OK(emulator_->Apply(object)); }

  // Backends (or errors) reached by 30 TCP connections to ip:port.
  static std::set<std::string> Reached(const IpAddress& ip, uint16_t port) {
    std::set<std::string> out;
    for (int i = 0; i < 30; ++i) {
      absl::StatusOr<TcpClient> c = TcpClient::Connect(ip, port);
      absl::StatusOr<std::string> line = c.ok() ? c->Request() : c.status();
      out.insert(line.ok() ? BackendOf(*line) : absl::StrCat("error: ", strerror(ErrnoOf(line.status()))));
    }
    return out;
  }

  // Polls until 30 connections to ip:port reach exactly |want|.
  static ::testing::AssertionResult Eventually(const IpAddress& ip, uint16_t port, const std::set<std::string>& want) {
    std::set<std::string> got;
    for (absl::Time end = absl::Now() + absl::Seconds(15); absl::Now() < end;) {
      if ((got = Reached(ip, port)) == want) return ::testing::AssertionSuccess();
      absl::SleepFor(absl::Milliseconds(50));
    }
    return ::testing::AssertionFailure() << HostPort(ip, port) << " reached {" << absl::StrJoin(got, ", ")
                                         << "}, want {" << absl::StrJoin(want, ", ") << "}";
  }

  // Pod |i|'s address as a backend answers with it; an errno as Reached() spells it.
  static std::string Pod(int i, uint16_t port = 8080) { return HostPort(PodTopology::pod_ip4(i), port); }
  static std::string Err(int e) { return absl::StrCat("error: ", strerror(e)); }

  std::string dir_, kubeconfig_;
  e2e::apiserver::TestPki pki_;
  std::unique_ptr<e2e::apiserver::ApiServerEmulator> emulator_;
  std::unique_ptr<e2e::Process> daemon_;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_TESTS_KERNEL_DAEMON_NODE_FIXTURE_H_
