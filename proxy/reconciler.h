// Reconciler: keeps the LB maps equal to the desired frontends by writing
// only the difference, in make-before-break order.
//
// Ordering guarantee, per frontend (DESIGN.md "Make before break"):
//   1. new backends (bpfp_be) are written,
//   2. slots whose backend changed, and new slots, are written,
//   3. the master entry (slot 0, count) is written,
//   4. surplus slots (count+1..old count) are deleted,
//   5. backends no frontend references any more are deleted.
// A lookup therefore never finds a slot that points nowhere. Removing a
// frontend deletes its master first, then its slots, then unreferenced
// backends. Slots are stable: a backend that stays keeps its slot, and a
// hole left by a removed backend is filled by a new one or by the last slot.
//
// Backend IDs are shared by every frontend that uses the same address, are
// reference-counted, and are rebuilt from the maps by Create() after a restart.
#ifndef BPFPROXY_PROXY_RECONCILER_H_
#define BPFPROXY_PROXY_RECONCILER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proxy/ip_address.h"
#include "proxy/lb_maps.h"

namespace bpfproxy {

// Desired state: frontend (VIP, port, protocol) -> its backends. An empty
// backend list keeps the frontend with count 0, so connects are refused.
using DesiredFrontends = absl::btree_map<L4Address, std::vector<L4Address>>;

struct SyncResult {
  // Frontends that could not be (fully) applied, with the reason. Every other
  // frontend was applied.
  absl::btree_map<L4Address, absl::Status> failed;
  // Entries deleted because nothing desired them (stale after a restart).
  size_t pruned_services = 0;
  size_t pruned_backends = 0;
  bool ok() const { return failed.empty(); }
};

class Reconciler {
 public:
  // Reads the maps and rebuilds the applied state, the backend IDs and their
  // reference counts. Nothing is written: stale entries are remembered and
  // pruned by the first Sync().
  static absl::StatusOr<std::unique_ptr<Reconciler>> Create(LbMaps* maps);

  // Makes |frontend|'s backends exactly |backends| (order does not matter,
  // duplicates are ignored). Backends must have the frontend's protocol and
  // IP family. On error, the maps hold a consistent state for this frontend
  // (old or partly new; never a dangling slot) that a later call converges.
  absl::Status Upsert(const L4Address& frontend, absl::Span<const L4Address> backends);

  // Deletes |frontend| (no-op if unknown).
  absl::Status Remove(const L4Address& frontend);

  // Full resync: upserts every desired frontend, removes every other one,
  // and prunes entries no frontend accounts for.
  SyncResult Sync(const DesiredFrontends& desired);

  // What is applied now: frontend -> backends in slot order (slot 1 first).
  DesiredFrontends Applied() const;
  // Map entries the reconciler accounts for.
  size_t service_entries() const { return service_entries_; }
  size_t backend_entries() const { return backends_.size(); }

 private:
  struct BackendRef {
    uint32_t id = 0;
    uint32_t refs = 0;  // Slots that point at it, across all frontends.
  };
  struct AppliedFrontend {
    std::vector<uint32_t> slots;  // slots[i] = backend ID of slot i+1.
  };

  explicit Reconciler(LbMaps* maps) : maps_(maps) {}
  absl::Status Restore();
  absl::StatusOr<uint32_t> AcquireBackend(const L4Address& backend);
  absl::Status ReleaseBackend(uint32_t id);
  absl::StatusOr<uint32_t> AllocateId();

  LbMaps* maps_;
  absl::btree_map<L4Address, AppliedFrontend> frontends_;
  absl::flat_hash_map<L4Address, BackendRef> backends_;
  absl::flat_hash_map<uint32_t, L4Address> backend_by_id_;
  std::vector<uint32_t> free_ids_;
  uint32_t next_id_ = 1;
  size_t service_entries_ = 0;
  // Found by Restore() and owned by no frontend; deleted by Sync().
  std::vector<lb_service_key> stale_slots_;
  std::vector<uint32_t> stale_backends_;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_RECONCILER_H_
