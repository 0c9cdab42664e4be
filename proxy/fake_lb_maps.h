// In-memory LbMaps for tests. Behaves like the kernel's BPF hash maps where
// the reconciler can tell the difference: an update of a new key into a full
// map fails with E2BIG, a delete of a missing key with ENOENT. Every applied
// write is recorded in an operation log so tests can assert write order, and
// the next write matching a prefix can be made to fail.
#ifndef BPFPROXY_PROXY_FAKE_LB_MAPS_H_
#define BPFPROXY_PROXY_FAKE_LB_MAPS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proxy/lb_maps.h"

namespace bpfproxy {

class FakeLbMaps : public LbMaps {
 public:
  explicit FakeLbMaps(LbMapCapacity capacity = {}) : capacity_(capacity) {}

  absl::Status UpdateService(const lb_service_key& key, const lb_service_value& value) override;
  absl::Status DeleteService(const lb_service_key& key) override;
  absl::Status UpdateBackend(uint32_t id, const lb_backend_value& value) override;
  absl::Status DeleteBackend(uint32_t id) override;
  absl::Status ForEachService(ServiceVisitor visit) const override;
  absl::Status ForEachBackend(BackendVisitor visit) const override;
  absl::Status UpdateMember(const lb_member_key& key) override;
  absl::Status DeleteMember(const lb_member_key& key) override;
  absl::Status ForEachMember(MemberVisitor visit) const override;
  LbMapCapacity capacity() const override { return capacity_; }

  // A real map's size is fixed at creation; tests change it to model "room
  // became available" without rebuilding the maps.
  void SetCapacity(LbMapCapacity capacity) { capacity_ = capacity; }

  // The writes applied so far, one line each, in order:
  //   update svc 10.96.0.1:80/TCP#0 count=2        (" flags=N" if non-zero)
  //   update svc 10.96.0.1:80/TCP#1 backend=3
  //   delete svc 10.96.0.1:80/TCP#2
  //   update be 3 10.244.0.2:8080/TCP
  //   delete be 3
  //   update member svc 1 backend 3
  //   delete member svc 1 backend 3
  // A write that fails (full map, missing key, injected error) is not applied
  // and not logged.
  const std::vector<std::string>& ops() const { return ops_; }
  void ClearOps() { ops_.clear(); }

  // The next write whose log line starts with |op_prefix| fails with |status|
  // and is not applied. Each call arms one failure; several may be pending.
  void FailNext(absl::string_view op_prefix, absl::Status status);
  // Failures armed by FailNext() that no write has matched yet.
  size_t pending_failures() const { return failures_.size(); }

  size_t service_entries() const { return services_.size(); }
  size_t backend_entries() const { return backends_.size(); }

 private:
  // Orders keys by frontend then slot, as a dump would; the byte comparison
  // keeps keys that differ only in padding distinct, as in the kernel.
  struct ServiceKeyLess {
    bool operator()(const lb_service_key& a, const lb_service_key& b) const;
  };
  struct PendingFailure {
    std::string op_prefix;
    absl::Status status;
  };

  // Returns the injected failure for |op|, if one is armed, and disarms it.
  absl::Status TakeInjectedFailure(absl::string_view op);

  LbMapCapacity capacity_;
  std::map<lb_service_key, lb_service_value, ServiceKeyLess> services_;
  absl::btree_map<uint32_t, lb_backend_value> backends_;
  absl::btree_set<std::pair<uint32_t, uint32_t>> members_;  // (service ID, backend ID)
  std::vector<std::string> ops_;
  std::vector<PendingFailure> failures_;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_FAKE_LB_MAPS_H_
