// The node's network devices and addresses, read from the kernel over
// rtnetlink, and the node-side choices kube-proxy makes from its flags: the
// node name, the NodePort addresses (--nodeport-addresses), the primary IPs
// (--bind-address) and whether NodePorts answer on 127.0.0.1. The daemon and
// bpfproxyctl both call these, so that `bpfproxyctl explain` picks exactly
// what the daemon picks; they take the flag values, not either's config.
//
// The device functions act on the network namespace of the calling thread;
// the others are pure (NodeName reads the hostname).
#ifndef BPFPROXY_PROXY_NODE_ADDRESSES_H_
#define BPFPROXY_PROXY_NODE_ADDRESSES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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

// --bind-address ("IP" or "IPv4,IPv6"): kube-proxy's override of the node's
// primary IPs, which --nodeport-addresses=primary picks (pass the result as
// SelectNodePortAddresses' |node_internal_ips|). Unspecified addresses (the
// default 0.0.0.0, or ::) override nothing; so does a value that is no IP.
std::vector<IpAddress> PrimaryIps(absl::string_view bind_address);

// Whether NodePorts are served on 127.0.0.1 as well, as kube-proxy's iptables
// mode does: only with --iptables-localhost-nodeports (default true), and
// only when --nodeport-addresses is unset or one of its CIDRs holds
// 127.0.0.1 ("primary" does not).
bool LocalhostNodePorts(const std::vector<std::string>& nodeport_addresses_flag, bool iptables_localhost_nodeports);

// kube-proxy's node name: |hostname_override| (--hostname-override) if set,
// else this machine's hostname; lowercased, as Node names are.
std::string NodeName(absl::string_view hostname_override);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_NODE_ADDRESSES_H_
