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
// IDs start at 1; a new backend takes the lowest free ID.
#ifndef BPFPROXY_PROXY_RECONCILER_H_
#define BPFPROXY_PROXY_RECONCILER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
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
  // An error deleting stale entries that belong to no frontend; retried by
  // the next Sync().
  absl::Status prune_status;
  // Stale entries Sync() deleted: service entries of frontends not in the
  // desired set and slots no master makes visible; backends no slot
  // referenced when the Sync() began (typically found after a restart).
  size_t pruned_services = 0;
  size_t pruned_backends = 0;
  bool ok() const { return failed.empty() && prune_status.ok(); }
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

  // Full resync: prunes stale entries, removes every frontend not desired
  // (first, so their space is free), then upserts every desired frontend.
  // Within one Sync a backend that moves from one frontend to another keeps
  // its ID: backends are only deleted at the end, if nothing uses them.
  SyncResult Sync(const DesiredFrontends& desired);

  // What is applied now: frontend -> backends in slot order (slot 1 first).
  DesiredFrontends Applied() const;
  // Map entries the reconciler accounts for.
  size_t service_entries() const { return service_entries_; }
  size_t backend_entries() const { return by_id_.size(); }

 private:
  struct Backend {
    L4Address address;
    uint32_t refs = 0;  // Slot entries in the map that point at this ID.
  };
  // Mirrors exactly what the maps hold for one frontend, also after a
  // failed write: slots[i] is the backend ID in slot i+1 (0 = an ID the
  // backends map does not know); slots beyond |count| exist but are not
  // visible yet, or no longer.
  struct AppliedFrontend {
    bool has_master = false;
    uint16_t count = 0;
    std::vector<uint32_t> slots;
  };

  explicit Reconciler(LbMaps* maps) : maps_(maps) {}
  absl::Status Restore();
  // Backends that become unreferenced are deleted at once, except those in
  // |keep| (wanted by a frontend not yet written), left for the caller.
  using AddressSet = absl::flat_hash_set<L4Address>;
  absl::Status UpsertInternal(const L4Address& frontend, absl::Span<const L4Address> backends,
                              const AddressSet& keep);
  absl::Status RemoveInternal(const L4Address& frontend, const AddressSet& keep);
  absl::Status DeleteReleased(const std::vector<uint32_t>& released, const AddressSet& keep);
  absl::Status CheckCapacity(const AppliedFrontend& f, absl::Span<const L4Address> wanted) const;
  absl::StatusOr<uint32_t> AcquireBackend(const L4Address& backend);
  absl::Status WriteSlots(const L4Address& frontend, AppliedFrontend& f, const std::vector<uint32_t>& layout,
                          std::vector<uint32_t>& released);
  absl::Status DeleteSurplusSlots(const L4Address& frontend, AppliedFrontend& f, size_t keep,
                                  std::vector<uint32_t>& released);
  void AddRef(uint32_t id);
  void DropRef(uint32_t id, std::vector<uint32_t>& released);
  // Deletes the backends in |ids| that no slot references; counts deletions.
  absl::Status DeleteUnreferenced(const std::vector<uint32_t>& ids, size_t* deleted = nullptr);
  std::vector<uint32_t> UnreferencedBackends() const;
  uint32_t AllocateId();

  LbMaps* maps_;
  absl::btree_map<L4Address, AppliedFrontend> frontends_;
  // Every backend entry in the map, by ID. Normally one ID per address;
  // after a foreign write there may be more, and only id_of_'s is reused.
  absl::flat_hash_map<uint32_t, Backend> by_id_;
  absl::flat_hash_map<L4Address, uint32_t> id_of_;
  absl::btree_set<uint32_t> free_ids_;  // Reused lowest first: dumps are deterministic.
  uint32_t next_id_ = 1;
  size_t service_entries_ = 0;
  // Slot entries found by Restore() that no master makes visible (past the
  // count, after a gap, or without a master); deleted by Sync().
  std::vector<lb_service_key> stale_slots_;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_RECONCILER_H_
