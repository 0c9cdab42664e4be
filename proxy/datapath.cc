#include "proxy/datapath.h"

#include "absl/algorithm/container.h"
#include "absl/strings/str_join.h"
#include "proxy/bpf_pins.h"
#include "proxy/log.h"
#include "proxy/node_addresses.h"

namespace bpfproxy {

namespace {

// What the tc programs depend on: which devices (by ifindex: a device
// deleted and created again under its name needs the programs again) and
// their addresses (the SNAT source).
bool SameAttachment(const std::vector<NetDevice>& a, const std::vector<NetDevice>& b) {
  return absl::c_equal(a, b, [](const NetDevice& x, const NetDevice& y) {
    return x.name == y.name && x.ifindex == y.ifindex && x.addresses == y.addresses;
  });
}

std::string AddressList(const std::vector<IpAddress>& ips) {
  return absl::StrJoin(ips, ",", [](std::string* out, const IpAddress& ip) { out->append(ip.ToString()); });
}

}  // namespace

absl::StatusOr<std::vector<NetDevice>> Datapath::FindDevices() const {
  std::vector<std::string> names = config_.devices;
  if (names.empty()) {
    absl::StatusOr<std::vector<std::string>> detected = DetectNodeDevices();
    if (!detected.ok()) return detected.status();
    names = *std::move(detected);
  }
  return FindNetDevices(names);
}

absl::Status Datapath::ReadDevices() {
  absl::StatusOr<std::vector<NetDevice>> devices = FindDevices();
  if (!devices.ok()) return devices.status();
  devices_.clear();
  for (const NetDevice& device : *devices) devices_.push_back(device.name);
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
             << absl::StrJoin(datapath->devices_, ",") << "], node addresses [" << AddressList(datapath->node_addresses_)
             << "]";
  return datapath;
}

absl::StatusOr<Datapath::DeviceRefresh> Datapath::RefreshDevices() {
  absl::StatusOr<std::vector<NetDevice>> devices = FindDevices();
  if (!devices.ok()) return devices.status();
  std::vector<std::string> names;
  for (const NetDevice& device : *devices) names.push_back(device.name);
  std::vector<IpAddress> addresses = NodeAddressesOf(*devices);
  DeviceRefresh refresh;
  // The programs go where the devices are (also after a failed attempt,
  // which leaves tc_->devices() as it was).
  if (tc_ != nullptr && !SameAttachment(tc_->devices(), *devices)) refresh.attach = tc_->SetDevices(names);
  if (names == devices_ && addresses == node_addresses_) return refresh;  // The common case.
  KLOG(INFO) << "Node devices now [" << absl::StrJoin(names, ",") << "] with addresses [" << AddressList(addresses)
             << "] (were [" << absl::StrJoin(devices_, ",") << "], [" << AddressList(node_addresses_) << "])";
  refresh.addresses_changed = addresses != node_addresses_;
  devices_ = std::move(names);
  node_addresses_ = std::move(addresses);
  return refresh;
}

absl::Status Datapath::Cleanup(const std::string& bpf_root) {
  // The tc filters first: SocketLb::Cleanup unpins every map, theirs too.
  if (absl::Status s = TcLb::Cleanup(bpf_root); !s.ok()) return s;
  return SocketLb::Cleanup(bpf_root);
}

}  // namespace bpfproxy
