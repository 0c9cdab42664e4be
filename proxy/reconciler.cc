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

// The next unused ID from |next|, wrapping past the 32-bit space and
// skipping 0 and IDs in use.
template <typename InUse>
uint32_t AllocateId(uint32_t& next, const InUse& in_use) {
  uint32_t id = next;
  while (id == 0 || in_use.contains(id)) ++id;
  next = id + 1;
  return id;
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
  std::vector<lb_member_key> members;
  s = maps_->ForEachMember([&](const lb_member_key& k) { members.push_back(k); });
  if (!s.ok()) return s;

  for (const auto& [id, address] : backends) {
    by_id_[id] = Backend{address, 0};
    id_of_.emplace(address, id);  // The lowest ID of an address is the one reused.
  }
  for (const auto& [frontend, slots] : entries) RestoreFrontend(frontend, slots);

  absl::flat_hash_map<uint32_t, AppliedFrontend*> by_service_id;
  for (auto& [frontend, f] : frontends_) by_service_id[f.service_id] = &f;
  for (const lb_member_key& k : members) {
    auto f = by_service_id.find(k.service_id);
    if (f == by_service_id.end() || !by_id_.contains(k.backend_id)) {
      stale_members_.emplace(k.service_id, k.backend_id);
      continue;
    }
    f->second->members.insert(k.backend_id);
    AddRef(k.backend_id);
    ++member_entries_;
  }
  // New IDs start past every ID anything in the maps mentions, valid or
  // not: a stale slot naming backend 7 must never see a new backend 7.
  uint32_t max_backend = backends.empty() ? 0 : backends.rbegin()->first;
  uint32_t max_service = 0;
  for (const auto& [frontend, slots] : entries) {
    for (const auto& [slot, value] : slots) {
      max_backend = std::max(max_backend, value.backend_id);
      max_service = std::max(max_service, value.service_id);
    }
  }
  for (const lb_member_key& k : members) {
    max_backend = std::max(max_backend, k.backend_id);
    max_service = std::max(max_service, k.service_id);
  }
  next_backend_id_ = max_backend + 1;
  next_service_id_ = max_service + 1;
  return absl::OkStatus();
}

void Reconciler::RestoreFrontend(const L4Address& frontend,
                                 const absl::btree_map<uint16_t, lb_service_value>& entries) {
  auto master = entries.find(LB_SLOT_MASTER);
  uint32_t service_id = master == entries.end() ? LB_SERVICE_ID_INVALID : master->second.service_id;
  if (service_id == LB_SERVICE_ID_INVALID || service_ids_.contains(service_id)) {
    // No usable master: nothing of it is visible; all of it is stale.
    for (const auto& [slot, value] : entries) stale_slots_.emplace(frontend, slot);
    return;
  }
  AppliedFrontend& f = frontends_[frontend];
  f.service_id = service_id;
  service_ids_.insert(service_id);
  f.has_master = true;
  f.count = master->second.count;
  ++service_entries_;
  for (const auto& [slot, value] : entries) {
    if (slot == LB_SLOT_MASTER) continue;
    if (slot > f.count || slot != f.slots.size() + 1) {
      stale_slots_.emplace(frontend, slot);
      continue;
    }
    // A slot of another ID, or of an unknown backend, is a hole to rewrite.
    bool valid = value.service_id == service_id && by_id_.contains(value.backend_id);
    uint32_t id = valid ? value.backend_id : LB_BACKEND_ID_INVALID;
    f.slots.push_back(id);
    AddRef(id);
    ++service_entries_;
  }
}

void Reconciler::AddRef(uint32_t id) {
  auto it = by_id_.find(id);
  if (it != by_id_.end()) it->second.refs++;
}

void Reconciler::DropRef(uint32_t id, std::vector<uint32_t>& released) {
  auto it = by_id_.find(id);
  if (it != by_id_.end() && it->second.refs > 0 && --it->second.refs == 0) released.push_back(id);
}

absl::StatusOr<uint32_t> Reconciler::AcquireBackend(const L4Address& backend) {
  auto it = id_of_.find(backend);
  if (it != id_of_.end()) return it->second;
  uint32_t next = next_backend_id_;
  uint32_t id = AllocateId(next, by_id_);
  absl::Status s = maps_->UpdateBackend(id, MakeBackendValue(id, backend));
  if (!s.ok()) return s;
  next_backend_id_ = next;
  by_id_[id] = Backend{backend, 0};
  id_of_[backend] = id;
  return id;
}

absl::Status Reconciler::DeleteUnreferenced(const std::vector<uint32_t>& ids, size_t* deleted) {
  for (uint32_t id : ids) {
    auto it = by_id_.find(id);
    if (it == by_id_.end() || it->second.refs > 0) continue;
    absl::Status s = IgnoreNotFound(maps_->DeleteBackend(id));
    if (!s.ok()) return s;
    auto canonical = id_of_.find(it->second.address);
    if (canonical != id_of_.end() && canonical->second == id) id_of_.erase(canonical);
    by_id_.erase(it);
    if (deleted != nullptr) ++*deleted;
  }
  return absl::OkStatus();
}

absl::Status Reconciler::DeleteReleased(const std::vector<uint32_t>& released, const AddressSet& keep) {
  std::vector<uint32_t> ids;
  for (uint32_t id : released) {
    auto it = by_id_.find(id);
    if (it != by_id_.end() && !keep.contains(it->second.address)) ids.push_back(id);
  }
  return DeleteUnreferenced(ids);
}

std::vector<uint32_t> Reconciler::UnreferencedBackends() const {
  std::vector<uint32_t> ids;
  for (const auto& [id, backend] : by_id_) {
    if (backend.refs == 0) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::Status Reconciler::CheckCapacity(const AppliedFrontend& f, absl::Span<const L4Address> wanted) const {
  auto full = [](absl::string_view map, size_t needed, size_t used, size_t capacity) {
    return absl::ResourceExhaustedError(absl::StrCat("bpf map ", map, " is full: ", needed, " more entries needed, ",
                                                     used, " of ", capacity, " in use"));
  };
  LbMapCapacity cap = maps_->capacity();
  size_t services_used = service_entries_ + stale_slots_.size();
  size_t new_services = (f.has_master ? 0 : 1) + (wanted.size() > f.slots.size() ? wanted.size() - f.slots.size() : 0);
  if (services_used + new_services > cap.services) {
    return full(LB_SERVICES_MAP_NAME, new_services, services_used, cap.services);
  }
  size_t members_used = member_entries_ + stale_members_.size();
  size_t new_members = 0, new_backends = 0;
  for (const L4Address& b : wanted) {
    auto id = id_of_.find(b);
    if (id == id_of_.end()) ++new_backends;
    if (id == id_of_.end() || !f.members.contains(id->second)) ++new_members;
  }
  if (members_used + new_members > cap.services) {
    return full(LB_MEMBERS_MAP_NAME, new_members, members_used, cap.services);
  }
  if (by_id_.size() + new_backends > cap.backends) {
    return full(LB_BACKENDS_MAP_NAME, new_backends, by_id_.size(), cap.backends);
  }
  return absl::OkStatus();
}

absl::Status Reconciler::AddMembers(AppliedFrontend& f, const std::vector<uint32_t>& ids) {
  for (uint32_t id : ids) {
    if (f.members.contains(id)) continue;
    absl::Status s = maps_->UpdateMember(MakeMemberKey(f.service_id, id));
    if (!s.ok()) return s;
    stale_members_.erase({f.service_id, id});  // Claimed: no longer stale.
    f.members.insert(id);
    AddRef(id);
    ++member_entries_;
  }
  return absl::OkStatus();
}

absl::Status Reconciler::DropMembers(AppliedFrontend& f, const absl::flat_hash_set<uint32_t>& keep_ids,
                                     std::vector<uint32_t>& released) {
  for (auto it = f.members.begin(); it != f.members.end();) {
    uint32_t id = *it;
    if (keep_ids.contains(id)) {
      ++it;
      continue;
    }
    absl::Status s = IgnoreNotFound(maps_->DeleteMember(MakeMemberKey(f.service_id, id)));
    if (!s.ok()) return s;
    it = f.members.erase(it);
    DropRef(id, released);
    --member_entries_;
  }
  return absl::OkStatus();
}

absl::Status Reconciler::WriteSlots(const L4Address& frontend, AppliedFrontend& f,
                                    const std::vector<uint32_t>& layout, std::vector<uint32_t>& released) {
  for (size_t i = 0; i < layout.size(); ++i) {
    if (i < f.slots.size() && f.slots[i] == layout[i]) continue;
    auto slot = static_cast<uint16_t>(i + 1);
    absl::Status s = maps_->UpdateService(MakeServiceKey(frontend, slot), MakeSlotValue(f.service_id, layout[i]));
    if (!s.ok()) return s;
    AddRef(layout[i]);
    if (i < f.slots.size()) {
      DropRef(f.slots[i], released);
      f.slots[i] = layout[i];
    } else {
      stale_slots_.erase({frontend, slot});  // Claimed: no longer stale.
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

void Reconciler::ForgetIfEmpty(const L4Address& frontend) {
  auto it = frontends_.find(frontend);
  if (it == frontends_.end()) return;
  const AppliedFrontend& f = it->second;
  if (f.has_master || !f.slots.empty() || !f.members.empty()) return;
  const uint32_t service_id = f.service_id;
  service_ids_.erase(service_id);
  frontends_.erase(it);
  if (id_listener_.released) id_listener_.released(frontend, service_id);
}

std::optional<uint32_t> Reconciler::ServiceIdOf(const L4Address& frontend) const {
  auto it = frontends_.find(frontend);
  if (it == frontends_.end()) return std::nullopt;
  return it->second.service_id;
}

void Reconciler::SetServiceIdListener(ServiceIdListener listener) {
  id_listener_ = std::move(listener);
  if (!id_listener_.assigned) return;
  for (const auto& [frontend, f] : frontends_) id_listener_.assigned(frontend, f.service_id);
}

absl::Status Reconciler::Upsert(const L4Address& frontend, absl::Span<const L4Address> backends) {
  return UpsertInternal(frontend, backends, /*keep=*/{});
}

absl::Status Reconciler::UpsertInternal(const L4Address& frontend, absl::Span<const L4Address> backends,
                                        const AddressSet& keep) {
  absl::StatusOr<std::vector<L4Address>> wanted = WantedBackends(frontend, backends);
  if (!wanted.ok()) return ForFrontend(frontend, wanted.status());
  AppliedFrontend& f = frontends_[frontend];
  if (f.service_id == LB_SERVICE_ID_INVALID) {
    f.service_id = AllocateId(next_service_id_, service_ids_);
    service_ids_.insert(f.service_id);
    if (id_listener_.assigned) id_listener_.assigned(frontend, f.service_id);
  }
  // Every exit path deletes backends that ended up unreferenced, including
  // ones created for this call when a later write failed.
  std::vector<uint32_t> released;
  auto finish = [&](absl::Status status) {
    ForgetIfEmpty(frontend);
    absl::Status cleanup = DeleteReleased(released, keep);
    return ForFrontend(frontend, status.ok() ? cleanup : status);
  };
  if (absl::Status s = CheckCapacity(f, *wanted); !s.ok()) return finish(s);

  std::vector<uint32_t> wanted_ids;  // 1. backends
  for (const L4Address& b : *wanted) {
    absl::StatusOr<uint32_t> id = AcquireBackend(b);
    if (!id.ok()) return finish(id.status());
    wanted_ids.push_back(*id);
    if (by_id_[*id].refs == 0) released.push_back(*id);
  }
  if (absl::Status s = AddMembers(f, wanted_ids); !s.ok()) return finish(s);  // 2. memberships
  std::vector<uint32_t> layout = PlanSlots(f.slots, wanted_ids);
  if (absl::Status s = WriteSlots(frontend, f, layout, released); !s.ok()) return finish(s);  // 3. slots
  auto count = static_cast<uint16_t>(layout.size());
  if (!f.has_master || f.count != count) {  // 4. master
    absl::Status s = maps_->UpdateService(MakeServiceKey(frontend, LB_SLOT_MASTER), MakeMasterValue(f.service_id, count));
    if (!s.ok()) return finish(s);
    stale_slots_.erase({frontend, LB_SLOT_MASTER});
    if (!f.has_master) ++service_entries_;
    f.has_master = true;
    f.count = count;
  }
  if (absl::Status s = DeleteSurplusSlots(frontend, f, count, released); !s.ok()) return finish(s);  // 5.
  absl::flat_hash_set<uint32_t> keep_ids(wanted_ids.begin(), wanted_ids.end());
  return finish(DropMembers(f, keep_ids, released));  // 6. memberships, 7. backends
}

absl::Status Reconciler::Remove(const L4Address& frontend) {
  return RemoveInternal(frontend, /*keep=*/{});
}

absl::Status Reconciler::RemoveInternal(const L4Address& frontend, const AddressSet& keep) {
  auto it = frontends_.find(frontend);
  if (it == frontends_.end()) return absl::OkStatus();
  AppliedFrontend& f = it->second;
  std::vector<uint32_t> released;
  absl::Status s = absl::OkStatus();
  if (f.has_master) {  // Master first: the VIP stops being a Service at once.
    s = IgnoreNotFound(maps_->DeleteService(MakeServiceKey(frontend, LB_SLOT_MASTER)));
    if (s.ok()) {
      f.has_master = false;
      f.count = 0;
      --service_entries_;
    }
  }
  if (s.ok()) s = DeleteSurplusSlots(frontend, f, 0, released);
  if (s.ok()) s = DropMembers(f, {}, released);
  ForgetIfEmpty(frontend);
  absl::Status cleanup = DeleteReleased(released, keep);
  return ForFrontend(frontend, s.ok() ? cleanup : s);
}

void Reconciler::PruneStale(const AddressSet& wanted, SyncResult& result) {
  for (auto it = stale_slots_.begin(); it != stale_slots_.end();) {
    absl::Status s = IgnoreNotFound(maps_->DeleteService(MakeServiceKey(it->first, it->second)));
    if (!s.ok()) {
      result.prune_status.Update(s);
      ++it;
      continue;
    }
    ++result.pruned_services;
    it = stale_slots_.erase(it);
  }
  for (auto it = stale_members_.begin(); it != stale_members_.end();) {
    absl::Status s = IgnoreNotFound(maps_->DeleteMember(MakeMemberKey(it->first, it->second)));
    if (!s.ok()) {
      result.prune_status.Update(s);
      ++it;
      continue;
    }
    it = stale_members_.erase(it);
  }
  // A backend some desired frontend wants stays: it keeps its ID.
  std::vector<uint32_t> unwanted;
  for (uint32_t id : UnreferencedBackends()) {
    if (!wanted.contains(by_id_[id].address)) unwanted.push_back(id);
  }
  result.prune_status.Update(DeleteUnreferenced(unwanted, &result.pruned_backends));
}

SyncResult Reconciler::Sync(const DesiredFrontends& desired) {
  SyncResult result;
  // A backend that moves between frontends keeps its entry and ID.
  AddressSet wanted;
  for (const auto& [frontend, backends] : desired) wanted.insert(backends.begin(), backends.end());
  PruneStale(wanted, result);  // First: stale entries only take space the writes may need.

  std::vector<L4Address> undesired;
  for (const auto& [frontend, f] : frontends_) {
    if (!desired.contains(frontend)) undesired.push_back(frontend);
  }
  for (const L4Address& frontend : undesired) {
    const AppliedFrontend& f = frontends_[frontend];
    size_t entries = (f.has_master ? 1 : 0) + f.slots.size();
    absl::Status s = RemoveInternal(frontend, wanted);
    if (s.ok()) {
      result.pruned_services += entries;
    } else {
      result.failed.emplace(frontend, std::move(s));
    }
  }
  // Frontends that shrink before those that grow, so space freed by one is
  // there for the other.
  for (bool growing : {false, true}) {
    for (const auto& [frontend, backends] : desired) {
      auto f = frontends_.find(frontend);
      size_t now = f == frontends_.end() ? 0 : f->second.slots.size();
      size_t distinct = AddressSet(backends.begin(), backends.end()).size();
      if ((distinct > now) != growing) continue;
      absl::Status s = UpsertInternal(frontend, backends, wanted);
      if (!s.ok()) result.failed.emplace(frontend, std::move(s));
    }
  }
  // Backends released above, unless another frontend took them over.
  result.prune_status.Update(DeleteUnreferenced(UnreferencedBackends()));
  return result;
}

DesiredFrontends Reconciler::Applied() const {
  DesiredFrontends out;
  for (const auto& [frontend, f] : frontends_) {
    if (!f.has_master) continue;
    std::vector<L4Address>& backends = out[frontend];
    for (size_t i = 0; i < f.count && i < f.slots.size(); ++i) {
      auto it = by_id_.find(f.slots[i]);
      if (it != by_id_.end()) backends.push_back(it->second.address);
    }
  }
  return out;
}

}  // namespace bpfproxy
