// Reconciler: keeps the LB maps equal to the desired frontends by writing
// only the difference, in make-before-break order.
//
// Ordering guarantee, per frontend (DESIGN.md "Make before break"):
//   1. new backends (bpfp_be) are written,
//   2. new memberships (bpfp_memb) are written,
//   3. slots whose backend changed, and new slots, are written,
//   4. the master entry (slot 0: ID, count) is written,
//   5. surplus slots (count+1..old count) are deleted,
//   6. memberships of backends that left are deleted,
//   7. backends nothing references any more are deleted.
// A lookup therefore never finds a slot or membership that points nowhere.
// Removing a frontend deletes its master first, then its slots, memberships
// and unreferenced backends. Slots are stable: a backend that stays keeps its
// slot, and a hole left by a removed backend is filled by a new one or by the
// last slot.
//
// Each frontend has a service ID, written into its master and every slot;
// backends have IDs shared by every frontend that uses the same address,
// reference-counted by slots and memberships. IDs count up from 1 and are
// not reused until the 32-bit space wraps, so a BPF program holding an old
// ID can never mistake a new entry for it (lb_abi.h). Create() rebuilds all
// of it from the maps after a restart.
#ifndef BPFPROXY_PROXY_RECONCILER_H_
#define BPFPROXY_PROXY_RECONCILER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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
  size_t member_entries() const { return member_entries_; }

  // The service ID |frontend| has in the maps; nullopt when it has none.
  std::optional<uint32_t> ServiceIdOf(const L4Address& frontend) const;

  // Hears which service ID stands for which frontend (for per-Service
  // counters the BPF programs keep by ID): |assigned| when a frontend gets
  // its ID, and at once for every frontend already held (e.g. restored from
  // the pins); |released| when a frontend and its ID are forgotten. Called
  // on the thread that writes through this reconciler; an empty function is
  // not called.
  struct ServiceIdListener {
    std::function<void(const L4Address& frontend, uint32_t service_id)> assigned, released;
  };
  void SetServiceIdListener(ServiceIdListener listener);

 private:
  struct Backend {
    L4Address address;
    uint32_t refs = 0;  // Slot and membership entries that point at this ID.
  };
  // Mirrors exactly what the maps hold for one frontend, also after a
  // failed write: slots[i] is the backend ID in slot i+1 (0 = an entry that
  // must be rewritten); slots beyond |count| exist but are not visible.
  struct AppliedFrontend {
    uint32_t service_id = LB_SERVICE_ID_INVALID;
    bool has_master = false;
    uint16_t count = 0;
    std::vector<uint32_t> slots;
    absl::btree_set<uint32_t> members;  // Backend IDs with a membership entry.
  };
  using AddressSet = absl::flat_hash_set<L4Address>;
  using SlotRef = std::pair<L4Address, uint16_t>;

  explicit Reconciler(LbMaps* maps) : maps_(maps) {}
  absl::Status Restore();
  void RestoreFrontend(const L4Address& frontend, const absl::btree_map<uint16_t, lb_service_value>& entries);
  // Backends that become unreferenced are deleted at once, except those in
  // |keep| (wanted by a frontend not yet written), left for the caller.
  absl::Status UpsertInternal(const L4Address& frontend, absl::Span<const L4Address> backends,
                              const AddressSet& keep);
  absl::Status RemoveInternal(const L4Address& frontend, const AddressSet& keep);
  absl::Status CheckCapacity(const AppliedFrontend& f, absl::Span<const L4Address> wanted) const;
  absl::StatusOr<uint32_t> AcquireBackend(const L4Address& backend);
  absl::Status AddMembers(AppliedFrontend& f, const std::vector<uint32_t>& ids);
  absl::Status DropMembers(AppliedFrontend& f, const absl::flat_hash_set<uint32_t>& keep_ids,
                           std::vector<uint32_t>& released);
  absl::Status WriteSlots(const L4Address& frontend, AppliedFrontend& f, const std::vector<uint32_t>& layout,
                          std::vector<uint32_t>& released);
  absl::Status DeleteSurplusSlots(const L4Address& frontend, AppliedFrontend& f, size_t keep,
                                  std::vector<uint32_t>& released);
  // Forgets |frontend| if nothing of it is left in the maps.
  void ForgetIfEmpty(const L4Address& frontend);
  void AddRef(uint32_t id);
  void DropRef(uint32_t id, std::vector<uint32_t>& released);
  absl::Status DeleteReleased(const std::vector<uint32_t>& released, const AddressSet& keep);
  // Deletes the backends in |ids| that nothing references; counts deletions.
  absl::Status DeleteUnreferenced(const std::vector<uint32_t>& ids, size_t* deleted = nullptr);
  std::vector<uint32_t> UnreferencedBackends() const;
  void PruneStale(const AddressSet& wanted, SyncResult& result);

  LbMaps* maps_;
  ServiceIdListener id_listener_;
  absl::btree_map<L4Address, AppliedFrontend> frontends_;
  // Every backend entry in the map, by ID. Normally one ID per address;
  // after a foreign write there may be more, and only id_of_'s is reused.
  absl::flat_hash_map<uint32_t, Backend> by_id_;
  absl::flat_hash_map<L4Address, uint32_t> id_of_;
  absl::flat_hash_set<uint32_t> service_ids_;  // In use by frontends_.
  uint32_t next_backend_id_ = 1;
  uint32_t next_service_id_ = 1;
  size_t service_entries_ = 0;  // Masters and slots owned by frontends_.
  size_t member_entries_ = 0;   // Memberships owned by frontends_.
  // Entries Restore() found that no frontend owns (slots no master makes
  // visible, memberships of unknown IDs); deleted by Sync(), unless a write
  // claims the same key first.
  absl::btree_set<SlotRef> stale_slots_;
  absl::btree_set<std::pair<uint32_t, uint32_t>> stale_members_;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_RECONCILER_H_
