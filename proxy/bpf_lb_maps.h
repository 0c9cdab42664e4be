// LbMaps on the kernel's maps, through libbpf's low-level map API.
#ifndef BPFPROXY_PROXY_BPF_LB_MAPS_H_
#define BPFPROXY_PROXY_BPF_LB_MAPS_H_

#include <string>
#include <utility>

#include "bpfproxy/lb_abi.h"
#include "proxy/lb_maps.h"
#include "proxy/unique_fd.h"

namespace bpfproxy {

// The names a BpfLbMaps gives its three maps in errors: their pinned names,
// so that an admin reading "bpf map bpfp_xsvc_v1: ... (E2BIG)" finds the
// full map with bpftool. Both service views share the layout, so one class
// serves both; only the names tell them apart.
struct LbMapNames {
  std::string services = LB_SERVICES_MAP_NAME;
  std::string backends = LB_BACKENDS_MAP_NAME;
  std::string members = LB_MEMBERS_MAP_NAME;

  // The socket view's maps (the cgroup hooks): the default.
  static LbMapNames SocketView() { return {}; }
  // The external view's maps (the per-packet tc programs).
  static LbMapNames ExternalView() { return {LB_XSERVICES_MAP_NAME, LB_XBACKENDS_MAP_NAME, LB_XMEMBERS_MAP_NAME}; }
};

class BpfLbMaps : public LbMaps {
 public:
  // Takes ownership of the map fds, which are the maps |names| names.
  BpfLbMaps(UniqueFd services, UniqueFd backends, UniqueFd members, LbMapCapacity capacity,
            LbMapNames names = LbMapNames::SocketView())
      : services_(std::move(services)),
        backends_(std::move(backends)),
        members_(std::move(members)),
        capacity_(capacity),
        names_(std::move(names)) {}

  absl::Status UpdateService(const lb_service_key& key, const lb_service_value& value) override;
  absl::Status DeleteService(const lb_service_key& key) override;
  absl::Status UpdateBackend(uint32_t id, const lb_backend_value& value) override;
  absl::Status DeleteBackend(uint32_t id) override;
  absl::Status UpdateMember(const lb_member_key& key) override;
  absl::Status DeleteMember(const lb_member_key& key) override;
  absl::Status ForEachService(ServiceVisitor visit) const override;
  absl::Status ForEachBackend(BackendVisitor visit) const override;
  absl::Status ForEachMember(MemberVisitor visit) const override;
  LbMapCapacity capacity() const override { return capacity_; }

 private:
  UniqueFd services_;
  UniqueFd backends_;
  UniqueFd members_;
  LbMapCapacity capacity_;
  LbMapNames names_;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_BPF_LB_MAPS_H_
