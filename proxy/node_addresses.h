// The node's network devices and addresses, read from the kernel over
// rtnetlink, and the choice of NodePort addresses with kube-proxy's
// --nodeport-addresses semantics (a pure function).
//
// Everything here acts on the network namespace of the calling thread.
#ifndef BPFPROXY_PROXY_NODE_ADDRESSES_H_
#define BPFPROXY_PROXY_NODE_ADDRESSES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/ip_address.h"

namespace bpfproxy {

// One link of the current network namespace.
struct NetDevice {
  std::string name;
  int ifindex = 0;
  bool up = false;        // IFF_UP: administratively up.
  bool loopback = false;  // IFF_LOOPBACK.
  // IFLA_INFO_KIND of a virtual device ("veth", "bridge", "dummy", "vlan",
  // ...); empty for a physical device.
  std::string kind;
  // Global unicast addresses, in the kernel's order (the primary IPv4
  // address first): not loopback, link-local, multicast or unspecified, and
  // not an IPv6 address whose duplicate address detection failed.
  std::vector<IpAddress> addresses;
};

// Every link of the current network namespace, by ifindex.
absl::StatusOr<std::vector<NetDevice>> ListNetDevices();

// Whether the tc programs belong on |device| when --devices is not given:
// up, carrying a global unicast address, and neither loopback nor a veth
// (a pod's link: traffic from outside never arrives there first).
bool IsDefaultNodeDevice(const NetDevice& device);

// The names of the devices IsDefaultNodeDevice() picks, by ifindex.
absl::StatusOr<std::vector<std::string>> DetectNodeDevices();

// The devices named, in that order; an unknown name is kNotFound.
absl::StatusOr<std::vector<NetDevice>> FindNetDevices(const std::vector<std::string>& names);

// The addresses of |devices|, device by device, without duplicates.
std::vector<IpAddress> NodeAddressesOf(const std::vector<NetDevice>& devices);

// The node addresses that serve NodePorts, kube-proxy's way, per IP family:
//  - |nodeport_addresses_flag| empty: every node address;
//  - CIDRs: the node addresses inside them; a family no CIDR is of gets all
//    its node addresses (kube-proxy adds 0.0.0.0/0 or ::/0 for it);
//  - "primary" (alone): the node's primary address of each family, which
//    is the Node object's InternalIP of that family if |node_internal_ips|
//    has one, else the first node address of that family — and only if it
//    is a node address.
// In |node_addresses| order. A value that is no CIDR, or "primary" next to
// other values, is kInvalidArgument naming it.
absl::StatusOr<std::vector<IpAddress>> SelectNodePortAddresses(
    const std::vector<IpAddress>& node_addresses, const std::vector<std::string>& nodeport_addresses_flag,
    const std::vector<IpAddress>& node_internal_ips = {});

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_NODE_ADDRESSES_H_
