// The fixture of the socket-LB kernel tests: a private bpffs, a test-owned
// cgroup the test process joins, a node namespace the test thread enters,
// three pod namespaces with identity servers, and the datapath opened on
// them the way the daemon opens it.
#ifndef BPFPROXY_TESTS_KERNEL_SOCKET_LB_FIXTURE_H_
#define BPFPROXY_TESTS_KERNEL_SOCKET_LB_FIXTURE_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "e2e/topology.h"
#include "gtest/gtest.h"
#include "proxy/reconciler.h"
#include "proxy/socket_lb.h"
#include "tests/kernel/kernel_gate.h"
#include "tests/kernel/node_fixture.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {

using e2e::ErrnoOf;
using e2e::HostPort;
using e2e::IpFamily;
using e2e::PodTopology;
using e2e::TcpClient;
using e2e::UdpClient;

constexpr uint16_t kPodPort = 8080;

inline IpAddress Ip(const char* text) { return IpAddress::Parse(text).value(); }
inline const IpAddress kVip4 = Ip("10.96.0.10");
inline const IpAddress kVip6 = Ip("fd00:96::10");

inline L4Address At(const IpAddress& ip, uint16_t port, Protocol proto) { return L4Address{ip, port, proto}; }

// "backend=10.244.0.10:8080 client=..." -> "10.244.0.10:8080".
inline std::string BackendOf(const std::string& line) {
  size_t start = line.find("backend=");
  if (start == std::string::npos) return "<no backend in \"" + line + "\">";
  start += 8;
  return line.substr(start, line.find(' ', start) - start);
}

class SocketLbTest : public NodeFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpNode({kPodPort}));
    ASSERT_NO_FATAL_FAILURE(OpenDatapath());
  }

  void TearDown() override {
    LeaveNode();
    reconciler_.reset();
    lb_.reset();
    if (node_ready()) EXPECT_OK(SocketLb::Cleanup(bpf_root()));
  }

  // Opens the datapath on the pins (creating them the first time) and a
  // reconciler restored from them: what a daemon (re)start does.
  void OpenDatapath() {
    SocketLbConfig config;
    config.bpf_root = bpf_root();
    config.cgroup_root = cgroup_->path();
    ASSERT_OK_AND_ASSIGN(lb_, SocketLb::Open(config));
    ASSERT_OK_AND_ASSIGN(reconciler_, Reconciler::Create(&lb_->maps()));
  }

  std::vector<L4Address> Pods(std::vector<int> indexes, Protocol proto, IpFamily family = IpFamily::kIpv4) {
    std::vector<L4Address> out;
    for (int i : indexes) {
      out.push_back(At(family == IpFamily::kIpv4 ? PodTopology::pod_ip4(i) : PodTopology::pod_ip6(i), kPodPort, proto));
    }
    return out;
  }

  static std::string PodId(int i, IpFamily family = IpFamily::kIpv4) {
    return HostPort(family == IpFamily::kIpv4 ? PodTopology::pod_ip4(i) : PodTopology::pod_ip6(i), kPodPort);
  }

  // Backends reached by |n| fresh TCP connections to ip:port; each
  // connection's getpeername() must show ip:port.
  std::map<std::string, int> TcpSpread(const IpAddress& ip, uint16_t port, int n) {
    std::map<std::string, int> hits;
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<TcpClient> c = TcpClient::Connect(ip, port);
      if (!c.ok()) {
        ADD_FAILURE() << "connect " << HostPort(ip, port) << ": " << c.status();
        continue;
      }
      EXPECT_EQ(c->PeerName().value_or("?"), HostPort(ip, port));
      absl::StatusOr<std::string> line = c->Request();
      EXPECT_OK(line);
      if (line.ok()) hits[BackendOf(*line)]++;
    }
    return hits;
  }

  std::unique_ptr<SocketLb> lb_;
  std::unique_ptr<Reconciler> reconciler_;
};

inline std::set<std::string> Keys(const std::map<std::string, int>& m) {
  std::set<std::string> out;
  for (const auto& [k, v] : m) out.insert(k);
  return out;
}

}  // namespace bpfproxy

#endif  // BPFPROXY_TESTS_KERNEL_SOCKET_LB_FIXTURE_H_
