#include "proxy/tc_lb.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lb_tc.skel.h"
#include "proxy/bpf_pins.h"
#include "proxy/log.h"
#include "proxy/mounts.h"
#include "proxy/rtnetlink.h"

namespace bpfproxy {
namespace {

struct HookPoint {
  bpf_tc_attach_point point;
  const char* name;
};
constexpr HookPoint kHookPoints[] = {{BPF_TC_INGRESS, "ingress"}, {BPF_TC_EGRESS, "egress"}};

bpf_tc_hook MakeHook(int ifindex, bpf_tc_attach_point point) {
  bpf_tc_hook hook;
  std::memset(&hook, 0, sizeof(hook));
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = point;
  return hook;
}

// Our slot on a hook; prog_fd, prog_id and flags left zero (bpf_tc_query and
// bpf_tc_detach require that).
bpf_tc_opts OurSlot() {
  bpf_tc_opts opts;
  std::memset(&opts, 0, sizeof(opts));
  opts.sz = sizeof(opts);
  opts.handle = kTcHandle;
  opts.priority = kTcPriority;
  return opts;
}

std::string Where(const NetDevice& device, const HookPoint& hook) {
  return absl::StrCat(device.name, " (ifindex ", device.ifindex, ") ", hook.name);
}

// The name of the program in our slot of |hook|; nullopt when the slot is
// empty or the device has no clsact qdisc.
absl::StatusOr<std::optional<std::string>> ProgramInOurSlot(const bpf_tc_hook& hook, absl::string_view where) {
  bpf_tc_opts opts = OurSlot();
  int err = bpf_tc_query(&hook, &opts);
  // ENOENT: no filter there; EINVAL: no clsact qdisc on the device.
  if (err == -ENOENT || err == -EINVAL || err == -ENODEV) return std::nullopt;
  if (err != 0) return ErrnoError(absl::StrCat("query the tc filter on ", where), err);
  UniqueFd prog(bpf_prog_get_fd_by_id(opts.prog_id));
  if (!prog.valid()) {
    if (errno == ENOENT) return std::nullopt;  // Replaced meanwhile.
    return ErrnoError(absl::StrCat("open the program of the tc filter on ", where), errno);
  }
  bpf_prog_info info;
  std::memset(&info, 0, sizeof(info));
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0) {
    return ErrnoError(absl::StrCat("inspect the program of the tc filter on ", where), errno);
  }
  return std::string(info.name, strnlen(info.name, sizeof(info.name)));
}

bool IsOurs(const std::optional<std::string>& program) {
  return program.has_value() && absl::StartsWith(*program, kPinPrefix);
}

absl::Status AttachToDevice(const NetDevice& device, bool has_clsact, int ingress_fd, int egress_fd) {
  if (!has_clsact) {
    // One clsact qdisc holds both hooks. One already there (ours or
    // anyone's, created meanwhile) is fine.
    bpf_tc_hook hook = MakeHook(device.ifindex, BPF_TC_INGRESS);
    if (int err = bpf_tc_hook_create(&hook); err != 0 && err != -EEXIST) {
      return ErrnoError(absl::StrCat("create the clsact qdisc on ", device.name), err);
    }
  }
  for (const HookPoint& point : kHookPoints) {
    bpf_tc_hook hook = MakeHook(device.ifindex, point.point);
    std::string where = Where(device, point);
    absl::StatusOr<std::optional<std::string>> there = ProgramInOurSlot(hook, where);
    if (!there.ok()) return there.status();
    if (there->has_value() && !IsOurs(*there)) {
      return absl::FailedPreconditionError(absl::StrCat("the tc filter at handle 0x", absl::Hex(kTcHandle),
                                                        " priority ", kTcPriority, " on ", where, " runs \"",
                                                        **there, "\", not bpfproxy's; not replacing it"));
    }
    bpf_tc_opts opts = OurSlot();
    opts.prog_fd = point.point == BPF_TC_INGRESS ? ingress_fd : egress_fd;
    // Replaces our filter in place when it is there: no packet goes by
    // without a program.
    opts.flags = BPF_TC_F_REPLACE;
    if (int err = bpf_tc_attach(&hook, &opts); err != 0) {
      return ErrnoError(absl::StrCat("attach the tc program to ", where), err);
    }
  }
  return absl::OkStatus();
}

// The ifindexes of the devices that have a clsact qdisc. Only those can
// carry a filter of ours; asking the others would only fill the log with
// the kernel's "Parent Qdisc doesn't exists".
absl::StatusOr<absl::flat_hash_set<int>> DevicesWithClsact() {
  absl::flat_hash_set<int> out;
  tcmsg request{};
  request.tcm_family = AF_UNSPEC;
  absl::Status s = RtnetlinkDump(RTM_GETQDISC, &request, sizeof(request), "qdiscs", [&](const nlmsghdr& h) {
    if (h.nlmsg_type != RTM_NEWQDISC) return;
    const auto* info = static_cast<const tcmsg*>(NLMSG_DATA(&h));
    const auto* attrs = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(info) + NLMSG_ALIGN(sizeof(*info)));
    int len = static_cast<int>(h.nlmsg_len) - NLMSG_LENGTH(sizeof(*info));
    ForEachRtattr(attrs, len, [&](const rtattr& a) {
      if (a.rta_type == TCA_KIND && RtattrString(a) == "clsact") out.insert(info->tcm_ifindex);
    });
  });
  if (!s.ok()) return s;
  return out;
}

// Removes our filters from |device|; returns how many there were.
absl::StatusOr<int> DetachFromDevice(const NetDevice& device) {
  int detached = 0;
  for (const HookPoint& point : kHookPoints) {
    bpf_tc_hook hook = MakeHook(device.ifindex, point.point);
    std::string where = Where(device, point);
    absl::StatusOr<std::optional<std::string>> there = ProgramInOurSlot(hook, where);
    if (!there.ok()) return there.status();
    if (!IsOurs(*there)) continue;
    bpf_tc_opts opts = OurSlot();
    if (int err = bpf_tc_detach(&hook, &opts); err != 0 && err != -ENOENT) {
      return ErrnoError(absl::StrCat("detach the tc program from ", where), err);
    }
    ++detached;
  }
  // The clsact qdisc stays: other programs may hang off it.
  return detached;
}

// Configured max_entries per map of the tc object.
uint32_t ConfiguredSize(const bpf_map* map, const TcLbConfig& config) {
  absl::string_view name = bpf_map__name(map);
  if (name == LB_XSERVICES_MAP_NAME || name == LB_XMEMBERS_MAP_NAME || name == LB_XPOLICY_MAP_NAME) {
    return config.capacity.services;
  }
  if (name == LB_XBACKENDS_MAP_NAME) return config.capacity.backends;
  if (name == LB_CT_MAP_NAME) return config.conntrack_entries;
  if (name == LB_XSRC_MAP_NAME) return LB_DEFAULT_SRC_RANGE_ENTRIES;
  if (name == LB_DEVICES_MAP_NAME) return LB_DEFAULT_DEVICE_ENTRIES;
  if (name == LB_STATS_MAP_NAME) return LB_DEFAULT_STATS_ENTRIES;  // Same as the socket LB's.
  return bpf_map__max_entries(map);
}

UniqueFd DupFd(const bpf_map* map) { return UniqueFd(fcntl(bpf_map__fd(map), F_DUPFD_CLOEXEC, 0)); }

std::string Names(const std::vector<NetDevice>& devices) {
  return absl::StrJoin(devices, ",", [](std::string* out, const NetDevice& d) { out->append(d.name); });
}

}  // namespace

lb_device_value MakeDeviceValue(const NetDevice& device) {
  lb_device_value value;
  std::memset(&value, 0, sizeof(value));
  bool have_v4 = false, have_v6 = false;
  for (const IpAddress& ip : device.addresses) {
    bool& have = ip.is_v4() ? have_v4 : have_v6;
    if (have) continue;
    have = true;
    std::memcpy(ip.is_v4() ? value.ipv4.u8 : value.ipv6.u8, ip.bytes().data(), 16);
  }
  return value;
}

absl::StatusOr<std::vector<std::string>> OurTcHooks(int ifindex) {
  std::vector<std::string> hooks;
  absl::StatusOr<absl::flat_hash_set<int>> with_clsact = DevicesWithClsact();
  if (!with_clsact.ok()) return with_clsact.status();
  if (!with_clsact->contains(ifindex)) return hooks;
  for (const HookPoint& point : kHookPoints) {
    bpf_tc_hook hook = MakeHook(ifindex, point.point);
    absl::StatusOr<std::optional<std::string>> there =
        ProgramInOurSlot(hook, absl::StrCat("ifindex ", ifindex, " ", point.name));
    if (!there.ok()) return there.status();
    if (IsOurs(*there)) hooks.push_back(point.name);
  }
  return hooks;
}

absl::Status TcLb::Load(const TcLbConfig& config) {
  skel_ = lb_tc__open();
  if (skel_ == nullptr) return ErrnoError("open the tc BPF skeleton", errno);
  if (absl::Status s = PinObjectMaps(
          skel_->obj, MapsDir(config.bpf_root), [&](const bpf_map* map) { return ConfiguredSize(map, config); },
          &reused_maps_);
      !s.ok()) {
    return s;
  }
  if (int err = lb_tc__load(skel_); err != 0) return ErrnoError("load the tc BPF programs (see libbpf messages above)", err);

  LbMapCapacity capacity = config.capacity;
  capacity.services = bpf_map__max_entries(skel_->maps.bpfp_xsvc_v1);
  capacity.backends = bpf_map__max_entries(skel_->maps.bpfp_xbe_v1);
  maps_ = std::make_unique<BpfLbMaps>(DupFd(skel_->maps.bpfp_xsvc_v1), DupFd(skel_->maps.bpfp_xbe_v1),
                                      DupFd(skel_->maps.bpfp_xmemb_v1), capacity, LbMapNames::ExternalView());
  absl::StatusOr<std::unique_ptr<BpfPolicyMaps>> policies =
      BpfPolicyMaps::Open(DupFd(skel_->maps.bpfp_xpol_v1), DupFd(skel_->maps.bpfp_xsrc_v1));
  if (!policies.ok()) return policies.status();
  policies_ = *std::move(policies);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TcLb>> TcLb::Open(const TcLbConfig& config) {
  RouteLibbpfLogs();
  if (!absl::StartsWith(config.bpf_root, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("--bpf-root must be an absolute path, not ", config.bpf_root));
  }
  if (absl::Status s = EnsureBpffs(config.bpf_root); !s.ok()) return s;
  if (absl::Status s = MakeDirs(MapsDir(config.bpf_root)); !s.ok()) return s;
  std::unique_ptr<TcLb> lb(new TcLb());
  lb->bpf_root_ = config.bpf_root;
  if (absl::Status s = lb->Load(config); !s.ok()) return s;
  if (absl::Status s = lb->SetDevices(config.devices); !s.ok()) return s;
  KLOG(INFO) << "Per-packet LB attached to [" << Names(lb->devices_) << "], pins under " << config.bpf_root
             << (lb->reused_maps_ ? " (reused pinned maps)" : " (new maps)");
  return lb;
}

absl::Status TcLb::WriteDeviceEntries(const std::vector<NetDevice>& devices) {
  int fd = bpf_map__fd(skel_->maps.bpfp_dev_v1);
  for (const NetDevice& device : devices) {
    uint32_t key = static_cast<uint32_t>(device.ifindex);
    lb_device_value value = MakeDeviceValue(device);
    if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0) {
      return MapError(LB_DEVICES_MAP_NAME, absl::StrCat("update ", device.name, " (ifindex ", key, ")"), -errno);
    }
  }
  return absl::OkStatus();
}

absl::Status TcLb::PruneDeviceEntries(const std::vector<NetDevice>& devices) {
  int fd = bpf_map__fd(skel_->maps.bpfp_dev_v1);
  absl::flat_hash_set<uint32_t> keep;
  for (const NetDevice& device : devices) keep.insert(static_cast<uint32_t>(device.ifindex));
  std::vector<uint32_t> stale;
  uint32_t key = 0, next = 0;
  const uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (!keep.contains(next)) stale.push_back(next);
    key = next;
    prev = &key;
  }
  if (errno != ENOENT) return MapError(LB_DEVICES_MAP_NAME, "iterate", -errno);
  for (uint32_t ifindex : stale) {
    if (bpf_map_delete_elem(fd, &ifindex) != 0 && errno != ENOENT) {
      return MapError(LB_DEVICES_MAP_NAME, absl::StrCat("delete ifindex ", ifindex), -errno);
    }
  }
  return absl::OkStatus();
}

absl::Status TcLb::SetDevices(const std::vector<std::string>& names) {
  std::vector<std::string> unique;
  for (const std::string& name : names) {
    if (std::find(unique.begin(), unique.end(), name) == unique.end()) unique.push_back(name);
  }
  absl::StatusOr<std::vector<NetDevice>> wanted = FindNetDevices(unique);
  if (!wanted.ok()) return wanted.status();
  // Addresses first: the first packet a new program sees finds its SNAT
  // address.
  if (absl::Status s = WriteDeviceEntries(*wanted); !s.ok()) return s;
  absl::StatusOr<absl::flat_hash_set<int>> with_clsact = DevicesWithClsact();
  if (!with_clsact.ok()) return with_clsact.status();
  int ingress = bpf_program__fd(skel_->progs.bpfp_tc_ingress);
  int egress = bpf_program__fd(skel_->progs.bpfp_tc_egress);
  for (const NetDevice& device : *wanted) {
    if (absl::Status s = AttachToDevice(device, with_clsact->contains(device.ifindex), ingress, egress); !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<std::vector<NetDevice>> all = ListNetDevices();
  if (!all.ok()) return all.status();
  absl::flat_hash_set<std::string> keep(unique.begin(), unique.end());
  for (const NetDevice& device : *all) {
    if (keep.contains(device.name) || !with_clsact->contains(device.ifindex)) continue;
    absl::StatusOr<int> detached = DetachFromDevice(device);
    if (!detached.ok()) return detached.status();
    if (*detached > 0) KLOG(INFO) << "Detached the per-packet LB from " << device.name << ", no longer configured";
  }
  if (absl::Status s = PruneDeviceEntries(*wanted); !s.ok()) return s;
  if (wanted->empty()) KLOG(WARNING) << "Per-packet LB: no device to attach to; traffic from outside is not translated";
  devices_ = *std::move(wanted);
  return absl::OkStatus();
}

TcLb::~TcLb() {
  // The filters hold the programs and the pins hold the maps: both outlive us.
  maps_.reset();
  policies_.reset();
  if (skel_ != nullptr) lb_tc__destroy(skel_);
}

absl::Status TcLb::Cleanup(const std::string& bpf_root) {
  absl::StatusOr<std::vector<NetDevice>> devices = ListNetDevices();
  if (!devices.ok()) return devices.status();
  absl::StatusOr<absl::flat_hash_set<int>> with_clsact = DevicesWithClsact();
  if (!with_clsact.ok()) return with_clsact.status();
  // Programs off their hooks before their maps go.
  for (const NetDevice& device : *devices) {
    if (!with_clsact->contains(device.ifindex)) continue;
    absl::StatusOr<int> detached = DetachFromDevice(device);
    if (!detached.ok()) return detached.status();
    if (*detached > 0) KLOG(INFO) << "Detached the per-packet LB from " << device.name;
  }
  if (absl::Status s = UnpinAll(MapsDir(bpf_root), TcOnlyMapNames()); !s.ok()) return s;
  KLOG(INFO) << "Removed the per-packet LB's pins under " << bpf_root;
  return absl::OkStatus();
}

}  // namespace bpfproxy
