// LbMaps on the kernel's maps, through libbpf's low-level map API.
#ifndef BPFPROXY_PROXY_BPF_LB_MAPS_H_
#define BPFPROXY_PROXY_BPF_LB_MAPS_H_

#include "proxy/lb_maps.h"
#include "proxy/unique_fd.h"

namespace bpfproxy {

class BpfLbMaps : public LbMaps {
 public:
  // Takes ownership of the map fds.
  BpfLbMaps(UniqueFd services, UniqueFd backends, UniqueFd members, LbMapCapacity capacity)
      : services_(std::move(services)),
        backends_(std::move(backends)),
        members_(std::move(members)),
        capacity_(capacity) {}

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
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_BPF_LB_MAPS_H_
