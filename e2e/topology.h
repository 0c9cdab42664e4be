// Test and demo topology for socket-level load balancing: network namespaces
// joined by a bridge, with identity servers in the pods. Including this header
// brings in the rest of the e2e library: test-owned namespaces, cgroup and
// bpffs (e2e/netns.h), socket clients (e2e/socket_clients.h) and identity
// servers (e2e/identity_server.h).
//
// Safety contract (see DESIGN.md, "Testing on a real kernel"): nothing here adds
// an address, route or program to the host's own network namespace, and every
// namespace, cgroup and mount is removed by the destructor of the object that
// created it. Names embed the creating pid so that
// scripts/sweep-test-leftovers.sh can remove what a crashed process left behind.
#ifndef BPFPROXY_E2E_TOPOLOGY_H_
#define BPFPROXY_E2E_TOPOLOGY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "e2e/identity_server.h"
#include "e2e/netns.h"
#include "e2e/socket_clients.h"
#include "proxy/ip_address.h"

namespace bpfproxy::e2e {

// Service ranges of the test topology. Both get an `unreachable` route in every
// namespace, so traffic the datapath did not translate fails fast.
inline constexpr absl::string_view kServiceCidr4 = "10.96.0.0/16";
inline constexpr absl::string_view kServiceCidr6 = "fd00:96::/108";

// Adds an `unreachable` route for each of |cidrs| (IPv4 or IPv6) in |ns|.
absl::Status AddUnreachableRoutes(const NetNs& ns, const std::vector<std::string>& cidrs);
// The same for kServiceCidr4 and kServiceCidr6.
absl::Status AddServiceRoutes(const NetNs& ns);

struct PodTopologyOptions {
  int pods = 3;                         // 0..244.
  std::vector<uint16_t> ports = {8080};  // IdentityServers per pod, IPv4 and IPv6.
  std::string prefix = "bpfpt";         // Namespace names "<prefix>-node-<pid>-<n>".
};

// A "node" netns with bridge br0 (10.244.0.1/24, fd00:244::1/64) and N "pod"
// netns, each linked to br0 by a veth pair whose ends are created directly inside
// the node and pod namespaces. Pod i has 10.244.0.(10+i) and fd00:244::(10+i),
// default routes via the bridge, and one IdentityServer per family and port.
// Every namespace has unreachable routes for kServiceCidr4 and kServiceCidr6.
class PodTopology {
 public:
  static absl::StatusOr<std::unique_ptr<PodTopology>> Create(const PodTopologyOptions& options);
  PodTopology(const PodTopology&) = delete;
  PodTopology& operator=(const PodTopology&) = delete;
  ~PodTopology();

  NetNs& node() { return *node_; }
  NetNs& pod(int i) { return *pods_.at(i); }
  int pods() const { return static_cast<int>(pods_.size()); }
  const std::vector<uint16_t>& ports() const { return ports_; }
  static IpAddress node_ip4();
  static IpAddress node_ip6();
  static IpAddress pod_ip4(int i);
  static IpAddress pod_ip6(int i);

 private:
  explicit PodTopology(std::vector<uint16_t> ports) : ports_(std::move(ports)) {}
  absl::Status AddNode(const std::string& prefix);
  absl::Status AddPod(const std::string& prefix, int i);

  std::vector<uint16_t> ports_;
  // Destroyed in reverse order: servers (their sockets pin the namespaces),
  // then pods, then the node.
  std::unique_ptr<NetNs> node_;
  std::vector<std::unique_ptr<NetNs>> pods_;
  std::vector<std::unique_ptr<IdentityServer>> servers_;
};

}  // namespace bpfproxy::e2e

#endif  // BPFPROXY_E2E_TOPOLOGY_H_
