// The node the tc packet tests run on: a network namespace with three
// devices, static neighbours and routes, so that every FIB lookup the BPF
// program makes has one fixed answer.
//
//   eth0  02:00:00:00:00:01  192.168.50.1/24  fd00:50::1/64   clients, default gateway
//   eth1  02:00:00:00:00:02  192.168.60.1/24  fd00:60::1/64   node2 (remote pod CIDR 10.244.1.0/24)
//   pod0  02:00:00:00:00:03  10.244.0.1/24    fd00:244::1/64  this node's pods
//
// Each device is a veth whose peer ("<name>-p") stays in the namespace,
// unconfigured: BPF_PROG_TEST_RUN never transmits, so nothing is ever sent.
// Forwarding is on (bpf_fib_lookup refuses otherwise). Service and LB
// ranges get `unreachable` routes. Nothing touches the host's namespace.
#ifndef BPFPROXY_TESTS_KERNEL_PACKET_TEST_NODE_H_
#define BPFPROXY_TESTS_KERNEL_PACKET_TEST_NODE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "e2e/netns.h"
#include "proxy/ip_address.h"
#include "tests/kernel/packet_builder.h"

namespace bpfproxy::packet {

struct TestDevice {
  std::string name;
  MacAddress mac;
  IpAddress ip4;
  IpAddress ip6;
};

// Hosts the tests address, by the device they sit behind.
struct TestPeer {
  MacAddress mac;
  IpAddress ip4;
  IpAddress ip6;
};

class TestNode {
 public:
  static const TestDevice& eth0();
  static const TestDevice& eth1();
  static const TestDevice& pod0();
  // On eth0: two clients and the default gateway (for every other source).
  static const TestPeer& client();
  static const TestPeer& client2();
  static const TestPeer& gateway();
  // On eth1: the other node, next hop for 10.244.1.0/24 and fd00:244:1::/64.
  static const TestPeer& node2();
  // On pod0: a pod of this node.
  static const TestPeer& local_pod();

  // Builds the namespace; removed again when the result is destroyed.
  static absl::StatusOr<std::unique_ptr<TestNode>> Create();

  // Moves the calling thread into the namespace (BPF_PROG_TEST_RUN resolves
  // the ifindex and routes in the caller's namespace).
  absl::StatusOr<e2e::NetNs::Entered> Enter() const { return ns_->Enter(); }
  // ifindex of one of the devices above; the calling thread must have entered.
  static absl::StatusOr<int> IfIndex(const TestDevice& device);

 private:
  explicit TestNode(std::unique_ptr<e2e::NetNs> ns) : ns_(std::move(ns)) {}
  absl::Status Build() const;

  std::unique_ptr<e2e::NetNs> ns_;
};

}  // namespace bpfproxy::packet

#endif  // BPFPROXY_TESTS_KERNEL_PACKET_TEST_NODE_H_
