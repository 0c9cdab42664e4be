#include "proxy/proxier.h"

#include <algorithm>
#include <optional>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "proxy/log.h"

namespace bpfproxy {
namespace {

bool SameBackends(const std::vector<L4Address>& a, const std::vector<L4Address>& b) {
  return absl::btree_set<L4Address>(a.begin(), a.end()) == absl::btree_set<L4Address>(b.begin(), b.end());
}

// One frontend's state in a view: its backends and policy.
struct FrontendState {
  std::vector<L4Address> backends;
  FrontendPolicy policy;
};

// One frontend across a batch of changes: what was applied before (as the
// change that gave it up says) and what is wanted now (as the change that
// claims it says). A frontend one Service gives up and another takes in the
// same batch is thereby rewritten, never removed.
struct Transition {
  std::optional<FrontendState> before, after;
};
using Transitions = absl::btree_map<L4Address, Transition>;

Transitions SocketTransitions(const std::vector<FrontendSource::Change>& changes) {
  Transitions out;
  for (const FrontendSource::Change& change : changes) {
    for (const auto& [f, backends] : change.previous) out[f].before = FrontendState{backends, {}};
  }
  for (const FrontendSource::Change& change : changes) {
    for (const auto& [f, backends] : change.current) out[f].after = FrontendState{backends, {}};
  }
  return out;
}

Transitions ExternalTransitions(const std::vector<FrontendSource::Change>& changes) {
  Transitions out;
  for (const FrontendSource::Change& change : changes) {
    const ExternalFrontends& previous = change.external_previous;
    for (const auto& [f, backends] : previous.frontends) out[f].before = FrontendState{backends, previous.PolicyOf(f)};
  }
  for (const FrontendSource::Change& change : changes) {
    const ExternalFrontends& current = change.external_current;
    for (const auto& [f, backends] : current.frontends) out[f].after = FrontendState{backends, current.PolicyOf(f)};
  }
  return out;
}

}  // namespace

Proxier::Proxier(FrontendSource* source, ProxierTargets targets, ProxierOptions options)
    : source_(source),
      reconciler_(targets.socket),
      external_(targets.external),
      policies_(targets.policies),
      options_(options) {
  if ((external_ == nullptr) != (policies_ == nullptr)) {
    KLOG(ERROR) << "The external view needs both its reconciler and its policy maps; ignoring it";
  }
}

bool Proxier::ready() const {
  absl::MutexLock lock(&mu_);
  return timing_.ready;
}

void Proxier::MarkSynced(Resource resource) {
  absl::MutexLock lock(&mu_);
  (resource == Resource::kServices ? services_synced_ : slices_synced_) = true;
  timing_.ready = services_synced_ && slices_synced_;
  wake_ = true;
}

void Proxier::NotifyChanged() {
  absl::MutexLock lock(&mu_);
  timing_.pending = true;
  wake_ = true;
}

void Proxier::Stop() {
  absl::MutexLock lock(&mu_);
  stop_ = true;
  wake_ = true;
}

absl::Time Proxier::NextSyncTime(const Timing& timing, const ProxierOptions& options) {
  if (!timing.ready) return absl::InfiniteFuture();
  absl::Time full_due = timing.last_full_sync + options.sync_period;
  if (!timing.pending && !timing.need_full) return full_due;
  if (timing.last_sync == absl::InfinitePast()) return absl::InfinitePast();
  absl::Time change_due = timing.last_sync + options.min_sync_period;
  return timing.need_full ? change_due : std::min(change_due, full_due);
}

void Proxier::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      while (!stop_) {
        absl::Time due = NextSyncTime(timing_, options_);
        if (absl::Now() >= due) break;
        wake_ = false;
        mu_.AwaitWithDeadline(absl::Condition(&wake_), due);
      }
      if (stop_) return;
      // The periodic full resync, whether or not changes are pending.
      if (absl::Now() >= timing_.last_full_sync + options_.sync_period) timing_.need_full = true;
    }
    SyncOnce();
  }
}

SyncReport Proxier::SyncOnce() {
  SyncReport report;
  absl::Time start = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    if (!timing_.ready) return report;
    report.full = timing_.need_full;
    timing_.pending = false;
    timing_.need_full = false;
  }
  report.ran = true;
  if (report.full) {
    ApplyFull(report);
  } else {
    ApplyChanges(report);
  }
  report.duration = absl::Now() - start;
  {
    absl::MutexLock lock(&mu_);
    timing_.last_sync = start;
    if (report.full) timing_.last_full_sync = start;
    if (report.failures > 0) timing_.need_full = true;  // Repair at the next sync.
  }
  VLOG(2) << (report.full ? "Full sync" : "Sync") << ": " << report.services_changed << " services changed, "
          << report.frontends_written << " frontends and " << report.policies_written << " policies written, "
          << report.failures << " failed, took " << absl::FormatDuration(report.duration);
  if (observer_) observer_(report);
  return report;
}

bool Proxier::Count(absl::Status status, size_t& written, SyncReport& report) {
  ++written;
  if (status.ok()) return true;
  ++report.failures;
  KLOG(ERROR) << status.message();
  return false;
}

void Proxier::ApplyFull(SyncReport& report) {
  // Changes first, then the whole state: whatever changes after this is in
  // the next TakeChanges().
  report.services_changed = source_->TakeChanges().size();
  SyncSocketView(report);
  if (external_enabled()) SyncExternalView(report);
}

void Proxier::SyncSocketView(SyncReport& report) {
  DesiredFrontends all = source_->AllFrontends();
  SyncResult result = reconciler_->Sync(all);
  report.frontends_written += all.size();
  for (const auto& [frontend, status] : result.failed) KLOG(ERROR) << status.message();
  if (!result.prune_status.ok()) KLOG(ERROR) << "Pruning stale entries: " << result.prune_status.message();
  report.failures += result.failed.size() + (result.prune_status.ok() ? 0 : 1);
  if (result.pruned_services + result.pruned_backends > 0) {
    KLOG(INFO) << "Pruned " << result.pruned_services << " stale service entries and " << result.pruned_backends
               << " stale backends";
  }
}

void Proxier::SyncExternalView(SyncReport& report) {
  ExternalFrontends all = source_->AllExternalFrontends();
  // Policies before the frontends they belong to. Only what differs from
  // the maps is written: a full sync must not rewrite every policy.
  const DesiredPolicies applied = policies_->Applied();
  DesiredFrontends desired = all.frontends;
  std::optional<DesiredFrontends> applied_frontends;
  for (const auto& [frontend, backends] : all.frontends) {
    FrontendPolicy want = all.PolicyOf(frontend).Canonical();
    auto have = applied.find(frontend);
    if (want == (have == applied.end() ? FrontendPolicy{} : have->second)) continue;
    if (Count(policies_->Upsert(frontend, want), report.policies_written, report)) continue;
    // Leave the frontend as it is: its backends are only right with the
    // policy it has, and a new one without its policy could, say, let in
    // sources its ranges refuse. The next full sync tries again.
    if (!applied_frontends.has_value()) applied_frontends = external_->Applied();
    if (auto it = applied_frontends->find(frontend); it != applied_frontends->end()) {
      desired[frontend] = it->second;
    } else {
      desired.erase(frontend);
    }
  }
  SyncResult result = external_->Sync(desired);
  report.frontends_written += desired.size();
  for (const auto& [frontend, status] : result.failed) KLOG(ERROR) << "External view: " << status.message();
  if (!result.prune_status.ok()) KLOG(ERROR) << "Pruning stale external entries: " << result.prune_status.message();
  report.failures += result.failed.size() + (result.prune_status.ok() ? 0 : 1);
  if (result.pruned_services + result.pruned_backends > 0) {
    KLOG(INFO) << "Pruned " << result.pruned_services << " stale external service entries and "
               << result.pruned_backends << " stale external backends";
  }
  // Policies of frontends Sync() removed, after their masters are gone.
  // (Counted as a write only when it fails: Prune() does not say whether it
  // removed anything, and a resync that changes nothing must say so.)
  absl::btree_set<L4Address> keep;
  for (const auto& [frontend, backends] : all.frontends) keep.insert(frontend);
  if (absl::Status pruned = policies_->Prune(keep); !pruned.ok()) {
    Count(std::move(pruned), report.policies_written, report);
  }
}

void Proxier::ApplyChanges(SyncReport& report) {
  std::vector<FrontendSource::Change> changes = source_->TakeChanges();
  report.services_changed = changes.size();
  // Every removal before any upsert, in each view: an address one Service
  // freed may be taken by another Service's new frontend.
  const Transitions socket = SocketTransitions(changes);
  for (const auto& [frontend, t] : socket) {
    if (t.before && !t.after) Count(reconciler_->Remove(frontend), report.frontends_written, report);
  }
  for (const auto& [frontend, t] : socket) {
    if (t.after && (!t.before || !SameBackends(t.before->backends, t.after->backends))) {
      Count(reconciler_->Upsert(frontend, t.after->backends), report.frontends_written, report);
    }
  }
  if (!external_enabled()) return;
  const Transitions external = ExternalTransitions(changes);
  for (const auto& [frontend, t] : external) {
    if (!t.before || t.after) continue;
    // The frontend first; its policy only once it is gone.
    if (!Count(external_->Remove(frontend), report.frontends_written, report)) continue;
    if (t.before->policy != FrontendPolicy{}) Count(policies_->Remove(frontend), report.policies_written, report);
  }
  for (const auto& [frontend, t] : external) {
    if (!t.after) continue;
    const FrontendPolicy& before_policy = t.before ? t.before->policy : FrontendPolicy{};
    if (t.after->policy != before_policy &&
        !Count(policies_->Upsert(frontend, t.after->policy), report.policies_written, report)) {
      continue;  // Left as it was; the full resync that follows repairs it.
    }
    if (!t.before || !SameBackends(t.before->backends, t.after->backends)) {
      Count(external_->Upsert(frontend, t.after->backends), report.frontends_written, report);
    }
  }
}

}  // namespace bpfproxy
