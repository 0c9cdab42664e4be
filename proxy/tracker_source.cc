#include "proxy/tracker_source.h"

#include <algorithm>

#include "bpfproxy/lb_abi.h"

namespace bpfproxy {
namespace {

using Claim = TrackerSource::Claim;
using ClaimsByFrontend = TrackerSource::ClaimsByFrontend;

// "Drop" frontends (internalTrafficPolicy: Local with no local endpoint):
// the socket hooks cannot drop, so they are programmed with no backend and
// refused. That fails fast instead of timing out, and never leaks the
// connection to the network.
DesiredFrontends WithDropsRefused(DesiredFrontends frontends, const absl::btree_set<L4Address>& drop) {
  for (const L4Address& f : drop) frontends.try_emplace(f);
  return frontends;
}

ClaimsByFrontend SocketClaims(DesiredFrontends frontends, const absl::btree_set<L4Address>& drop) {
  ClaimsByFrontend claims;
  for (auto& [f, backends] : WithDropsRefused(std::move(frontends), drop)) claims[f].backends = std::move(backends);
  return claims;
}

ClaimsByFrontend ExternalClaims(ExternalFrontends view) {
  ClaimsByFrontend claims;
  for (auto& [f, backends] : view.frontends) claims[f] = Claim{std::move(backends), view.PolicyOf(f)};
  return claims;
}

}  // namespace

// ---- ClaimTable ----

std::optional<TrackerSource::ClaimTable::Owned> TrackerSource::ClaimTable::Owner(const L4Address& frontend) const {
  auto it = claims_.find(frontend);
  if (it == claims_.end() || it->second.empty()) return std::nullopt;
  const auto& [name, claim] = *it->second.begin();
  return Owned{name, claim};
}

void TrackerSource::ClaimTable::Touch(const L4Address& frontend) {
  if (before_.contains(frontend)) return;
  before_[frontend] = Owner(frontend);
}

void TrackerSource::ClaimTable::Apply(const ServiceName& name, const ClaimsByFrontend& previous,
                                      ClaimsByFrontend current) {
  for (const auto& [f, claim] : previous) {
    Touch(f);
    auto it = claims_.find(f);
    if (it != claims_.end() && it->second.erase(name) > 0 && it->second.empty()) claims_.erase(it);
  }
  for (auto& [f, claim] : current) {
    Touch(f);
    claims_[f][name] = std::move(claim);
  }
}

std::vector<TrackerSource::ClaimTable::Transition> TrackerSource::ClaimTable::TakeTransitions() {
  std::vector<Transition> out;
  for (auto& [f, was] : before_) {
    std::optional<Owned> now = Owner(f);
    if (was == now) continue;
    out.push_back(Transition{f, std::move(was), std::move(now)});
  }
  before_.clear();
  return out;
}

// ---- TrackerSource ----

std::vector<FrontendSource::Change> TrackerSource::TakeChanges() {
  absl::btree_map<ServiceName, FrontendChange> changes;
  {
    absl::MutexLock lock(mu_);
    // The counts go with the changes they describe: taken together.
    taken_.service_changes += tracker_->pending_service_changes();
    taken_.endpoint_changes += tracker_->pending_endpoint_changes();
    std::vector<absl::Time> times = tracker_->TakeTriggerTimes();
    taken_.trigger_times.insert(taken_.trigger_times.end(), times.begin(), times.end());
    changes = tracker_->TakeChanges();
  }
  for (auto& [name, change] : changes) {
    socket_.Apply(name, SocketClaims(std::move(change.previous), change.previous_drop),
                  SocketClaims(std::move(change.current), change.current_drop));
    external_.Apply(name, ExternalClaims(std::move(change.external_previous)),
                    ExternalClaims(std::move(change.external_current)));
  }
  std::vector<Change> out;
  for (ClaimTable::Transition& t : socket_.TakeTransitions()) {
    NoteOwner(LB_VIEW_SOCKET, t);
    if (!t.claim_changed()) continue;
    Change c;
    if (t.before) c.previous[t.frontend] = std::move(t.before->claim.backends);
    if (t.after) c.current[t.frontend] = std::move(t.after->claim.backends);
    out.push_back(std::move(c));
  }
  for (ClaimTable::Transition& t : external_.TakeTransitions()) {
    NoteOwner(LB_VIEW_EXTERNAL, t);
    if (!t.claim_changed()) continue;
    Change c;
    if (t.before) {
      c.external_previous.Set(t.frontend, std::move(t.before->claim.backends), std::move(t.before->claim.policy));
    }
    if (t.after) {
      c.external_current.Set(t.frontend, std::move(t.after->claim.backends), std::move(t.after->claim.policy));
    }
    out.push_back(std::move(c));
  }
  return out;
}

void TrackerSource::NoteOwner(uint8_t view, const ClaimTable::Transition& t) {
  if (!t.owner_changed()) return;
  FrontendOwnerChange change{.view = view, .frontend = t.frontend};
  if (t.after) {
    change.namespace_ = t.after->owner.namespace_;
    change.name = t.after->owner.name;
  }
  taken_.owner_changes.push_back(std::move(change));
}

DesiredFrontends TrackerSource::AllFrontends() {
  ServiceFrontends all;
  {
    absl::MutexLock lock(mu_);
    all = tracker_->AllViews();
  }
  return WithDropsRefused(std::move(all.frontends), all.drop);
}

ExternalFrontends TrackerSource::AllExternalFrontends() {
  absl::MutexLock lock(mu_);
  return tracker_->AllExternalFrontends();
}

TrackerSource::ChangeStats TrackerSource::TakeChangeStats() {
  ChangeStats out = std::move(taken_);
  taken_ = ChangeStats{};
  std::sort(out.trigger_times.begin(), out.trigger_times.end());
  return out;
}

}  // namespace bpfproxy
