// SelectNodePortAddresses: kube-proxy's --nodeport-addresses semantics; the
// other node-side choices from kube-proxy's flags (--bind-address,
// --iptables-localhost-nodeports, --hostname-override).
// (Device detection runs on the kernel: tests/kernel/tc_lb_test.cc.)
#include "proxy/node_addresses.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bpfproxy {
namespace {

std::vector<IpAddress> Ips(const std::vector<std::string>& texts) {
  std::vector<IpAddress> out;
  for (const std::string& t : texts) out.push_back(IpAddress::Parse(t).value());
  return out;
}

std::string Join(const std::vector<IpAddress>& ips) {
  return absl::StrJoin(ips, " ", [](std::string* out, const IpAddress& ip) { out->append(ip.ToString()); });
}

// eth0: 192.168.1.10, 192.168.1.11, 2001:db8::10; eth1: 10.0.0.5, fd00::5.
const std::vector<std::string> kNode = {"192.168.1.10", "192.168.1.11", "2001:db8::10", "10.0.0.5", "fd00::5"};

TEST(SelectNodePortAddressesTest, FollowsKubeProxySemantics) {
  struct Case {
    const char* name;
    std::vector<std::string> flag;
    std::vector<std::string> internal_ips;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"unset: every node address", {}, {}, "192.168.1.10 192.168.1.11 2001:db8::10 10.0.0.5 fd00::5"},
           {"one IPv4 CIDR: IPv6 unrestricted", {"10.0.0.0/8"}, {}, "2001:db8::10 10.0.0.5 fd00::5"},
           {"a /32", {"192.168.1.11/32"}, {}, "192.168.1.11 2001:db8::10 fd00::5"},
           {"host bits in the CIDR", {"192.168.1.99/24"}, {}, "192.168.1.10 192.168.1.11 2001:db8::10 fd00::5"},
           {"both families", {"192.168.1.0/24", "fd00::/8"}, {}, "192.168.1.10 192.168.1.11 fd00::5"},
           {"IPv6 only: IPv4 unrestricted", {"2001:db8::/32"}, {}, "192.168.1.10 192.168.1.11 2001:db8::10 10.0.0.5"},
           {"matching nothing", {"172.16.0.0/12", "fd99::/16"}, {}, ""},
           {"0.0.0.0/0 and ::/0", {"0.0.0.0/0", "::/0"}, {}, "192.168.1.10 192.168.1.11 2001:db8::10 10.0.0.5 fd00::5"},
           {"whitespace around a CIDR", {" 10.0.0.0/8 "}, {}, "2001:db8::10 10.0.0.5 fd00::5"},
           {"primary: first address of each family", {"primary"}, {}, "192.168.1.10 2001:db8::10"},
           {"primary: the Node's InternalIP", {"primary"}, {"10.0.0.5"}, "2001:db8::10 10.0.0.5"},
           {"primary: InternalIPs of both families", {"primary"}, {"fd00::5", "192.168.1.11"}, "192.168.1.11 fd00::5"},
           {"primary: InternalIP not on this node", {"primary"}, {"172.16.0.1"}, "2001:db8::10"},
       }) {
    absl::StatusOr<std::vector<IpAddress>> got = SelectNodePortAddresses(Ips(kNode), c.flag, Ips(c.internal_ips));
    ASSERT_TRUE(got.ok()) << c.name << ": " << got.status();
    EXPECT_EQ(Join(*got), c.want) << c.name;
  }
}

TEST(SelectNodePortAddressesTest, SingleStackNodes) {
  EXPECT_EQ(Join(SelectNodePortAddresses(Ips({"10.1.1.1", "10.2.2.2"}), {"primary"}).value()), "10.1.1.1");
  EXPECT_EQ(Join(SelectNodePortAddresses(Ips({"fd00::1", "fd00::2"}), {"primary"}).value()), "fd00::1");
  EXPECT_EQ(Join(SelectNodePortAddresses({}, {}).value()), "");
  // Duplicates (one address on two devices) are reported once.
  EXPECT_EQ(Join(SelectNodePortAddresses(Ips({"10.1.1.1", "10.1.1.1"}), {}).value()), "10.1.1.1");
}

TEST(SelectNodePortAddressesTest, RefusesBadValuesNamingThem) {
  struct Case {
    std::vector<std::string> flag;
    std::string names;
  };
  for (const Case& c : std::vector<Case>{{{"10.0.0.0"}, "\"10.0.0.0\" is not a CIDR"},
                                         {{"10.0.0.0/8", "foo"}, "\"foo\" is not a CIDR"},
                                         {{"10.0.0.0/33"}, "\"10.0.0.0/33\""},
                                         {{"fd00::/129"}, "\"fd00::/129\""},
                                         {{"0"}, "\"0\""},
                                         {{"primary", "10.0.0.0/8"}, "\"primary\" must be the only value"},
                                         {{"10.0.0.0/8", "primary"}, "\"primary\" must be the only value"}}) {
    absl::StatusOr<std::vector<IpAddress>> got = SelectNodePortAddresses(Ips(kNode), c.flag);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << c.names;
    EXPECT_THAT(std::string(got.status().message()), ::testing::HasSubstr(c.names));
    EXPECT_THAT(std::string(got.status().message()), ::testing::HasSubstr("--nodeport-addresses"));
  }
}

TEST(NodeAddressesOfTest, DeviceByDeviceWithoutDuplicates) {
  std::vector<NetDevice> devices = {{.name = "eth0", .addresses = Ips({"192.168.1.10", "2001:db8::10"})},
                                    {.name = "eth1", .addresses = Ips({"10.0.0.5", "192.168.1.10"})}};
  EXPECT_EQ(Join(NodeAddressesOf(devices)), "192.168.1.10 2001:db8::10 10.0.0.5");
}

TEST(IsDefaultNodeDeviceTest, UpAddressedAndNeitherLoopbackNorVeth) {
  const std::vector<IpAddress> addressed = Ips({"192.168.1.10"});
  struct Case {
    NetDevice device;
    bool want;
  };
  for (const Case& c : std::vector<Case>{
           {{.name = "eth0", .up = true, .addresses = addressed}, true},
           {{.name = "br0", .up = true, .kind = "bridge", .addresses = addressed}, true},
           {{.name = "eth0", .up = false, .addresses = addressed}, false},
           {{.name = "eth0", .up = true}, false},
           {{.name = "lo", .up = true, .loopback = true, .addresses = addressed}, false},
           {{.name = "eth9", .up = true, .kind = "veth", .addresses = addressed}, false},
       }) {
    EXPECT_EQ(IsDefaultNodeDevice(c.device), c.want) << c.device.name << " kind=" << c.device.kind;
  }
}

TEST(PrimaryIpsTest, OverridesOnlyWithSpecifiedAddresses) {
  struct Case {
    const char* bind_address;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"192.168.1.5,fd00::5", "192.168.1.5 fd00::5"},
           {"fd00::5,192.168.1.5", "fd00::5 192.168.1.5"},
           {"192.168.1.5", "192.168.1.5"},
           {" 10.0.0.2 , fd00::2 ", "10.0.0.2 fd00::2"},
           {"0.0.0.0", ""},  // kube-proxy's default.
           {"::", ""},
           {"0.0.0.0,::", ""},
           {"10.0.0.2, ::", "10.0.0.2"},
           {"", ""},
           {"not-an-ip,10.0.0.2", "10.0.0.2"},
       }) {
    EXPECT_EQ(Join(PrimaryIps(c.bind_address)), c.want) << "--bind-address=" << c.bind_address;
  }
}

TEST(PrimaryIpsTest, OverridesWhatPrimarySelects) {
  // --nodeport-addresses=primary with --bind-address=10.0.0.5 serves the
  // bind address, not the first IPv4 address of the node.
  EXPECT_EQ(Join(SelectNodePortAddresses(Ips(kNode), {"primary"}, PrimaryIps("10.0.0.5")).value()),
            "2001:db8::10 10.0.0.5");
  EXPECT_EQ(Join(SelectNodePortAddresses(Ips(kNode), {"primary"}, PrimaryIps("0.0.0.0")).value()),
            "192.168.1.10 2001:db8::10");
}

TEST(LocalhostNodePortsTest, OnlyWhenEnabledAndUnsetOrCoveringLoopback) {
  struct Case {
    const char* name;
    std::vector<std::string> nodeport_addresses;
    bool iptables_localhost_nodeports;
    bool want;
  };
  for (const Case& c : std::vector<Case>{
           {"defaults", {}, true, true},
           {"127.0.0.0/8", {"127.0.0.0/8"}, true, true},
           {"127.0.0.1/32 next to a node CIDR", {"10.0.0.0/8", "127.0.0.1/32"}, true, true},
           {"0.0.0.0/0 holds loopback", {"0.0.0.0/0"}, true, true},
           {"a node CIDR only", {"10.0.0.0/8"}, true, false},
           {"IPv6 loopback is not 127.0.0.1", {"::1/128"}, true, false},
           {"127.0.0.2/32 misses 127.0.0.1", {"127.0.0.2/32"}, true, false},
           {"primary", {"primary"}, true, false},
           {"not a CIDR", {"127.0.0.1"}, true, false},
           {"flag off", {}, false, false},
           {"flag off wins over 127.0.0.0/8", {"127.0.0.0/8"}, false, false},
       }) {
    EXPECT_EQ(LocalhostNodePorts(c.nodeport_addresses, c.iptables_localhost_nodeports), c.want) << c.name;
  }
}

TEST(NodeNameTest, OverrideElseHostnameLowercased) {
  struct Case {
    const char* hostname_override;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"node-a", "node-a"},
           {"Node-A", "node-a"},
           {"WORKER-1.Example.COM", "worker-1.example.com"},
       }) {
    EXPECT_EQ(NodeName(c.hostname_override), c.want) << c.hostname_override;
  }
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  ASSERT_NE(host[0], '\0');
  EXPECT_EQ(NodeName(""), absl::AsciiStrToLower(host));
}

}  // namespace
}  // namespace bpfproxy
