#include "proxy/datapath.h"

#include "absl/strings/str_join.h"
#include "proxy/bpf_pins.h"
#include "proxy/log.h"
#include "proxy/node_addresses.h"

namespace bpfproxy {

absl::Status Datapath::ReadDevices() {
  std::vector<std::string> names = config_.devices;
  if (names.empty()) {
    absl::StatusOr<std::vector<std::string>> detected = DetectNodeDevices();
    if (!detected.ok()) return detected.status();
    names = *std::move(detected);
  }
  absl::StatusOr<std::vector<NetDevice>> devices = FindNetDevices(names);
  if (!devices.ok()) return devices.status();
  devices_ = std::move(names);
  node_addresses_ = NodeAddressesOf(*devices);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Datapath>> Datapath::Open(const DatapathConfig& config) {
  std::unique_ptr<Datapath> datapath(new Datapath());
  datapath->config_ = config;
  SocketLbConfig socket = config.socket;
  socket.netns_cookie = 0;
  if (config.socket_mode == SocketLbMode::kHostOnly) {
    absl::StatusOr<uint64_t> cookie = CurrentNetnsCookie();
    if (!cookie.ok()) return cookie.status();
    socket.netns_cookie = *cookie;
  }
  absl::StatusOr<std::unique_ptr<SocketLb>> socket_lb = SocketLb::Open(socket);
  if (!socket_lb.ok()) return socket_lb.status();
  datapath->socket_ = *std::move(socket_lb);

  if (absl::Status s = datapath->ReadDevices(); !s.ok()) return s;
  if (config.per_packet_lb) {
    TcLbConfig tc;
    tc.bpf_root = config.socket.bpf_root;
    tc.capacity = config.socket.capacity;
    tc.devices = datapath->devices_;
    absl::StatusOr<std::unique_ptr<TcLb>> tc_lb = TcLb::Open(tc);
    if (!tc_lb.ok()) return tc_lb.status();
    datapath->tc_ = *std::move(tc_lb);
  } else {
    // An earlier run may have had it on: no program of ours stays on a
    // device, and its maps go.
    if (absl::Status s = TcLb::Cleanup(config.socket.bpf_root); !s.ok()) return s;
  }
  KLOG(INFO) << "Datapath: socket LB " << (config.socket_mode == SocketLbMode::kHostOnly ? "host-only" : "all")
             << ", per-packet LB " << (config.per_packet_lb ? "on" : "off") << ", devices ["
             << absl::StrJoin(datapath->devices_, ",") << "], node addresses ["
             << absl::StrJoin(datapath->node_addresses_, ",",
                              [](std::string* out, const IpAddress& ip) { out->append(ip.ToString()); })
             << "]";
  return datapath;
}

absl::StatusOr<bool> Datapath::RefreshDevices() {
  std::vector<IpAddress> before = node_addresses_;
  if (absl::Status s = ReadDevices(); !s.ok()) return s;
  if (tc_ != nullptr) {
    if (absl::Status s = tc_->SetDevices(devices_); !s.ok()) return s;
  }
  return node_addresses_ != before;
}

absl::Status Datapath::Cleanup(const std::string& bpf_root) {
  // The tc filters first: SocketLb::Cleanup unpins every map, theirs too.
  if (absl::Status s = TcLb::Cleanup(bpf_root); !s.ok()) return s;
  return SocketLb::Cleanup(bpf_root);
}

}  // namespace bpfproxy
