// The datapath as the daemon sees it: the socket LB always, the per-packet
// (tc) LB when enabled, and the node's devices and addresses.
//
// Open() is also how a restart changes modes: turning --per-packet-lb off
// detaches the tc programs and removes their pins; --socket-lb takes effect
// by swapping the socket programs in their pinned links.
#ifndef BPFPROXY_PROXY_DATAPATH_H_
#define BPFPROXY_PROXY_DATAPATH_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proxy/flags.h"
#include "proxy/ip_address.h"
#include "proxy/lb_maps.h"
#include "proxy/policy_maps.h"
#include "proxy/socket_lb.h"
#include "proxy/tc_lb.h"

namespace bpfproxy {

struct DatapathConfig {
  // bpf_root, cgroup_root and map sizes; socket.netns_cookie is set by
  // Open() from socket_mode.
  SocketLbConfig socket;
  SocketLbMode socket_mode = SocketLbMode::kAll;  // --socket-lb
  bool per_packet_lb = true;                      // --per-packet-lb
  // --devices; empty: DetectNodeDevices(). The node's addresses are read
  // from these devices whether or not per_packet_lb is on.
  std::vector<std::string> devices;
};

class Datapath {
 public:
  static absl::StatusOr<std::unique_ptr<Datapath>> Open(const DatapathConfig& config);
  // --cleanup: the tc filters of every device of the current network
  // namespace, the socket programs, every pin of ours under |bpf_root|.
  static absl::Status Cleanup(const std::string& bpf_root);

  // The socket view (bpfp_svc/be/memb_v1): ClusterIPs, and NodePorts on the
  // node addresses and 127.0.0.1 for the node's own sockets.
  LbMaps& socket_maps() { return socket_->maps(); }
  // The external view (bpfp_xsvc/xbe/xmemb_v1) and its policies; nullptr
  // when per_packet_lb is off.
  LbMaps* external_maps() { return tc_ != nullptr ? &tc_->maps() : nullptr; }
  PolicyMaps* policies() { return tc_ != nullptr ? &tc_->policies() : nullptr; }
  // The devices in use (given or detected) and their addresses, device by
  // device: feed to SelectNodePortAddresses().
  const std::vector<std::string>& devices() const { return devices_; }
  const std::vector<IpAddress>& node_addresses() const { return node_addresses_; }

  // Reads the devices (detects them again unless --devices was given) and
  // their addresses; with per_packet_lb, attaches to new devices, detaches
  // from ones gone and rewrites the SNAT addresses — only when something
  // changed, so calling it every few seconds costs one netlink dump.
  // Not thread-safe: one caller. An error: the devices could not be read,
  // and nothing changed.
  struct DeviceRefresh {
    bool addresses_changed = false;  // node_addresses() changed.
    // Attaching the tc programs to the new device set failed (e.g. a new
    // device carries someone else's filter in our slot). The addresses are
    // taken anyway, and the next refresh tries the attachment again.
    absl::Status attach;
  };
  absl::StatusOr<DeviceRefresh> RefreshDevices();

  SocketLb& socket_lb() { return *socket_; }
  TcLb* tc_lb() { return tc_.get(); }

 private:
  Datapath() = default;
  absl::StatusOr<std::vector<NetDevice>> FindDevices() const;
  absl::Status ReadDevices();

  DatapathConfig config_;
  std::unique_ptr<SocketLb> socket_;
  std::unique_ptr<TcLb> tc_;
  std::vector<std::string> devices_;
  std::vector<IpAddress> node_addresses_;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_DATAPATH_H_
