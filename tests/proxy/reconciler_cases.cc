#include "tests/proxy/reconciler_cases.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <tuple>
#include <utility>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bpfproxy {

namespace {

std::string FailedString(const SyncResult& result) {
  std::vector<std::string> parts;
  for (const auto& [frontend, status] : result.failed) {
    parts.push_back(absl::StrCat(frontend.ToString(), ": ", status.ToString()));
  }
  return absl::StrJoin(parts, "; ");
}

// A Reconciler restarted on |maps| must see |desired| as applied and find
// nothing to write.
void CheckRestart(WatchedLbMaps& maps, const DesiredFrontends& desired, const std::vector<std::string>& dump) {
  auto restarted = Reconciler::Create(&maps);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_EQ(AsSets((*restarted)->Applied()), AsSets(desired)) << "restarted reconciler's applied state";
  size_t writes_before = maps.writes();
  SyncResult result = (*restarted)->Sync(desired);
  EXPECT_TRUE(result.ok()) << "resync after restart: " << FailedString(result);
  EXPECT_EQ(result.pruned_services, 0u);
  EXPECT_EQ(result.pruned_backends, 0u);
  EXPECT_EQ(maps.writes() - writes_before, 0u) << "resync after restart wrote to the maps";
  EXPECT_EQ(Dump(maps), dump) << "resync after restart changed the maps";
}

// The golden lines of one frontend with backends in slots 1..n: slot i holds
// backend ID ids[i-1].
std::vector<std::string> ServiceLines(absl::string_view frontend, const std::vector<uint32_t>& ids) {
  std::vector<std::string> lines = {absl::StrCat("svc ", frontend, " #0 count=", ids.size(), " flags=0")};
  for (size_t i = 0; i < ids.size(); ++i) {
    lines.push_back(absl::StrCat("svc ", frontend, " #", i + 1, " backend=", ids[i]));
  }
  return lines;
}

std::vector<std::string> Concat(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// The golden first steps several cases build on: kSvcA on kE1, kE2 (IDs 1
// and 2) or on kE1, kE2, kE3 (IDs 1 to 3), written into empty maps.
std::vector<std::string> TwoBackendsDump() {
  return {
      "svc 10.96.0.1:80/TCP #0 count=2 flags=0",
      "svc 10.96.0.1:80/TCP #1 backend=1",
      "svc 10.96.0.1:80/TCP #2 backend=2",
      "be 1 10.244.0.1:8080/TCP",
      "be 2 10.244.0.2:8080/TCP",
  };
}

std::vector<std::string> ThreeBackendsDump() {
  return {
      "svc 10.96.0.1:80/TCP #0 count=3 flags=0",
      "svc 10.96.0.1:80/TCP #1 backend=1",
      "svc 10.96.0.1:80/TCP #2 backend=2",
      "svc 10.96.0.1:80/TCP #3 backend=3",
      "be 1 10.244.0.1:8080/TCP",
      "be 2 10.244.0.2:8080/TCP",
      "be 3 10.244.0.3:8080/TCP",
  };
}

ReconcilerStep TwoBackendsStep(std::string what) {
  return {std::move(what), Desired({{kSvcA, {kE1, kE2}}}), TwoBackendsDump(), 5};
}

ReconcilerStep ThreeBackendsStep() {
  return {"three backends", Desired({{kSvcA, {kE1, kE2, kE3}}}), ThreeBackendsDump(), 7};
}

ReconcilerCase AddService() {
  return {"add_service",
          {
              TwoBackendsStep("first service with two backends"),
              {"second service gets the next ID, first untouched",
               Desired({{kSvcA, {kE1, kE2}}, {kSvcB, {kE3}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 count=2 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:80/TCP #2 backend=2",
                   "svc 10.96.0.2:80/TCP #0 count=1 flags=0",
                   "svc 10.96.0.2:80/TCP #1 backend=3",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 2 10.244.0.2:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
               },
               3},
          }};
}

ReconcilerCase Grow() {
  return {"grow",
          {
              TwoBackendsStep("two backends"),
              {"four backends: existing slots keep theirs, new ones append",
               Desired({{kSvcA, {kE3, kE1, kE4, kE2}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 count=4 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:80/TCP #2 backend=2",
                   "svc 10.96.0.1:80/TCP #3 backend=3",
                   "svc 10.96.0.1:80/TCP #4 backend=4",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 2 10.244.0.2:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
                   "be 4 10.244.0.4:8080/TCP",
               },
               5},  // 2 backends, 2 slots, master.
          }};
}

ReconcilerCase Shrink() {
  return {"shrink",
          {
              ThreeBackendsStep(),
              {"middle backend removed: last slot fills the hole",
               Desired({{kSvcA, {kE1, kE3}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 count=2 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:80/TCP #2 backend=3",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
               },
               4},  // slot 2, master, delete slot 3, delete backend 2.
              {"new backend reuses the freed ID",
               Desired({{kSvcA, {kE1, kE3, kE4}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 count=3 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:80/TCP #2 backend=3",
                   "svc 10.96.0.1:80/TCP #3 backend=2",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 2 10.244.0.4:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
               },
               3},
              {"first backend removed: last slot fills the hole",
               Desired({{kSvcA, {kE3, kE4}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 count=2 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=2",
                   "svc 10.96.0.1:80/TCP #2 backend=3",
                   "be 2 10.244.0.4:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
               },
               4},
          }};
}

ReconcilerCase HoleFilledByNewBackend() {
  return {"hole_filled_by_new_backend",
          {
              ThreeBackendsStep(),
              {"middle backend swapped: the new one takes its slot and a new ID",
               Desired({{kSvcA, {kE1, kE4, kE3}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 count=3 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:80/TCP #2 backend=4",
                   "svc 10.96.0.1:80/TCP #3 backend=3",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
                   "be 4 10.244.0.4:8080/TCP",
               },
               std::nullopt},
          }};
}

ReconcilerCase Reorder() {
  return {"reorder",
          {
              ThreeBackendsStep(),
              {"same set in another order writes nothing", Desired({{kSvcA, {kE3, kE1, kE2}}}), ThreeBackendsDump(), 0},
          }};
}

ReconcilerCase Duplicates() {
  return {
      "duplicates",
      {
          {"duplicate backends take one slot", Desired({{kSvcA, {kE1, kE1, kE2, kE2, kE1}}}), TwoBackendsDump(), 5},
          {"other duplicates of the same set write nothing", Desired({{kSvcA, {kE2, kE1, kE2}}}), TwoBackendsDump(), 0},
      }};
}

ReconcilerCase ReplaceAll() {
  return {"replace_all",
          {
              TwoBackendsStep("two backends"),
              // Make before break: the old backends are still in the map
              // when the new ones are written, so they get new IDs.
              {"both replaced: new IDs, old backends deleted",
               Desired({{kSvcA, {kE3, kE4}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 count=2 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=3",
                   "svc 10.96.0.1:80/TCP #2 backend=4",
                   "be 3 10.244.0.3:8080/TCP",
                   "be 4 10.244.0.4:8080/TCP",
               },
               std::nullopt},
              {"freed IDs are reused lowest first",
               Desired({{kSvcA, {kE3, kE4, kE5, kE6}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 count=4 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=3",
                   "svc 10.96.0.1:80/TCP #2 backend=4",
                   "svc 10.96.0.1:80/TCP #3 backend=1",
                   "svc 10.96.0.1:80/TCP #4 backend=2",
                   "be 1 10.244.0.5:8080/TCP",
                   "be 2 10.244.0.6:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
                   "be 4 10.244.0.4:8080/TCP",
               },
               5},
          }};
}

ReconcilerCase RemoveService() {
  return {"remove_service",
          {
              {"two services sharing a backend",
               Desired({{kSvcA, {kE1, kE2}}, {kSvcB443, {kE2, kE3}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 count=2 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:80/TCP #2 backend=2",
                   "svc 10.96.0.2:443/TCP #0 count=2 flags=0",
                   "svc 10.96.0.2:443/TCP #1 backend=2",
                   "svc 10.96.0.2:443/TCP #2 backend=3",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 2 10.244.0.2:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
               },
               9},
              {"first removed: master and slots gone, shared backend stays",
               Desired({{kSvcB443, {kE2, kE3}}}),
               {
                   "svc 10.96.0.2:443/TCP #0 count=2 flags=0",
                   "svc 10.96.0.2:443/TCP #1 backend=2",
                   "svc 10.96.0.2:443/TCP #2 backend=3",
                   "be 2 10.244.0.2:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
               },
               4},
              {"last removed: maps empty", Desired({}), {}, 5},
          }};
}

ReconcilerCase SharedBackends() {
  constexpr absl::string_view kSvcA81 = "10.96.0.1:81/TCP";
  return {"shared_backends",
          {
              {"two ports and another service share one backend ID",
               Desired({{kSvcA, {kE1}}, {kSvcA81, {kE1}}, {kSvcB, {kE1, kE2}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 count=1 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:81/TCP #0 count=1 flags=0",
                   "svc 10.96.0.1:81/TCP #1 backend=1",
                   "svc 10.96.0.2:80/TCP #0 count=2 flags=0",
                   "svc 10.96.0.2:80/TCP #1 backend=1",
                   "svc 10.96.0.2:80/TCP #2 backend=2",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 2 10.244.0.2:8080/TCP",
               },
               9},
              {"two users removed: backend stays for the third",
               Desired({{kSvcA81, {kE1}}}),
               {
                   "svc 10.96.0.1:81/TCP #0 count=1 flags=0",
                   "svc 10.96.0.1:81/TCP #1 backend=1",
                   "be 1 10.244.0.1:8080/TCP",
               },
               6},
              {"last user switches backend: old one deleted",
               Desired({{kSvcA81, {kE2}}}),
               {
                   "svc 10.96.0.1:81/TCP #0 count=1 flags=0",
                   "svc 10.96.0.1:81/TCP #1 backend=2",
                   "be 2 10.244.0.2:8080/TCP",
               },
               std::nullopt},
              {"no backends left: master with count 0",
               Desired({{kSvcA81, {}}}),
               {
                   "svc 10.96.0.1:81/TCP #0 count=0 flags=0",
               },
               3},
          }};
}

ReconcilerCase ZeroBackends() {
  return {"zero_backends",
          {
              {"new service without backends refuses",
               Desired({{kSvcA, {}}}),
               {"svc 10.96.0.1:80/TCP #0 count=0 flags=0"},
               1},
              {"a backend appears",
               Desired({{kSvcA, {kE1}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 count=1 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "be 1 10.244.0.1:8080/TCP",
               },
               3},
              {"it goes away: master stays with count 0",
               Desired({{kSvcA, {}}}),
               {"svc 10.96.0.1:80/TCP #0 count=0 flags=0"},
               3},
          }};
}

ReconcilerCase Ipv6Service() {
  constexpr absl::string_view kSvc6 = "[fd00::10]:53/UDP";
  return {"ipv6_service",
          {
              {"two IPv6 backends",
               Desired({{kSvc6, {"[fd00:10::2]:5353/UDP", "[fd00:10::3]:5353/UDP"}}}),
               {
                   "svc [fd00::10]:53/UDP #0 count=2 flags=0",
                   "svc [fd00::10]:53/UDP #1 backend=1",
                   "svc [fd00::10]:53/UDP #2 backend=2",
                   "be 1 [fd00:10::2]:5353/UDP",
                   "be 2 [fd00:10::3]:5353/UDP",
               },
               5},
              {"first removed: last slot fills the hole",
               Desired({{kSvc6, {"[fd00:10::3]:5353/UDP"}}}),
               {
                   "svc [fd00::10]:53/UDP #0 count=1 flags=0",
                   "svc [fd00::10]:53/UDP #1 backend=2",
                   "be 2 [fd00:10::3]:5353/UDP",
               },
               4},
          }};
}

ReconcilerCase MixedFamilies() {
  // IPv4 is stored v4-mapped (::ffff:a.b.c.d), so it sorts before fd00::/8.
  return {"mixed_families",
          {
              {"IPv4 and IPv6 frontends",
               Desired({{"10.96.0.10:53/UDP", {"10.244.1.5:53/UDP"}}, {"[fd00::10]:53/UDP", {"[fd00:10::5]:53/UDP"}}}),
               {
                   "svc 10.96.0.10:53/UDP #0 count=1 flags=0",
                   "svc 10.96.0.10:53/UDP #1 backend=1",
                   "svc [fd00::10]:53/UDP #0 count=1 flags=0",
                   "svc [fd00::10]:53/UDP #1 backend=2",
                   "be 1 10.244.1.5:53/UDP",
                   "be 2 [fd00:10::5]:53/UDP",
               },
               6},
              {"IPv4 frontend removed, IPv6 untouched",
               Desired({{"[fd00::10]:53/UDP", {"[fd00:10::5]:53/UDP"}}}),
               {
                   "svc [fd00::10]:53/UDP #0 count=1 flags=0",
                   "svc [fd00::10]:53/UDP #1 backend=2",
                   "be 2 [fd00:10::5]:53/UDP",
               },
               3},
          }};
}

ReconcilerCase ProtocolsSameVipPort() {
  // Frontends sort by protocol number: TCP 6, UDP 17, SCTP 132.
  return {"protocols_same_vip_port",
          {
              {"TCP, UDP and SCTP are distinct frontends with distinct backends",
               Desired({{"10.96.0.10:53/TCP", {"10.244.1.5:53/TCP"}},
                        {"10.96.0.10:53/UDP", {"10.244.1.5:53/UDP"}},
                        {"10.96.0.10:53/SCTP", {"10.244.1.5:53/SCTP"}}}),
               {
                   "svc 10.96.0.10:53/TCP #0 count=1 flags=0",
                   "svc 10.96.0.10:53/TCP #1 backend=1",
                   "svc 10.96.0.10:53/UDP #0 count=1 flags=0",
                   "svc 10.96.0.10:53/UDP #1 backend=2",
                   "svc 10.96.0.10:53/SCTP #0 count=1 flags=0",
                   "svc 10.96.0.10:53/SCTP #1 backend=3",
                   "be 1 10.244.1.5:53/TCP",
                   "be 2 10.244.1.5:53/UDP",
                   "be 3 10.244.1.5:53/SCTP",
               },
               9},
              {"UDP removed, TCP and SCTP untouched",
               Desired({{"10.96.0.10:53/TCP", {"10.244.1.5:53/TCP"}}, {"10.96.0.10:53/SCTP", {"10.244.1.5:53/SCTP"}}}),
               {
                   "svc 10.96.0.10:53/TCP #0 count=1 flags=0",
                   "svc 10.96.0.10:53/TCP #1 backend=1",
                   "svc 10.96.0.10:53/SCTP #0 count=1 flags=0",
                   "svc 10.96.0.10:53/SCTP #1 backend=3",
                   "be 1 10.244.1.5:53/TCP",
                   "be 3 10.244.1.5:53/SCTP",
               },
               3},
          }};
}

ReconcilerCase TwelveBackends() {
  // Slots and IDs past 9 sort numerically in the dump.
  DesiredFrontends desired;
  std::vector<uint32_t> ids;
  std::vector<std::string> backend_lines;
  for (uint32_t i = 1; i <= 12; ++i) {
    std::string backend = absl::StrCat("10.244.0.", i, ":8080/TCP");
    desired[L4(kSvcA)].push_back(L4(backend));
    ids.push_back(i);
    backend_lines.push_back(absl::StrCat("be ", i, " ", backend));
  }
  return {"twelve_backends", {{"slots 1..12", desired, Concat({ServiceLines(kSvcA, ids), backend_lines}), 25}}};
}

// The maps' entries, decoded: what SlotsResolve and MapsHold check.
struct MapEntries {
  absl::btree_map<L4Address, uint16_t> counts;                       // Masters' counts.
  absl::btree_map<std::tuple<L4Address, uint16_t>, uint32_t> slots;  // (frontend, slot) -> backend ID
  absl::btree_map<uint32_t, L4Address> backends;
};

absl::StatusOr<MapEntries> ReadEntries(const LbMaps& maps) {
  MapEntries entries;
  absl::Status s = maps.ForEachService([&](const lb_service_key& key, const lb_service_value& value) {
    if (key.slot == LB_SLOT_MASTER) {
      entries.counts[FrontendOf(key)] = value.count;
    } else {
      entries.slots[{FrontendOf(key), key.slot}] = value.backend_id;
    }
  });
  if (!s.ok()) return s;
  s = maps.ForEachBackend([&](uint32_t id, const lb_backend_value& value) { entries.backends[id] = AddressOf(value); });
  if (!s.ok()) return s;
  return entries;
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

L4Address L4(absl::string_view text) {
  auto address = L4Address::Parse(text);
  if (!address.ok()) {
    std::fprintf(stderr, "bad test address \"%.*s\": %s\n", static_cast<int>(text.size()), text.data(),
                 address.status().ToString().c_str());
    std::abort();
  }
  return *address;
}

DesiredFrontends Desired(
    std::initializer_list<std::pair<absl::string_view, std::vector<absl::string_view>>> frontends) {
  DesiredFrontends out;
  for (const auto& [frontend, backends] : frontends) {
    std::vector<L4Address>& list = out[L4(frontend)];
    for (absl::string_view backend : backends) list.push_back(L4(backend));
  }
  return out;
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
  const auto& [counts, slots, backends] = *entries;
  std::vector<std::string> problems;
  for (const auto& [frontend, count] : counts) {
    for (uint16_t slot = 1; slot <= count && slot != 0; ++slot) {
      auto it = slots.find({frontend, slot});
      if (it == slots.end()) {
        problems.push_back(absl::StrCat(frontend.ToString(), "#", slot, " missing (count=", count, ")"));
      } else if (it->second == LB_BACKEND_ID_INVALID || !backends.contains(it->second)) {
        problems.push_back(absl::StrCat(frontend.ToString(), "#", slot, " -> missing backend ", it->second));
      }
    }
  }
  if (problems.empty()) return ::testing::AssertionSuccess();
  return FailureWithDump(maps, absl::StrCat("dangling slots: ", absl::StrJoin(problems, ", ")));
}

::testing::AssertionResult MapsHold(const LbMaps& maps, const DesiredFrontends& desired) {
  absl::StatusOr<MapEntries> entries = ReadEntries(maps);
  if (!entries.ok()) return ::testing::AssertionFailure() << entries.status();
  const auto& [counts, slots, backends] = *entries;

  std::vector<std::string> problems;
  FrontendSets held;
  absl::btree_set<uint32_t> referenced;
  for (const auto& [key, id] : slots) {
    const auto& [frontend, slot] = key;
    auto count = counts.find(frontend);
    if (count == counts.end() || slot > count->second) {
      problems.push_back(absl::StrCat("extra slot ", frontend.ToString(), "#", slot));
      continue;
    }
    referenced.insert(id);
    auto backend = backends.find(id);
    if (backend == backends.end()) {
      problems.push_back(absl::StrCat(frontend.ToString(), "#", slot, " -> missing backend ", id));
      continue;
    }
    held[frontend].push_back(backend->second);
  }
  for (const auto& [frontend, count] : counts) {
    std::vector<L4Address>& list = held[frontend];
    if (list.size() != count)
      problems.push_back(absl::StrCat(frontend.ToString(), " count=", count, " but ", list.size(), " slots resolve"));
    absl::btree_set<L4Address> set(list.begin(), list.end());
    if (set.size() != list.size()) problems.push_back(absl::StrCat(frontend.ToString(), " has a backend in two slots"));
    list.assign(set.begin(), set.end());
  }
  for (const auto& [id, address] : backends) {
    if (!referenced.contains(id))
      problems.push_back(absl::StrCat("unreferenced backend ", id, " ", address.ToString()));
  }
  FrontendSets want = AsSets(desired);
  if (held != want) {
    std::vector<std::string> diff;
    for (const auto& [frontend, list] : held) {
      auto it = want.find(frontend);
      if (it == want.end() || it->second != list)
        diff.push_back(absl::StrCat("unexpected/different ", frontend.ToString()));
    }
    for (const auto& [frontend, list] : want) {
      if (!held.contains(frontend)) diff.push_back(absl::StrCat("missing ", frontend.ToString()));
    }
    problems.push_back(absl::StrJoin(diff, ", "));
  }
  if (problems.empty()) return ::testing::AssertionSuccess();
  return FailureWithDump(maps, absl::StrJoin(problems, "; "));
}

void RunReconcilerCase(LbMaps& maps, const ReconcilerCase& c) {
  SCOPED_TRACE(c.name);
  ASSERT_EQ(Dump(maps), std::vector<std::string>{}) << "maps must start empty";
  WatchedLbMaps watched(maps);
  auto reconciler = Reconciler::Create(&watched);
  ASSERT_TRUE(reconciler.ok()) << reconciler.status();
  for (size_t i = 0; i < c.steps.size(); ++i) {
    const ReconcilerStep& step = c.steps[i];
    SCOPED_TRACE(absl::StrCat("step ", i + 1, ": ", step.what));
    size_t writes_before = watched.writes();
    SyncResult result = (*reconciler)->Sync(step.desired);
    EXPECT_TRUE(result.ok()) << FailedString(result);
    std::vector<std::string> dump = Dump(maps);
    EXPECT_EQ(dump, step.expected_dump);
    EXPECT_TRUE(SlotsResolve(maps));
    if (step.expected_writes.has_value()) {
      EXPECT_EQ(watched.writes() - writes_before, *step.expected_writes) << "map writes";
    }
    EXPECT_EQ(AsSets((*reconciler)->Applied()), AsSets(step.desired)) << "applied state";
    CheckRestart(watched, step.desired, dump);
  }
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

void PrintTo(const ReconcilerCase& c, std::ostream* os) { *os << c.name; }

std::vector<ReconcilerCase> ReconcilerCases() {
  return {
      AddService(),
      Grow(),
      Shrink(),
      HoleFilledByNewBackend(),
      Reorder(),
      Duplicates(),
      ReplaceAll(),
      RemoveService(),
      SharedBackends(),
      ZeroBackends(),
      Ipv6Service(),
      MixedFamilies(),
      ProtocolsSameVipPort(),
      TwelveBackends(),
  };
}

}  // namespace bpfproxy
