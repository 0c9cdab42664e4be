// ServiceDirectory: which Service a datapath service ID stands for, so that
// per-frontend counters the BPF programs keep by ID (bpfp_stat_v1) can be
// exported by Service name.
//
// Two facts come from two places, and the directory joins them:
//   - (view, frontend) -> Service (namespace/name): the Service model knows
//     which Service owns each frontend of each view;
//   - (view, service ID) -> frontend: the reconciler of that view assigns
//     the IDs (LB_VIEW_SOCKET: bpfp_svc_v1, LB_VIEW_EXTERNAL: bpfp_xsvc_v1).
// Thread-safe: written by the proxier's thread, read by scrapes.
#ifndef BPFPROXY_METRICS_SERVICE_DIRECTORY_H_
#define BPFPROXY_METRICS_SERVICE_DIRECTORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "proxy/ip_address.h"

namespace bpfproxy::metrics {

struct ServiceName {
  std::string namespace_;
  std::string name;
  bool operator==(const ServiceName&) const = default;
};

class ServiceDirectory {
 public:
  struct Entry {
    L4Address frontend;
    ServiceName service;  // Empty when the owner is not known (yet).
    bool operator==(const Entry&) const = default;
  };

  // The Service |frontend| of |view| (LB_VIEW_*) belongs to; replaces an
  // earlier owner. Views own frontends apart: a NodePort is in both.
  void SetOwner(uint8_t view, const L4Address& frontend, ServiceName owner);
  void RemoveOwner(uint8_t view, const L4Address& frontend);

  // The frontend |service_id| of |view| (LB_VIEW_*) was assigned to, or
  // that it no longer stands for anything.
  void SetServiceId(uint8_t view, uint32_t service_id, const L4Address& frontend);
  void RemoveServiceId(uint8_t view, uint32_t service_id);

  // nullopt: an ID the directory does not know (e.g. a frontend removed
  // since, whose counter lingers in the LRU map).
  std::optional<Entry> Lookup(uint8_t view, uint32_t service_id) const;

  size_t ids() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::pair<uint8_t, L4Address>, ServiceName> owners_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::pair<uint8_t, uint32_t>, L4Address> ids_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bpfproxy::metrics

#endif  // BPFPROXY_METRICS_SERVICE_DIRECTORY_H_
