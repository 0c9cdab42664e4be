#include "tests/proxy/lb_maps_checks.h"

#include <tuple>
#include <utility>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bpfproxy {

namespace {

// The maps' entries, decoded.
struct MapEntries {
  absl::btree_map<L4Address, lb_service_value> masters;
  absl::btree_map<std::tuple<L4Address, uint16_t>, lb_service_value> slots;  // Slots 1 and up.
  absl::btree_map<uint32_t, lb_backend_value> backends;
  absl::btree_set<std::pair<uint32_t, uint32_t>> members;  // (service ID, backend ID)
};

absl::StatusOr<MapEntries> ReadEntries(const LbMaps& maps) {
  MapEntries entries;
  absl::Status s = maps.ForEachService([&](const lb_service_key& key, const lb_service_value& value) {
    if (key.slot == LB_SLOT_MASTER) {
      entries.masters[FrontendOf(key)] = value;
    } else {
      entries.slots[{FrontendOf(key), key.slot}] = value;
    }
  });
  if (!s.ok()) return s;
  s = maps.ForEachBackend([&](uint32_t id, const lb_backend_value& value) { entries.backends[id] = value; });
  if (!s.ok()) return s;
  s = maps.ForEachMember([&](const lb_member_key& key) { entries.members.emplace(key.service_id, key.backend_id); });
  if (!s.ok()) return s;
  return entries;
}

std::string SlotName(const L4Address& frontend, uint16_t slot) { return absl::StrCat(frontend.ToString(), "#", slot); }

// Two masters with one service ID would share memberships.
void CheckServiceIdsUnique(const MapEntries& entries, std::vector<std::string>& problems) {
  absl::flat_hash_map<uint32_t, L4Address> owner;
  for (const auto& [frontend, master] : entries.masters) {
    auto [it, inserted] = owner.emplace(master.service_id, frontend);
    if (!inserted) {
      problems.push_back(
          absl::StrCat(frontend.ToString(), " and ", it->second.ToString(), " share service ID ", master.service_id));
    }
  }
}

// The datapath rejects a backend whose value carries another ID.
void CheckBackendIds(const MapEntries& entries, std::vector<std::string>& problems) {
  for (const auto& [id, value] : entries.backends) {
    if (value.id != id) problems.push_back(absl::StrCat("backend ", id, " carries id=", value.id));
  }
}

// Slots 1..count of every master: what a connect can pick.
void CheckVisibleSlots(const MapEntries& entries, std::vector<std::string>& problems) {
  for (const auto& [frontend, master] : entries.masters) {
    for (uint16_t slot = 1; slot <= master.count && slot != 0; ++slot) {
      auto it = entries.slots.find({frontend, slot});
      if (it == entries.slots.end()) {
        problems.push_back(absl::StrCat(SlotName(frontend, slot), " missing (count=", master.count, ")"));
        continue;
      }
      const lb_service_value& value = it->second;
      if (value.service_id != master.service_id) {
        problems.push_back(absl::StrCat(SlotName(frontend, slot), " has service ID ", value.service_id, ", its master ",
                                        master.service_id));
      }
      if (value.backend_id == LB_BACKEND_ID_INVALID || !entries.backends.contains(value.backend_id)) {
        problems.push_back(absl::StrCat(SlotName(frontend, slot), " -> missing backend ", value.backend_id));
      } else if (!entries.members.contains({master.service_id, value.backend_id})) {
        problems.push_back(absl::StrCat(SlotName(frontend, slot), " -> backend ", value.backend_id,
                                        ", not a member of service ID ", master.service_id));
      }
    }
  }
}

// A sticky UDP socket goes to a member without looking at the slots.
void CheckMemberBackends(const MapEntries& entries, std::vector<std::string>& problems) {
  for (const auto& [service_id, backend_id] : entries.members) {
    if (!entries.backends.contains(backend_id)) {
      problems.push_back(absl::StrCat("member svc ", service_id, " -> missing backend ", backend_id));
    }
  }
}

std::vector<std::string> DatapathProblems(const MapEntries& entries) {
  std::vector<std::string> problems;
  CheckServiceIdsUnique(entries, problems);
  CheckBackendIds(entries, problems);
  CheckVisibleSlots(entries, problems);
  CheckMemberBackends(entries, problems);
  return problems;
}

// What the maps serve, per frontend with a master: the backends of slots
// 1..count and the member backends, each sorted.
struct HeldState {
  FrontendSets slots;
  FrontendSets members;
  absl::btree_set<uint32_t> referenced;  // Backend IDs of slots and memberships.
};

// Sorts |list|; a backend in it twice is a problem.
void SortUnique(std::vector<L4Address>& list, std::vector<std::string>& problems, const L4Address& frontend,
                absl::string_view what) {
  absl::btree_set<L4Address> set(list.begin(), list.end());
  if (set.size() != list.size())
    problems.push_back(absl::StrCat(frontend.ToString(), " has a backend twice in ", what));
  list.assign(set.begin(), set.end());
}

// Slots and memberships that no master accounts for are |problems|.
HeldState ReadHeld(const MapEntries& entries, std::vector<std::string>& problems) {
  HeldState held;
  absl::flat_hash_map<uint32_t, L4Address> frontend_of;
  for (const auto& [frontend, master] : entries.masters) {
    frontend_of.emplace(master.service_id, frontend);
    held.slots[frontend];
    held.members[frontend];
  }
  for (const auto& [key, value] : entries.slots) {
    const auto& [frontend, slot] = key;
    held.referenced.insert(value.backend_id);
    auto master = entries.masters.find(frontend);
    if (master == entries.masters.end() || slot > master->second.count) {
      problems.push_back(absl::StrCat("extra slot ", SlotName(frontend, slot)));
    } else if (auto backend = entries.backends.find(value.backend_id); backend != entries.backends.end()) {
      held.slots[frontend].push_back(AddressOf(backend->second));
    }
  }
  for (const auto& [service_id, backend_id] : entries.members) {
    held.referenced.insert(backend_id);
    auto frontend = frontend_of.find(service_id);
    if (frontend == frontend_of.end()) {
      problems.push_back(absl::StrCat("member of service ID ", service_id, " that no master has"));
    } else if (auto backend = entries.backends.find(backend_id); backend != entries.backends.end()) {
      held.members[frontend->second].push_back(AddressOf(backend->second));
    }
  }
  for (auto& [frontend, list] : held.slots) SortUnique(list, problems, frontend, "its slots");
  for (auto& [frontend, list] : held.members) SortUnique(list, problems, frontend, "its members");
  return held;
}

std::string SetsDiff(const FrontendSets& held, const FrontendSets& want) {
  std::vector<std::string> diff;
  for (const auto& [frontend, list] : held) {
    auto it = want.find(frontend);
    if (it == want.end() || it->second != list)
      diff.push_back(absl::StrCat("unexpected/different ", frontend.ToString()));
  }
  for (const auto& [frontend, list] : want) {
    if (!held.contains(frontend)) diff.push_back(absl::StrCat("missing ", frontend.ToString()));
  }
  return absl::StrJoin(diff, ", ");
}

// A failed check: |problems|, then the maps' dump so the failure shows them.
::testing::AssertionResult FailureWithDump(const LbMaps& maps, absl::string_view problems) {
  auto dump = DumpLines(maps);
  return ::testing::AssertionFailure() << problems << "\nmaps:\n  "
                                       << (dump.ok() ? absl::StrJoin(*dump, "\n  ") : dump.status().ToString());
}

}  // namespace

std::vector<std::string> Dump(const LbMaps& maps) {
  auto lines = DumpLines(maps);
  EXPECT_TRUE(lines.ok()) << lines.status();
  return lines.ok() ? *lines : std::vector<std::string>{};
}

FrontendSets AsSets(const DesiredFrontends& frontends) {
  FrontendSets out;
  for (const auto& [frontend, backends] : frontends) {
    absl::btree_set<L4Address> set(backends.begin(), backends.end());
    out[frontend].assign(set.begin(), set.end());
  }
  return out;
}

::testing::AssertionResult SlotsResolve(const LbMaps& maps) {
  absl::StatusOr<MapEntries> entries = ReadEntries(maps);
  if (!entries.ok()) return ::testing::AssertionFailure() << entries.status();
  std::vector<std::string> problems = DatapathProblems(*entries);
  if (problems.empty()) return ::testing::AssertionSuccess();
  return FailureWithDump(maps, absl::StrCat("dangling entries: ", absl::StrJoin(problems, ", ")));
}

::testing::AssertionResult MapsHold(const LbMaps& maps, const DesiredFrontends& desired) {
  absl::StatusOr<MapEntries> entries = ReadEntries(maps);
  if (!entries.ok()) return ::testing::AssertionFailure() << entries.status();
  std::vector<std::string> problems = DatapathProblems(*entries);
  HeldState held = ReadHeld(*entries, problems);
  for (const auto& [frontend, master] : entries->masters) {
    if (held.slots[frontend].size() != master.count) {
      problems.push_back(absl::StrCat(frontend.ToString(), " count=", master.count, " but ",
                                      held.slots[frontend].size(), " distinct backends in its slots"));
    }
  }
  if (held.members != held.slots) {
    problems.push_back(absl::StrCat("memberships differ from slots: ", SetsDiff(held.members, held.slots)));
  }
  for (const auto& [id, value] : entries->backends) {
    if (!held.referenced.contains(id)) {
      problems.push_back(absl::StrCat("unreferenced backend ", id, " ", AddressOf(value).ToString()));
    }
  }
  FrontendSets want = AsSets(desired);
  if (held.slots != want) problems.push_back(SetsDiff(held.slots, want));
  if (problems.empty()) return ::testing::AssertionSuccess();
  return FailureWithDump(maps, absl::StrJoin(problems, "; "));
}

absl::Status WatchedLbMaps::Watch(absl::string_view op, absl::Status status) {
  ++writes_;
  if (check_each_write_) {
    EXPECT_TRUE(SlotsResolve(inner_)) << "after " << op << " (" << (status.ok() ? "ok" : status.ToString()) << ")";
  }
  return status;
}

absl::Status WatchedLbMaps::UpdateService(const lb_service_key& key, const lb_service_value& value) {
  return Watch(absl::StrCat("update svc ", ServiceKeyString(key)), inner_.UpdateService(key, value));
}

absl::Status WatchedLbMaps::DeleteService(const lb_service_key& key) {
  return Watch(absl::StrCat("delete svc ", ServiceKeyString(key)), inner_.DeleteService(key));
}

absl::Status WatchedLbMaps::UpdateBackend(uint32_t id, const lb_backend_value& value) {
  return Watch(absl::StrCat("update be ", id), inner_.UpdateBackend(id, value));
}

absl::Status WatchedLbMaps::DeleteBackend(uint32_t id) {
  return Watch(absl::StrCat("delete be ", id), inner_.DeleteBackend(id));
}

absl::Status WatchedLbMaps::UpdateMember(const lb_member_key& key) {
  return Watch(absl::StrCat("update member ", MemberKeyString(key)), inner_.UpdateMember(key));
}

absl::Status WatchedLbMaps::DeleteMember(const lb_member_key& key) {
  return Watch(absl::StrCat("delete member ", MemberKeyString(key)), inner_.DeleteMember(key));
}

}  // namespace bpfproxy
