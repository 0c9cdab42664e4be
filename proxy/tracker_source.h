// TrackerSource adapts the ServiceTracker to the Proxier. The tracker hands
// out changes per Service; the datapath has one entry per frontend
// (IP:port/protocol) in each view. When two Services claim one frontend —
// for a moment during a relist, when one is deleted and another created with
// its ClusterIP; for externalIPs and LB IPs, whenever two Services list the
// same address and port — the frontend belongs to the first by name, as
// ServiceTracker::AllViews() decides, and a Service giving it up does not
// remove it from under the other. Ownership is per view: the socket view and
// the external view each have their own. Changes come out per frontend:
// {the owner's backends (and, external, policy) before, after}.
#ifndef BPFPROXY_PROXY_TRACKER_SOURCE_H_
#define BPFPROXY_PROXY_TRACKER_SOURCE_H_

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proxy/proxier.h"
#include "proxy/service_tracker.h"

namespace bpfproxy {

class TrackerSource : public FrontendSource {
 public:
  // |mu| guards |tracker| (reflector threads write it).
  TrackerSource(absl::Mutex* mu, ServiceTracker* tracker) : mu_(mu), tracker_(tracker) {}

  // Called on the proxier's thread only, like everything below.
  std::vector<Change> TakeChanges() override;
  DesiredFrontends AllFrontends() override;
  ExternalFrontends AllExternalFrontends() override;

  // What the TakeChanges() calls since the last TakeChangeStats() took from
  // the tracker, for the sync's statistics (SyncStats).
  struct ChangeStats {
    size_t service_changes = 0;             // Services whose object changed.
    size_t endpoint_changes = 0;            // EndpointSlice updates that changed endpoints.
    std::vector<absl::Time> trigger_times;  // Sorted.
    // Frontends whose owning Service changed (or that lost their owner),
    // socket view first, in the order they were taken.
    std::vector<FrontendOwnerChange> owner_changes;
  };
  ChangeStats TakeChangeStats();

  // One Service's claim on one frontend. The socket view's policy is always
  // the default.
  struct Claim {
    std::vector<L4Address> backends;
    FrontendPolicy policy;
    bool operator==(const Claim&) const = default;
  };
  using ClaimsByFrontend = absl::btree_map<L4Address, Claim>;

  // The claims on the frontends of one view, and who owns each.
  class ClaimTable {
   public:
    // A Service's claim, and which Service it is.
    struct Owned {
      ServiceName owner;
      Claim claim;
      bool operator==(const Owned&) const = default;
    };
    struct Transition {
      L4Address frontend;
      std::optional<Owned> before, after;  // The owner and its claim; nullopt: no owner.
      bool claim_changed() const {
        return before.has_value() != after.has_value() || (before && before->claim != after->claim);
      }
      bool owner_changed() const {
        return before.has_value() != after.has_value() || (before && before->owner != after->owner);
      }
    };
    // Service |name| gave up |previous| and claims |current|.
    void Apply(const ServiceName& name, const ClaimsByFrontend& previous, ClaimsByFrontend current);
    // The frontends whose owner, or the owner's claim, changed since the
    // last call.
    std::vector<Transition> TakeTransitions();

   private:
    std::optional<Owned> Owner(const L4Address& frontend) const;
    void Touch(const L4Address& frontend);

    // Frontend -> the Services whose last taken state has it -> their claim.
    absl::flat_hash_map<L4Address, absl::btree_map<ServiceName, Claim>> claims_;
    // The owner and its claim before this batch, of every frontend touched.
    absl::btree_map<L4Address, std::optional<Owned>> before_;
  };

 private:
  // Records an owner change of |t| in |view| (LB_VIEW_*) for ChangeStats.
  void NoteOwner(uint8_t view, const ClaimTable::Transition& t);

  absl::Mutex* mu_;
  ServiceTracker* tracker_;
  ClaimTable socket_, external_;
  ChangeStats taken_;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_TRACKER_SOURCE_H_
