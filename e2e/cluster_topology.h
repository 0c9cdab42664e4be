// A small cluster in network namespaces, for tests of the per-packet path
// (NodePort, externalIPs, LoadBalancer IPs): N node namespaces on one LAN,
// each with its own pod bridge and pods, and external client namespaces on
// the same LAN.
//
//   client0 eth0 .100    client1 eth0 .101 ...     LAN 192.168.50.0/24, fd00:50::/64
//         |                    |
//   lan: bridge lan0, .254 (where the API server listens)
//         |                    |
//   node0 eth0 .1          node1 eth0 .2 ...
//   node0 br0 10.244.1.1   node1 br0 10.244.2.1      pods fd00:244:(1+n)::/64 too
//     pods .10, .11 ...      pods .10, .11 ...
//
// - Nodes forward (IPv4 and IPv6) and route every other node's pod CIDR via
//   that node's LAN address, as a cluster's flat pod network does.
// - Clients route nothing but the LAN and the external ranges
//   (kExternalCidr4/6, for LoadBalancer IPs and externalIPs) via node 0: a
//   reply that was not translated back never reaches a client's socket.
// - Every namespace has `unreachable` routes for the Service ranges; nodes
//   and pods also for the external ranges. Nothing is connected to the host's
//   namespace, so no packet can leave the machine.
// - Every pod runs an IdentityServer per port and family.
//
// Safety contract (DESIGN.md, "Testing on a real kernel"): every namespace is
// removed by the destructor, also when Create() fails half-way. Names embed
// the creating pid for scripts/sweep-test-leftovers.sh.
#ifndef BPFPROXY_E2E_CLUSTER_TOPOLOGY_H_
#define BPFPROXY_E2E_CLUSTER_TOPOLOGY_H_

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
#include "e2e/topology.h"
#include "proxy/ip_address.h"

namespace bpfproxy::e2e {

// LoadBalancer IPs and externalIPs of the cluster topology; clients route
// them via node 0.
inline constexpr absl::string_view kExternalCidr4 = "192.168.60.0/24";
inline constexpr absl::string_view kExternalCidr6 = "fd00:60::/64";

struct ClusterTopologyOptions {
  int nodes = 2;                         // 1..9
  int pods_per_node = 2;                 // 0..89
  int clients = 2;                       // 0..99
  std::vector<uint16_t> ports = {8080};  // IdentityServers per pod, IPv4 and IPv6; no 0.
  std::string prefix = std::string(kTestPrefix);
};

class ClusterTopology {
 public:
  // Device names inside a node: its link to the LAN and its pod bridge.
  // A client's link to the LAN is also kLanDevice.
  static constexpr absl::string_view kLanDevice = "eth0";
  static constexpr absl::string_view kPodBridge = "br0";

  static absl::StatusOr<std::unique_ptr<ClusterTopology>> Create(const ClusterTopologyOptions& options);
  ClusterTopology(const ClusterTopology&) = delete;
  ClusterTopology& operator=(const ClusterTopology&) = delete;
  ~ClusterTopology();

  // The LAN segment's namespace: it holds the bridge and lan_ip4/6, where
  // a test can serve what every node must reach (the API server).
  NetNs& lan() { return *lan_; }
  NetNs& node(int n) { return *nodes_.at(n).ns; }
  NetNs& pod(int n, int i) { return *nodes_.at(n).pods.at(i); }
  NetNs& client(int c) { return *clients_.at(c); }
  int nodes() const { return static_cast<int>(nodes_.size()); }
  int pods_per_node() const { return pods_per_node_; }
  int clients() const { return static_cast<int>(clients_.size()); }
  const std::vector<uint16_t>& ports() const { return ports_; }

  static IpAddress lan_ip4();           // 192.168.50.254
  static IpAddress lan_ip6();           // fd00:50::254
  static IpAddress node_ip4(int n);     // 192.168.50.(1+n), on the node's kLanDevice
  static IpAddress node_ip6(int n);     // fd00:50::(1+n)
  static IpAddress bridge_ip4(int n);   // 10.244.(1+n).1, on the node's kPodBridge
  static IpAddress bridge_ip6(int n);   // fd00:244:(1+n)::1
  static IpAddress pod_ip4(int n, int i);  // 10.244.(1+n).(10+i)
  static IpAddress pod_ip6(int n, int i);  // fd00:244:(1+n)::(10+i)
  static IpAddress client_ip4(int c);   // 192.168.50.(100+c)
  static IpAddress client_ip6(int c);   // fd00:50::(100+c)
  static std::string pod_cidr4(int n);  // "10.244.(1+n).0/24"
  static std::string pod_cidr6(int n);  // "fd00:244:(1+n)::/64"

 private:
  struct Node {
    std::unique_ptr<NetNs> ns;
    std::vector<std::unique_ptr<NetNs>> pods;
  };

  ClusterTopology(int pods_per_node, std::vector<uint16_t> ports)
      : pods_per_node_(pods_per_node), ports_(std::move(ports)) {}
  absl::Status AddLan(const std::string& prefix);
  absl::Status AddNode(const std::string& prefix, int n);
  absl::Status AddPod(const std::string& prefix, int n, int i);
  absl::Status AddClient(const std::string& prefix, int c);
  absl::Status AddRoutesBetweenNodes();
  // A veth from the LAN bridge (end |lan_end| there) to kLanDevice in |ns|,
  // with |ip4|/24 and |ip6|/64 on it.
  absl::Status PlugIntoLan(const NetNs& ns, const std::string& lan_end, const IpAddress& ip4,
                           const IpAddress& ip6);

  const int pods_per_node_;
  const std::vector<uint16_t> ports_;
  // Destroyed in reverse order: servers first (their sockets pin the pod
  // namespaces), then clients, nodes with their pods, and the LAN.
  std::unique_ptr<NetNs> lan_;
  std::vector<Node> nodes_;
  std::vector<std::unique_ptr<NetNs>> clients_;
  std::vector<std::unique_ptr<IdentityServer>> servers_;
};

}  // namespace bpfproxy::e2e

#endif  // BPFPROXY_E2E_CLUSTER_TOPOLOGY_H_
