// Loads the per-packet programs (bpf/lb_tc.bpf.c) and attaches them to the
// clsact ingress and egress hooks of the node's devices.
//
// Restart is not an outage: the maps are pinned under <bpf-root>/maps and
// reused by name (proxy/bpf_pins.h), and the tc filters sit at a fixed
// handle and priority of ours, so attaching again — twice, or after a
// restart with a new program — replaces the program in place
// (BPF_TC_F_REPLACE): no packet sees the device without a program. Closing
// a TcLb leaves filters and pins in place; only Cleanup() removes them.
//
// A filter is "ours" when it sits at kTcHandle/kTcPriority AND its program's
// name starts with bpfp_; a filter of someone else at our handle and
// priority is an error, never replaced.
//
// Everything acts on the network namespace of the calling thread.
#ifndef BPFPROXY_PROXY_TC_LB_H_
#define BPFPROXY_PROXY_TC_LB_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proxy/bpf_lb_maps.h"
#include "proxy/bpf_policy_maps.h"
#include "proxy/lb_maps.h"
#include "proxy/node_addresses.h"
#include "proxy/policy_maps.h"

struct lb_tc;

namespace bpfproxy {

// Where our filters sit on every hook: fixed, so a restart finds them.
inline constexpr uint32_t kTcHandle = 0xb9f0;
inline constexpr uint32_t kTcPriority = 1;

struct TcLbConfig {
  std::string bpf_root = "/sys/fs/bpf/bpfproxy";
  // Device names to attach to; each must exist. Devices of the namespace
  // that carry our filters and are not listed lose them.
  std::vector<std::string> devices;
  // Sizes of maps this Open() creates: services sizes bpfp_xsvc, bpfp_xmemb
  // and bpfp_xpol; backends sizes bpfp_xbe. A pinned map keeps its size.
  LbMapCapacity capacity;
  uint32_t conntrack_entries = LB_DEFAULT_CT_ENTRIES;  // bpfp_ct_v1
};

class TcLb {
 public:
  static absl::StatusOr<std::unique_ptr<TcLb>> Open(const TcLbConfig& config);
  // Detaches our filters from every device of the current network namespace
  // and unpins the maps only the tc object uses (bpfp_stat_v1 stays: the
  // socket LB shares it; SocketLb::Cleanup removes it). Missing pins and
  // filters are fine.
  static absl::Status Cleanup(const std::string& bpf_root);

  ~TcLb();
  TcLb(const TcLb&) = delete;
  TcLb& operator=(const TcLb&) = delete;

  // Attaches to exactly |devices| (names; each must exist): ours on every
  // one of them (replaced in place where already there), off every other
  // device, and bpfp_dev_v1 holding each one's addresses — written before
  // its program is attached, entries of devices gone or dropped deleted
  // after. Open() calls it with TcLbConfig::devices; call again when the
  // devices or their addresses change.
  absl::Status SetDevices(const std::vector<std::string>& devices);

  // The external service view (bpfp_xsvc/xbe/xmemb_v1), for a Reconciler.
  LbMaps& maps() { return *maps_; }
  // bpfp_xpol_v1 and bpfp_xsrc_v1.
  PolicyMaps& policies() { return *policies_; }
  // The devices attached to, with the addresses they had then.
  const std::vector<NetDevice>& devices() const { return devices_; }
  // Whether Open() found pinned maps from an earlier run and kept them.
  bool reused_maps() const { return reused_maps_; }

 private:
  TcLb() = default;
  absl::Status Load(const TcLbConfig& config);
  absl::Status WriteDeviceEntries(const std::vector<NetDevice>& devices);
  absl::Status PruneDeviceEntries(const std::vector<NetDevice>& devices);

  lb_tc* skel_ = nullptr;
  std::string bpf_root_;
  std::unique_ptr<BpfLbMaps> maps_;
  std::unique_ptr<BpfPolicyMaps> policies_;
  std::vector<NetDevice> devices_;
  bool reused_maps_ = false;
};

// The bpfp_dev_v1 value of |device|: its first IPv4 address (v4-mapped)
// and its first IPv6 address; all zero for a family it has none of.
lb_device_value MakeDeviceValue(const NetDevice& device);

// Which hooks of the device with |ifindex| carry a filter of ours:
// "ingress", "egress" (for tests and bpfproxyctl).
absl::StatusOr<std::vector<std::string>> OurTcHooks(int ifindex);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_TC_LB_H_
