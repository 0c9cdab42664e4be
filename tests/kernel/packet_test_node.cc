#include "tests/kernel/packet_test_node.h"

#include <net/if.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "e2e/status_macros.h"

namespace bpfproxy::packet {
namespace {

IpAddress Ip(absl::string_view text) { return IpAddress::Parse(text).value(); }

TestDevice Device(absl::string_view name, absl::string_view mac, absl::string_view ip4, absl::string_view ip6) {
  return TestDevice{std::string(name), Mac(mac), Ip(ip4), Ip(ip6)};
}

TestPeer Peer(absl::string_view mac, absl::string_view ip4, absl::string_view ip6) {
  return TestPeer{Mac(mac), Ip(ip4), Ip(ip6)};
}

using Command = std::vector<std::string>;

std::vector<Command> DeviceCommands(const TestDevice& d, int prefix4, int prefix6) {
  const std::string peer = d.name + "-p";
  return {
      {"link", "add", d.name, "address", MacToString(d.mac), "type", "veth", "peer", "name", peer},
      {"link", "set", d.name, "up"},
      {"link", "set", peer, "up"},
      {"addr", "add", absl::StrCat(d.ip4.ToString(), "/", prefix4), "dev", d.name},
      // nodad: usable at once instead of after ~1s of duplicate detection.
      {"addr", "add", absl::StrCat(d.ip6.ToString(), "/", prefix6), "dev", d.name, "nodad"},
  };
}

std::vector<Command> NeighbourCommands(const TestDevice& d, const TestPeer& p) {
  return {
      {"neigh", "add", p.ip4.ToString(), "lladdr", MacToString(p.mac), "dev", d.name, "nud", "permanent"},
      {"-6", "neigh", "add", p.ip6.ToString(), "lladdr", MacToString(p.mac), "dev", d.name, "nud", "permanent"},
  };
}

}  // namespace

const TestDevice& TestNode::eth0() {
  static const TestDevice* d = new TestDevice(Device("eth0", "02:00:00:00:00:01", "192.168.50.1", "fd00:50::1"));
  return *d;
}
const TestDevice& TestNode::eth1() {
  static const TestDevice* d = new TestDevice(Device("eth1", "02:00:00:00:00:02", "192.168.60.1", "fd00:60::1"));
  return *d;
}
const TestDevice& TestNode::pod0() {
  static const TestDevice* d = new TestDevice(Device("pod0", "02:00:00:00:00:03", "10.244.0.1", "fd00:244::1"));
  return *d;
}
const TestPeer& TestNode::client() {
  static const TestPeer* p = new TestPeer(Peer("02:00:00:00:50:64", "192.168.50.100", "fd00:50::100"));
  return *p;
}
const TestPeer& TestNode::client2() {
  static const TestPeer* p = new TestPeer(Peer("02:00:00:00:50:65", "192.168.50.101", "fd00:50::101"));
  return *p;
}
const TestPeer& TestNode::gateway() {
  static const TestPeer* p = new TestPeer(Peer("02:00:00:00:50:fe", "192.168.50.254", "fd00:50::fe"));
  return *p;
}
const TestPeer& TestNode::node2() {
  static const TestPeer* p = new TestPeer(Peer("02:00:00:00:60:02", "192.168.60.2", "fd00:60::2"));
  return *p;
}
const TestPeer& TestNode::local_pod() {
  static const TestPeer* p = new TestPeer(Peer("02:00:00:00:00:0a", "10.244.0.10", "fd00:244::10"));
  return *p;
}

absl::StatusOr<std::unique_ptr<TestNode>> TestNode::Create() {
  BPFPT_ASSIGN_OR_RETURN(std::unique_ptr<e2e::NetNs> ns, e2e::NetNs::Create(absl::StrCat(e2e::kTestPrefix, "-tc")));
  std::unique_ptr<TestNode> node(new TestNode(std::move(ns)));
  BPFPT_RETURN_IF_ERROR(node->Build());
  return node;
}

absl::Status TestNode::Build() const {
  // The FIB helper answers FWD_DISABLED unless the ingress device forwards.
  BPFPT_RETURN_IF_ERROR(e2e::Run({"ip", "netns", "exec", ns_->name(), "sysctl", "-qw", "net.ipv4.ip_forward=1",
                                  "net.ipv6.conf.all.forwarding=1"}));
  std::vector<Command> commands;
  auto add = [&commands](std::vector<Command> more) { commands.insert(commands.end(), more.begin(), more.end()); };
  add(DeviceCommands(eth0(), 24, 64));
  add(DeviceCommands(eth1(), 24, 64));
  add(DeviceCommands(pod0(), 24, 64));
  add(NeighbourCommands(eth0(), client()));
  add(NeighbourCommands(eth0(), client2()));
  add(NeighbourCommands(eth0(), gateway()));
  add(NeighbourCommands(eth1(), node2()));
  add(NeighbourCommands(pod0(), local_pod()));
  add({
      {"route", "add", "default", "via", gateway().ip4.ToString(), "dev", eth0().name},
      {"-6", "route", "add", "default", "via", gateway().ip6.ToString(), "dev", eth0().name},
      {"route", "add", "10.244.1.0/24", "via", node2().ip4.ToString(), "dev", eth1().name},
      {"-6", "route", "add", "fd00:244:1::/64", "via", node2().ip6.ToString(), "dev", eth1().name},
      // Service ranges and the LB IPs the tests use: never routed anywhere.
      {"route", "add", "unreachable", "10.96.0.0/16"},
      {"route", "add", "unreachable", "203.0.113.0/24"},
      {"-6", "route", "add", "unreachable", "fd00:96::/108"},
      {"-6", "route", "add", "unreachable", "2001:db8:203::/64"},
  });
  for (const Command& c : commands) BPFPT_RETURN_IF_ERROR(ns_->Ip(c));
  return absl::OkStatus();
}

absl::StatusOr<int> TestNode::IfIndex(const TestDevice& device) {
  unsigned int index = if_nametoindex(device.name.c_str());
  if (index == 0) return e2e::ErrnoStatus(errno, absl::StrCat("if_nametoindex ", device.name));
  return static_cast<int>(index);
}

}  // namespace bpfproxy::packet
