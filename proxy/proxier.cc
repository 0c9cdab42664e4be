#include "proxy/proxier.h"

#include <algorithm>

#include "absl/container/btree_set.h"
#include "proxy/log.h"

namespace bpfproxy {
namespace {

bool SameBackends(const std::vector<L4Address>& a, const std::vector<L4Address>& b) {
  return absl::btree_set<L4Address>(a.begin(), a.end()) == absl::btree_set<L4Address>(b.begin(), b.end());
}

}  // namespace

Proxier::Proxier(FrontendSource* source, Reconciler* reconciler, ProxierOptions options)
    : source_(source), reconciler_(reconciler), options_(options) {}

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
          << report.frontends_written << " frontends written, " << report.failures << " failed, took "
          << absl::FormatDuration(report.duration);
  if (observer_) observer_(report);
  return report;
}

void Proxier::ApplyFull(SyncReport& report) {
  // Changes first, then the whole state: whatever changes after this is in
  // the next TakeChanges().
  report.services_changed = source_->TakeChanges().size();
  DesiredFrontends all = source_->AllFrontends();
  SyncResult result = reconciler_->Sync(all);
  report.frontends_written = all.size();
  for (const auto& [frontend, status] : result.failed) KLOG(ERROR) << status.message();
  if (!result.prune_status.ok()) KLOG(ERROR) << "Pruning stale entries: " << result.prune_status.message();
  report.failures = result.failed.size() + (result.prune_status.ok() ? 0 : 1);
  if (result.pruned_services + result.pruned_backends > 0) {
    KLOG(INFO) << "Pruned " << result.pruned_services << " stale service entries and " << result.pruned_backends
               << " stale backends";
  }
}

void Proxier::ApplyChanges(SyncReport& report) {
  std::vector<FrontendSource::Change> changes = source_->TakeChanges();
  report.services_changed = changes.size();
  auto apply = [&](absl::Status s) {
    ++report.frontends_written;
    if (s.ok()) return;
    ++report.failures;
    KLOG(ERROR) << s.message();
  };
  // Every removal before any upsert: a ClusterIP one Service freed may be
  // taken by another Service in the same batch, in any order.
  absl::btree_set<L4Address> current;
  for (const FrontendSource::Change& change : changes) {
    for (const auto& [frontend, backends] : change.current) current.insert(frontend);
  }
  for (const FrontendSource::Change& change : changes) {
    for (const auto& [frontend, backends] : change.previous) {
      if (!change.current.contains(frontend) && !current.contains(frontend)) apply(reconciler_->Remove(frontend));
    }
  }
  for (const FrontendSource::Change& change : changes) {
    for (const auto& [frontend, backends] : change.current) {
      auto before = change.previous.find(frontend);
      if (before == change.previous.end() || !SameBackends(before->second, backends)) {
        apply(reconciler_->Upsert(frontend, backends));
      }
    }
  }
}

}  // namespace bpfproxy
