// Proxier: the one thread that writes the datapath. It takes the Services
// that changed from the Service model and applies them to the datapath's
// two views — the socket view's reconciler and, when the per-packet path is
// on, the external view's reconciler and its per-frontend policies — with
// kube-proxy's timing:
//   - nothing is written until Services and EndpointSlices have both
//     completed their first LIST; the first sync is then a full Sync(),
//     which also prunes what an earlier run left stale — a restart never
//     shrinks a Service for a moment;
//   - after that only changed Services are applied, and changes are
//     coalesced: syncs are at least |min_sync_period| apart (kube-proxy's
//     --iptables-min-sync-period, default 1s, 0 allowed);
//   - a full Sync() runs every |sync_period| (--iptables-sync-period) and
//     after a failed write (in either view), to repair anything that
//     drifted.
// External view ordering (PolicyMaps): a frontend's policy is written before
// the frontend (its first packet already sees e.g. its source ranges) and
// removed after it; a frontend whose policy write failed is left as it
// was. A full sync writes the policies that differ from the maps, then
// Sync()s the reconciler, then prunes the policies of frontends that are
// no longer desired.
#ifndef BPFPROXY_PROXY_PROXIER_H_
#define BPFPROXY_PROXY_PROXIER_H_

#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proxy/external_frontends.h"
#include "proxy/policy_maps.h"
#include "proxy/reconciler.h"

namespace bpfproxy {

// What the proxier needs from the Service model (ServiceTracker provides it
// through an adapter). Called on the proxier's thread; implementations lock.
class FrontendSource {
 public:
  // What changed, in each view: {before, after} of the frontends listed.
  struct Change {
    DesiredFrontends previous;
    DesiredFrontends current;
    ExternalFrontends external_previous = {};
    ExternalFrontends external_current = {};
  };
  virtual ~FrontendSource() = default;
  // Changes since the last call (per Service, or per frontend).
  virtual std::vector<Change> TakeChanges() = 0;
  // Everything, for a full sync.
  virtual DesiredFrontends AllFrontends() = 0;
  // The external view, for a full sync: the default is none.
  virtual ExternalFrontends AllExternalFrontends() { return {}; }
};

// Where the proxier writes. Not owned.
struct ProxierTargets {
  Reconciler* socket = nullptr;  // Required.
  // The per-packet path: both or neither. Without them, the external view
  // is ignored.
  Reconciler* external = nullptr;
  PolicyMaps* policies = nullptr;
};

struct ProxierOptions {
  absl::Duration min_sync_period = absl::Seconds(1);
  absl::Duration sync_period = absl::Seconds(30);
};

// What one sync did, for logs, metrics and tests.
struct SyncReport {
  bool ran = false;   // False: not both first LISTs were in yet.
  bool full = false;  // A full Sync() rather than the changes only.
  size_t services_changed = 0;
  size_t frontends_written = 0;  // Upserts and removes issued, both views.
  size_t policies_written = 0;   // Policy upserts and removes issued.
  size_t failures = 0;
  absl::Duration duration;
};

class Proxier {
 public:
  enum class Resource { kServices, kEndpointSlices };

  // |targets.external| and |targets.policies| must be both set or both
  // null; with only one, the external view is ignored.
  Proxier(FrontendSource* source, ProxierTargets targets, ProxierOptions options);
  // The socket view only.
  Proxier(FrontendSource* source, Reconciler* reconciler, ProxierOptions options)
      : Proxier(source, ProxierTargets{.socket = reconciler}, options) {}

  // Thread-safe; called by the reflectors' handlers.
  void MarkSynced(Resource resource);
  void NotifyChanged();
  // Both first LISTs are in (syncs may run).
  bool ready() const;

  // Runs syncs until Stop(), each when due (see above).
  void Run();
  void Stop();

  // One sync now, whatever the timing; Run() calls it when a sync is due.
  SyncReport SyncOnce();

  // Called after every sync that ran, on the proxier's thread.
  void SetObserver(std::function<void(const SyncReport&)> observer) { observer_ = std::move(observer); }

  // When the next sync is due, given the state: the time-keeping of Run(),
  // separate so that it can be tested without a clock.
  struct Timing {
    absl::Time last_sync;    // InfinitePast() before the first.
    bool ready = false;      // Both first LISTs are in.
    bool pending = false;    // A change arrived since the last sync.
    bool need_full = false;  // The next sync must be a full one.
    // Full syncs are timed from the last full one, as kube-proxy's are:
    // changes arriving all the time must not postpone them.
    absl::Time last_full_sync = absl::InfinitePast();
  };
  static absl::Time NextSyncTime(const Timing& timing, const ProxierOptions& options);

 private:
  void ApplyChanges(SyncReport& report);
  void ApplyFull(SyncReport& report);
  void SyncSocketView(SyncReport& report);
  void SyncExternalView(SyncReport& report);
  // Counts a write and its failure (logged); returns whether it succeeded.
  static bool Count(absl::Status status, size_t& written, SyncReport& report);
  bool external_enabled() const { return external_ != nullptr && policies_ != nullptr; }

  FrontendSource* source_;
  Reconciler* reconciler_;
  Reconciler* external_;
  PolicyMaps* policies_;
  const ProxierOptions options_;
  std::function<void(const SyncReport&)> observer_;

  mutable absl::Mutex mu_;
  bool services_synced_ ABSL_GUARDED_BY(mu_) = false;
  bool slices_synced_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;  // Something changed the timing.
  Timing timing_ ABSL_GUARDED_BY(mu_){absl::InfinitePast(), false, false, true, absl::InfinitePast()};
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_PROXIER_H_
