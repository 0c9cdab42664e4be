#include "proxy/reconciler.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace bpfproxy {
namespace {

absl::Status ForFrontend(const L4Address& frontend, const absl::Status& s) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat("service ", frontend.ToString(), ": ", s.message()));
}

// A delete of an entry that is already gone reached its goal.
absl::Status IgnoreNotFound(absl::Status s) { return absl::IsNotFound(s) ? absl::OkStatus() : s; }

// Validates and de-duplicates |backends|, keeping first occurrences.
absl::StatusOr<std::vector<L4Address>> WantedBackends(const L4Address& frontend,
                                                      absl::Span<const L4Address> backends) {
  std::vector<L4Address> wanted;
  absl::flat_hash_set<L4Address> seen;
  for (const L4Address& b : backends) {
    if (b.proto != frontend.proto || b.ip.is_v4() != frontend.ip.is_v4()) {
      return absl::InvalidArgumentError(
          absl::StrCat("backend ", b.ToString(), " does not match the frontend's protocol and IP family"));
    }
    if (seen.insert(b).second) wanted.push_back(b);
  }
  if (wanted.size() > LB_MAX_BACKENDS_PER_SERVICE) {
    return absl::InvalidArgumentError(
        absl::StrCat(wanted.size(), " backends, more than the ", LB_MAX_BACKENDS_PER_SERVICE, " a service can hold"));
  }
  return wanted;
}

// New slot layout: backends that stay keep their slot, new ones fill the
// holes of removed ones first, then go at the end; remaining holes are filled
// by moving the last slot in. ID 0 marks a hole.
std::vector<uint32_t> PlanSlots(const std::vector<uint32_t>& old, const std::vector<uint32_t>& wanted) {
  absl::flat_hash_set<uint32_t> wanted_set(wanted.begin(), wanted.end());
  absl::flat_hash_set<uint32_t> kept;
  std::vector<uint32_t> layout = old;
  for (uint32_t& id : layout) {
    if (id != LB_BACKEND_ID_INVALID && wanted_set.contains(id) && kept.insert(id).second) continue;
    id = LB_BACKEND_ID_INVALID;
  }
  auto next_new = wanted.begin();
  auto advance = [&] {
    while (next_new != wanted.end() && kept.contains(*next_new)) ++next_new;
  };
  for (uint32_t& id : layout) {
    advance();
    if (id == LB_BACKEND_ID_INVALID && next_new != wanted.end()) id = *next_new++;
  }
  for (advance(); next_new != wanted.end(); advance()) layout.push_back(*next_new++);
  for (size_t i = 0; i < layout.size(); ++i) {
    if (layout[i] != LB_BACKEND_ID_INVALID) continue;
    while (!layout.empty() && layout.back() == LB_BACKEND_ID_INVALID) layout.pop_back();
    if (i >= layout.size()) break;
    layout[i] = layout.back();
    layout.pop_back();
  }
  return layout;
}

lb_service_value SlotValue(uint32_t backend_id) {
  lb_service_value v{};
  v.backend_id = backend_id;
  return v;
}

lb_service_value MasterValue(uint16_t count) {
  lb_service_value v{};
  v.count = count;
  v.flags = LB_SVC_F_NONE;
  return v;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Reconciler>> Reconciler::Create(LbMaps* maps) {
  std::unique_ptr<Reconciler> r(new Reconciler(maps));
  absl::Status s = r->Restore();
  if (!s.ok()) return s;
  return r;
}

absl::Status Reconciler::Restore() {
  absl::btree_map<uint32_t, L4Address> backends;
  absl::Status s = maps_->ForEachBackend(
      [&](uint32_t id, const lb_backend_value& v) { backends.emplace(id, AddressOf(v)); });
  if (!s.ok()) return s;
  absl::btree_map<L4Address, absl::btree_map<uint16_t, lb_service_value>> entries;
  s = maps_->ForEachService(
      [&](const lb_service_key& k, const lb_service_value& v) { entries[FrontendOf(k)].emplace(k.slot, v); });
  if (!s.ok()) return s;

  for (const auto& [id, address] : backends) {
    // Two IDs for one address can only come from a foreign writer: keep the
    // first, the other is referenced by nobody we know and gets pruned.
    if (backends_.contains(address)) continue;
    backends_[address] = BackendRef{id, 0};
    backend_by_id_[id] = address;
  }
  for (const auto& [frontend, slots] : entries) {
    AppliedFrontend& f = frontends_[frontend];
    for (const auto& [slot, value] : slots) {
      if (slot == LB_SLOT_MASTER) {
        f.has_master = true;
        f.count = value.count;
      } else if (slot == f.slots.size() + 1) {
        uint32_t id = backend_by_id_.contains(value.backend_id) ? value.backend_id : LB_BACKEND_ID_INVALID;
        f.slots.push_back(id);
        AddRef(id);
      } else {
        stale_slots_.push_back(MakeServiceKey(frontend, slot));
        continue;
      }
      ++service_entries_;
    }
  }
  uint32_t max_id = backends.empty() ? 0 : backends.rbegin()->first;
  next_id_ = max_id + 1;
  for (uint32_t id = 1; id < next_id_; ++id) {
    if (!backends.contains(id)) free_ids_.insert(id);
  }
  // Duplicate-address backends keep their IDs reserved until Sync prunes them.
  for (const auto& [id, address] : backends) backend_by_id_.emplace(id, address);
  return absl::OkStatus();
}

uint32_t Reconciler::AllocateId() {
  if (!free_ids_.empty()) {
    uint32_t id = *free_ids_.begin();
    free_ids_.erase(free_ids_.begin());
    return id;
  }
  return next_id_++;
}

void Reconciler::AddRef(uint32_t id) {
  if (id == LB_BACKEND_ID_INVALID) return;
  auto it = backend_by_id_.find(id);
  if (it != backend_by_id_.end()) backends_[it->second].refs++;
}

void Reconciler::DropRef(uint32_t id, std::vector<uint32_t>& released) {
  if (id == LB_BACKEND_ID_INVALID) return;
  auto it = backend_by_id_.find(id);
  if (it == backend_by_id_.end()) return;
  BackendRef& ref = backends_[it->second];
  if (ref.refs > 0 && --ref.refs == 0) released.push_back(id);
}

absl::StatusOr<uint32_t> Reconciler::AcquireBackend(const L4Address& backend) {
  auto it = backends_.find(backend);
  if (it != backends_.end()) return it->second.id;
  uint32_t id = AllocateId();
  absl::Status s = maps_->UpdateBackend(id, MakeBackendValue(backend));
  if (!s.ok()) {
    free_ids_.insert(id);
    return s;
  }
  backends_[backend] = BackendRef{id, 0};
  backend_by_id_[id] = backend;
  return id;
}

absl::Status Reconciler::DeleteUnreferenced(const std::vector<uint32_t>& ids, size_t* deleted) {
  for (uint32_t id : ids) {
    auto it = backend_by_id_.find(id);
    if (it == backend_by_id_.end()) continue;
    auto ref = backends_.find(it->second);
    bool owned = ref != backends_.end() && ref->second.id == id;
    if (owned && ref->second.refs > 0) continue;
    absl::Status s = IgnoreNotFound(maps_->DeleteBackend(id));
    if (!s.ok()) return s;
    if (owned) backends_.erase(ref);
    backend_by_id_.erase(it);
    free_ids_.insert(id);
    if (deleted != nullptr) ++*deleted;
  }
  return absl::OkStatus();
}

absl::Status Reconciler::CheckCapacity(const AppliedFrontend& f, absl::Span<const L4Address> wanted) const {
  LbMapCapacity cap = maps_->capacity();
  size_t new_services = (f.has_master ? 0 : 1) + (wanted.size() > f.slots.size() ? wanted.size() - f.slots.size() : 0);
  if (service_entries_ + stale_slots_.size() + new_services > cap.services) {
    return absl::ResourceExhaustedError(absl::StrCat("bpf map ", LB_SERVICES_MAP_NAME, " is full: ", new_services,
                                                     " more entries needed, ", cap.services - service_entries_,
                                                     " of ", cap.services, " free"));
  }
  size_t new_backends = std::count_if(wanted.begin(), wanted.end(), [&](const L4Address& b) {
    return !backends_.contains(b);
  });
  if (backend_by_id_.size() + new_backends > cap.backends) {
    return absl::ResourceExhaustedError(absl::StrCat("bpf map ", LB_BACKENDS_MAP_NAME, " is full: ", new_backends,
                                                     " more entries needed, ", cap.backends - backend_by_id_.size(),
                                                     " of ", cap.backends, " free"));
  }
  return absl::OkStatus();
}

absl::Status Reconciler::WriteSlots(const L4Address& frontend, AppliedFrontend& f,
                                    const std::vector<uint32_t>& layout, std::vector<uint32_t>& released) {
  for (size_t i = 0; i < layout.size(); ++i) {
    if (i < f.slots.size() && f.slots[i] == layout[i]) continue;
    absl::Status s = maps_->UpdateService(MakeServiceKey(frontend, i + 1), SlotValue(layout[i]));
    if (!s.ok()) return s;
    AddRef(layout[i]);
    if (i < f.slots.size()) {
      DropRef(f.slots[i], released);
      f.slots[i] = layout[i];
    } else {
      f.slots.push_back(layout[i]);
      ++service_entries_;
    }
  }
  return absl::OkStatus();
}

absl::Status Reconciler::DeleteSurplusSlots(const L4Address& frontend, AppliedFrontend& f, size_t keep,
                                            std::vector<uint32_t>& released) {
  while (f.slots.size() > keep) {
    absl::Status s = IgnoreNotFound(maps_->DeleteService(MakeServiceKey(frontend, f.slots.size())));
    if (!s.ok()) return s;
    DropRef(f.slots.back(), released);
    f.slots.pop_back();
    --service_entries_;
  }
  return absl::OkStatus();
}

absl::Status Reconciler::Upsert(const L4Address& frontend, absl::Span<const L4Address> backends) {
  absl::StatusOr<std::vector<L4Address>> wanted = WantedBackends(frontend, backends);
  if (!wanted.ok()) return ForFrontend(frontend, wanted.status());
  AppliedFrontend& f = frontends_[frontend];
  absl::Status s = CheckCapacity(f, *wanted);
  if (!s.ok()) {
    if (!f.has_master && f.slots.empty()) frontends_.erase(frontend);
    return ForFrontend(frontend, s);
  }

  // Every exit path below deletes backends that ended up unreferenced,
  // including ones created for this call when a later write failed.
  std::vector<uint32_t> released;
  auto finish = [&](absl::Status status) {
    absl::Status cleanup = DeleteUnreferenced(released);
    if (!f.has_master && f.slots.empty()) frontends_.erase(frontend);
    return ForFrontend(frontend, status.ok() ? cleanup : status);
  };

  std::vector<uint32_t> wanted_ids;  // 1. backends
  for (const L4Address& b : *wanted) {
    absl::StatusOr<uint32_t> id = AcquireBackend(b);
    if (!id.ok()) return finish(id.status());
    wanted_ids.push_back(*id);
    if (backends_[b].refs == 0) released.push_back(*id);
  }
  std::vector<uint32_t> layout = PlanSlots(f.slots, wanted_ids);
  s = WriteSlots(frontend, f, layout, released);  // 2. slots
  if (!s.ok()) return finish(s);
  auto count = static_cast<uint16_t>(layout.size());
  if (!f.has_master || f.count != count) {  // 3. master
    s = maps_->UpdateService(MakeServiceKey(frontend, LB_SLOT_MASTER), MasterValue(count));
    if (!s.ok()) return finish(s);
    if (!f.has_master) ++service_entries_;
    f.has_master = true;
    f.count = count;
  }
  return finish(DeleteSurplusSlots(frontend, f, count, released));  // 4. surplus, 5. backends
}

absl::Status Reconciler::Remove(const L4Address& frontend) {
  auto it = frontends_.find(frontend);
  if (it == frontends_.end()) return absl::OkStatus();
  AppliedFrontend& f = it->second;
  if (f.has_master) {  // Master first: the VIP stops being a Service at once.
    absl::Status s = IgnoreNotFound(maps_->DeleteService(MakeServiceKey(frontend, LB_SLOT_MASTER)));
    if (!s.ok()) return ForFrontend(frontend, s);
    f.has_master = false;
    f.count = 0;
    --service_entries_;
  }
  std::vector<uint32_t> released;
  absl::Status s = DeleteSurplusSlots(frontend, f, 0, released);
  if (s.ok()) frontends_.erase(it);
  absl::Status cleanup = DeleteUnreferenced(released);
  return ForFrontend(frontend, s.ok() ? cleanup : s);
}

SyncResult Reconciler::Sync(const DesiredFrontends& desired) {
  SyncResult result;
  // Orphan slots first: they only take space the upserts may need.
  std::vector<lb_service_key> still_stale;
  for (const lb_service_key& key : stale_slots_) {
    if (IgnoreNotFound(maps_->DeleteService(key)).ok()) {
      ++result.pruned_services;
    } else {
      still_stale.push_back(key);
    }
  }
  stale_slots_ = std::move(still_stale);

  for (const auto& [frontend, backends] : desired) {
    absl::Status s = Upsert(frontend, backends);
    if (!s.ok()) result.failed.emplace(frontend, std::move(s));
  }
  std::vector<L4Address> undesired;
  for (const auto& [frontend, f] : frontends_) {
    if (!desired.contains(frontend)) undesired.push_back(frontend);
  }
  for (const L4Address& frontend : undesired) {
    const AppliedFrontend& f = frontends_[frontend];
    size_t entries = (f.has_master ? 1 : 0) + f.slots.size();
    absl::Status s = Remove(frontend);
    if (s.ok()) {
      result.pruned_services += entries;
    } else {
      result.failed.emplace(frontend, std::move(s));
    }
  }
  std::vector<uint32_t> unreferenced;
  for (const auto& [id, address] : backend_by_id_) {
    auto ref = backends_.find(address);
    if (ref == backends_.end() || ref->second.id != id || ref->second.refs == 0) unreferenced.push_back(id);
  }
  std::sort(unreferenced.begin(), unreferenced.end());
  absl::Status s = DeleteUnreferenced(unreferenced, &result.pruned_backends);
  if (!s.ok()) result.failed.emplace(L4Address{}, std::move(s));
  return result;
}

DesiredFrontends Reconciler::Applied() const {
  DesiredFrontends out;
  for (const auto& [frontend, f] : frontends_) {
    if (!f.has_master) continue;
    std::vector<L4Address>& backends = out[frontend];
    for (size_t i = 0; i < f.count && i < f.slots.size(); ++i) {
      auto it = backend_by_id_.find(f.slots[i]);
      if (it != backend_by_id_.end()) backends.push_back(it->second);
    }
  }
  return out;
}

}  // namespace bpfproxy
