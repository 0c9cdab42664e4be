// Kernel tests for the e2e topology library: real namespaces, veths, a bridge,
// a cgroup v2 directory and bpffs. Needs root; see KernelTest below.
#include "e2e/topology.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kernel/kernel_gate.h"
#include "tests/kernel/netns_checks.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::e2e {
namespace {

using ::testing::Contains;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Kernel tests must run in CI (DESIGN.md): without root they skip, unless
// BPFPROXY_REQUIRE_KERNEL_TESTS=1 turns that into a failure.
class KernelTest : public ::testing::Test {
 protected:
  void SetUp() override { REQUIRE_KERNEL_TEST_PREREQUISITES(); }
};

std::string CgroupLine(const std::string& cgroup_file_text) {
  for (absl::string_view line : absl::StrSplit(cgroup_file_text, '\n')) {
    if (absl::StartsWith(line, "0::")) return std::string(line);
  }
  return "";
}

// The cgroup a child process starts in.
std::string ChildCgroupLine() {
  absl::StatusOr<std::string> text = RunOutput({"cat", "/proc/self/cgroup"});
  return CgroupLine(text.value_or(""));
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string ReadOwnCgroupLine() { return CgroupLine(ReadText("/proc/self/cgroup")); }

ino_t InodeOf(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

bool MountedAt(const std::string& path) {
  return absl::StrContains(ReadText("/proc/self/mountinfo"), absl::StrCat(" ", path, " "));
}

// ---------------------------------------------------------------------------

TEST(ErrnoStatusTest, KeepsErrnoAndStrerror) {
  absl::Status refused = ErrnoStatus(ECONNREFUSED, "connect 10.0.0.1:80");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("connect 10.0.0.1:80: Connection refused"));
  EXPECT_EQ(ErrnoOf(refused), ECONNREFUSED);
  EXPECT_EQ(ErrnoOf(absl::OkStatus()), 0);
  EXPECT_EQ(ErrnoOf(absl::InternalError("no errno here")), 0);
}

TEST(HostPortTest, BracketsIpv6Only) {
  EXPECT_EQ(HostPort(*IpAddress::Parse("10.244.0.2"), 8080), "10.244.0.2:8080");
  EXPECT_EQ(HostPort(*IpAddress::Parse("fd00:244::2"), 8080), "[fd00:244::2]:8080");
}

class RunTest : public KernelTest {};

TEST_F(RunTest, ErrorNamesCommandAndStderr) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NetNs> ns, NetNs::Create(kTestPrefix));
  absl::Status status = ns->Ip({"link", "show", "dev", "nosuch0"});
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(absl::StrCat("ip -n ", ns->name(), " link show dev nosuch0")));
  EXPECT_THAT(std::string(status.message()), HasSubstr("\"nosuch0\" does not exist"));
}

TEST(RunOutputTest, ReturnsStdout) {
  ASSERT_OK_AND_ASSIGN(std::string out, RunOutput({"echo", "hello"}));
  EXPECT_EQ(out, "hello\n");
  EXPECT_FALSE(e2e::Run({"/nonexistent/binary"}).ok());
}

class NetNsTest : public KernelTest {};

TEST_F(NetNsTest, EnterMovesCallingThreadUntilDestroyed) {
  const ino_t host = InodeOf("/proc/thread-self/ns/net");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NetNs> ns, NetNs::Create(kTestPrefix));
  {
    ASSERT_OK_AND_ASSIGN(NetNs::Entered entered, ns->Enter());
    EXPECT_EQ(InodeOf("/proc/thread-self/ns/net"), InodeOf("/var/run/netns/" + ns->name()));
    NetNs::Entered moved = std::move(entered);  // Moving must not leave early.
    EXPECT_NE(InodeOf("/proc/thread-self/ns/net"), host);
  }
  EXPECT_EQ(InodeOf("/proc/thread-self/ns/net"), host);
}

TEST_F(NetNsTest, DestructorDeletesNamespace) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NetNs> ns, NetNs::Create(kTestPrefix));
  const std::string name = ns->name();
  EXPECT_THAT(name, StartsWith(absl::StrCat(kTestPrefix, "-", getpid(), "-")));
  EXPECT_THAT(NetnsNames(), Contains(name));
  ns.reset();
  EXPECT_THAT(NetnsNames(), Not(Contains(name)));
}

// ---------------------------------------------------------------------------

struct FamilyCase {
  std::string name;
  IpAddress (*pod_ip)(int);
  std::string node_client_prefix;  // How the node shows up as a client: "ip:".
  IpAddress service_ip;
};

std::vector<FamilyCase> FamilyCases() {
  return {
      {"Ipv4", &PodTopology::pod_ip4, "10.244.0.1:", *IpAddress::Parse("10.96.0.5")},
      {"Ipv6", &PodTopology::pod_ip6, "[fd00:244::1]:", *IpAddress::Parse("fd00:96::5")},
  };
}

class PodTopologyTest : public KernelTest {
 protected:
  void SetUp() override {
    KernelTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    absl::StatusOr<std::unique_ptr<PodTopology>> created = PodTopology::Create({});
    ASSERT_TRUE(created.ok()) << created.status();
    topology_ = std::move(*created);
  }

  std::unique_ptr<PodTopology> topology_;
};

TEST_F(PodTopologyTest, NamesPodAddressesAfterIndex) {
  EXPECT_EQ(topology_->pods(), 3);
  EXPECT_EQ(PodTopology::pod_ip4(2).ToString(), "10.244.0.12");
  EXPECT_EQ(PodTopology::pod_ip6(2).ToString(), "fd00:244::12");
}

TEST_F(PodTopologyTest, TcpFromNodeReachesEachPodIdentityServer) {
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_node, topology_->node().Enter());
  for (const FamilyCase& family : FamilyCases()) {
    for (int i = 0; i < topology_->pods(); ++i) {
      SCOPED_TRACE(absl::StrCat(family.name, " pod ", i));
      const IpAddress pod_ip = family.pod_ip(i);
      ASSERT_OK_AND_ASSIGN(TcpClient client, TcpClient::Connect(pod_ip, 8080));
      ASSERT_OK_AND_ASSIGN(std::string local, client.LocalName());
      EXPECT_THAT(local, StartsWith(family.node_client_prefix));
      const std::string expected =
          absl::StrCat("backend=", HostPort(pod_ip, 8080), " client=", local);
      // Two lines on one connection: the server keeps it open and answers each.
      for (int request = 0; request < 2; ++request) {
        ASSERT_OK_AND_ASSIGN(std::string answer, client.Request());
        EXPECT_EQ(answer, expected);
      }
      EXPECT_EQ(client.PeerName().value_or(""), HostPort(pod_ip, 8080));
    }
  }
}

TEST_F(PodTopologyTest, UdpFromNodeIsAnsweredFromEachPodAddress) {
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_node, topology_->node().Enter());
  for (const FamilyCase& family : FamilyCases()) {
    for (int i = 0; i < topology_->pods(); ++i) {
      SCOPED_TRACE(absl::StrCat(family.name, " pod ", i));
      const std::string backend = HostPort(family.pod_ip(i), 8080);
      ASSERT_OK_AND_ASSIGN(UdpReply reply, UdpExchange(family.pod_ip(i), 8080));
      EXPECT_EQ(reply.source, backend);
      EXPECT_THAT(reply.line,
                  StartsWith(absl::StrCat("backend=", backend, " client=", family.node_client_prefix)));
    }
  }
}

TEST_F(PodTopologyTest, PodsReachEachOtherThroughTheBridge) {
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_pod0, topology_->pod(0).Enter());
  ASSERT_OK_AND_ASSIGN(TcpClient client, TcpClient::Connect(PodTopology::pod_ip4(1), 8080));
  ASSERT_OK_AND_ASSIGN(std::string answer, client.Request());
  EXPECT_THAT(answer, StartsWith("backend=10.244.0.11:8080 client=10.244.0.10:"));
}

TEST_F(PodTopologyTest, ServiceRangesFailFastEverywhere) {
  for (const FamilyCase& family : FamilyCases()) {
    for (NetNs* ns : {&topology_->node(), &topology_->pod(0)}) {
      SCOPED_TRACE(absl::StrCat(family.name, " from ", ns->name()));
      ASSERT_OK_AND_ASSIGN(NetNs::Entered entered, ns->Enter());
      const absl::Time start = absl::Now();
      absl::StatusOr<TcpClient> client = TcpClient::Connect(family.service_ip, 80);
      EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
      ASSERT_FALSE(client.ok());
      EXPECT_EQ(ErrnoOf(client.status()), EHOSTUNREACH) << client.status();

      ASSERT_OK_AND_ASSIGN(UdpClient udp, UdpClient::Open(FamilyOf(family.service_ip)));
      absl::Status sent = udp.SendTo(family.service_ip, 53);
      EXPECT_EQ(ErrnoOf(sent), EHOSTUNREACH) << sent;
    }
  }
}

TEST_F(PodTopologyTest, ClosedPortIsRefusedWithErrno) {
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_node, topology_->node().Enter());
  absl::StatusOr<TcpClient> client = TcpClient::Connect(PodTopology::pod_ip4(0), 9);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("Connection refused"));
  EXPECT_EQ(ErrnoOf(client.status()), ECONNREFUSED);
}

TEST_F(PodTopologyTest, ConnectedUdpSocketStaysOnOneBackend) {
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_node, topology_->node().Enter());
  ASSERT_OK_AND_ASSIGN(UdpClient client, UdpClient::Open(IpFamily::kIpv6));
  ASSERT_OK(client.Connect(PodTopology::pod_ip6(1), 8080));
  EXPECT_EQ(client.PeerName().value_or(""), "[fd00:244::11]:8080");
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(client.Send());
    ASSERT_OK_AND_ASSIGN(UdpReply reply, client.Receive());
    EXPECT_EQ(reply.source, "[fd00:244::11]:8080");
  }
}

TEST_F(PodTopologyTest, DualStackUdpSocketReachesIpv4AsV4Mapped) {
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_node, topology_->node().Enter());
  ASSERT_OK_AND_ASSIGN(UdpClient client, UdpClient::Open(IpFamily::kIpv6));
  ASSERT_OK(client.SendTo(PodTopology::pod_ip4(2), 8080));
  ASSERT_OK_AND_ASSIGN(UdpReply reply, client.Receive());
  EXPECT_EQ(reply.source, "10.244.0.12:8080");
  EXPECT_THAT(reply.line, StartsWith("backend=10.244.0.12:8080 client=10.244.0.1:"));
}

TEST_F(PodTopologyTest, DestructionDeletesEveryNamespace) {
  std::vector<std::string> names = {topology_->node().name()};
  for (int i = 0; i < topology_->pods(); ++i) names.push_back(topology_->pod(i).name());
  for (const std::string& name : names) EXPECT_THAT(NetnsNames(), Contains(name));
  topology_.reset();
  for (const std::string& name : names) EXPECT_THAT(NetnsNames(), Not(Contains(name)));
}

class PodTopologyOptionsTest : public KernelTest {};

TEST_F(PodTopologyOptionsTest, ServesEveryPortAndCoexistsWithAnotherTopology) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PodTopology> first,
                       PodTopology::Create({.pods = 1, .ports = {8080, 9090}}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PodTopology> second, PodTopology::Create({.pods = 2}));
  ASSERT_NE(first->node().name(), second->node().name());
  for (PodTopology* topology : {first.get(), second.get()}) {
    ASSERT_OK_AND_ASSIGN(NetNs::Entered in_node, topology->node().Enter());
    for (uint16_t port : topology->ports()) {
      ASSERT_OK_AND_ASSIGN(TcpClient client, TcpClient::Connect(PodTopology::pod_ip4(0), port));
      ASSERT_OK_AND_ASSIGN(std::string answer, client.Request());
      EXPECT_THAT(answer, StartsWith(absl::StrCat("backend=10.244.0.10:", port, " ")));
    }
  }
}

TEST_F(PodTopologyOptionsTest, RejectsInvalidOptions) {
  const std::vector<PodTopologyOptions> invalid = {
      {.pods = -1}, {.pods = 245}, {.ports = {0}}, {.prefix = ""}};
  for (const PodTopologyOptions& options : invalid) {
    EXPECT_EQ(PodTopology::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  }
  ExpectNoNamespaceOfThisProcess();
}

TEST_F(PodTopologyOptionsTest, FailureHalfWayRemovesWhatWasBuilt) {
  // The second server on the same port fails to bind after the node, pod 0
  // and one server already exist.
  absl::StatusOr<std::unique_ptr<PodTopology>> topology =
      PodTopology::Create({.pods = 2, .ports = {8080, 8080}});
  ASSERT_FALSE(topology.ok());
  EXPECT_EQ(ErrnoOf(topology.status()), EADDRINUSE) << topology.status();
  ExpectNoNamespaceOfThisProcess();
}

// ---------------------------------------------------------------------------

class TestCgroupTest : public KernelTest {};

TEST_F(TestCgroupTest, EnterMovesProcessAndChildrenThenBack) {
  const std::string before = ReadOwnCgroupLine();
  ASSERT_THAT(before, StartsWith("0::"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestCgroup> cgroup, TestCgroup::Create(kTestPrefix));
  const std::string leaf = cgroup->path().substr(cgroup->path().rfind('/'));
  {
    ASSERT_OK_AND_ASSIGN(TestCgroup::Membership membership, cgroup->Enter());
    EXPECT_THAT(ReadOwnCgroupLine(), EndsWith(leaf));
    // Children (e.g. client tools) start inside too.
    EXPECT_THAT(ChildCgroupLine(), EndsWith(leaf));
    ASSERT_OK_AND_ASSIGN(std::string procs, RunOutput({"cat", cgroup->path() + "/cgroup.procs"}));
    EXPECT_THAT(procs, HasSubstr(absl::StrCat(getpid(), "\n")));
  }
  EXPECT_EQ(ReadOwnCgroupLine(), before);
  const std::string path = cgroup->path();
  cgroup.reset();
  EXPECT_FALSE(Exists(path));
}

class BpffsMountTest : public KernelTest {};

TEST_F(BpffsMountTest, IsPrivateBpffsGoneAfterDestruction) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BpffsMount> first, BpffsMount::Create());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<BpffsMount> second, BpffsMount::Create());
  const std::string path = first->path();
  EXPECT_THAT(path, StartsWith("/tmp/bpfpt-bpffs-"));
  struct statfs fs {};
  ASSERT_EQ(statfs(path.c_str(), &fs), 0);
  EXPECT_EQ(static_cast<uint64_t>(fs.f_type), static_cast<uint64_t>(BPF_FS_MAGIC));
  EXPECT_TRUE(MountedAt(path));
  // Separate instances: a directory made in one does not show up in the other.
  ASSERT_EQ(mkdir((path + "/pins").c_str(), 0700), 0);
  EXPECT_FALSE(Exists(second->path() + "/pins"));
  first.reset();
  EXPECT_FALSE(Exists(path));
  EXPECT_FALSE(MountedAt(path));
}

}  // namespace
}  // namespace bpfproxy::e2e
