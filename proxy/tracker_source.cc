#include "proxy/tracker_source.h"

#include <optional>

namespace bpfproxy {
namespace {

// "Drop" frontends (internalTrafficPolicy: Local with no local endpoint):
// the socket hooks cannot drop, so they are programmed with no backend and
// refused. That fails fast instead of timing out, and never leaks the
// connection to the network.
DesiredFrontends WithDropsRefused(DesiredFrontends frontends, const absl::btree_set<L4Address>& drop) {
  for (const L4Address& f : drop) frontends.try_emplace(f);
  return frontends;
}

}  // namespace

const std::vector<L4Address>* TrackerSource::Owner(const L4Address& frontend) const {
  auto it = claims_.find(frontend);
  if (it == claims_.end() || it->second.empty()) return nullptr;
  return &it->second.begin()->second;
}

std::vector<FrontendSource::Change> TrackerSource::TakeChanges() {
  absl::btree_map<ServiceName, FrontendChange> changes;
  {
    absl::MutexLock lock(mu_);
    changes = tracker_->TakeChanges();
  }
  // The owner of every touched frontend before this batch.
  absl::btree_map<L4Address, std::optional<std::vector<L4Address>>> before;
  auto touch = [&](const L4Address& f) {
    if (before.contains(f)) return;
    const std::vector<L4Address>* owner = Owner(f);
    before[f] = owner ? std::optional(*owner) : std::nullopt;
  };
  for (auto& [name, change] : changes) {
    for (const auto& [f, backends] : WithDropsRefused(std::move(change.previous), change.previous_drop)) {
      touch(f);
      auto it = claims_.find(f);
      if (it != claims_.end() && it->second.erase(name) > 0 && it->second.empty()) claims_.erase(it);
    }
    for (auto& [f, backends] : WithDropsRefused(std::move(change.current), change.current_drop)) {
      touch(f);
      claims_[f][name] = std::move(backends);
    }
  }
  std::vector<Change> out;
  for (const auto& [f, was] : before) {
    const std::vector<L4Address>* now = Owner(f);
    if (was.has_value() == (now != nullptr) && (!now || *was == *now)) continue;
    Change c;
    if (was) c.previous[f] = *was;
    if (now) c.current[f] = *now;
    out.push_back(std::move(c));
  }
  return out;
}

DesiredFrontends TrackerSource::AllFrontends() {
  absl::MutexLock lock(mu_);
  return WithDropsRefused(tracker_->AllFrontends(), tracker_->AllDropFrontends());
}

}  // namespace bpfproxy
