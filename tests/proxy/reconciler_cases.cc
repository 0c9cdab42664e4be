#include "tests/proxy/reconciler_cases.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

// How the goldens below follow from the contract (proxy/reconciler.h):
//  - service IDs count 1, 2, 3... in the order frontends are first written,
//    backend IDs likewise in the order backends are first needed; neither is
//    reused after it is freed;
//  - Sync writes frontends that shrink or keep their size before those that
//    grow (a new frontend with backends grows), each in frontend order;
//  - a write count adds up new backends, new memberships, slots written, the
//    master if new or its count changed, surplus slots, memberships and
//    backends deleted.

namespace bpfproxy {

namespace {

// The golden first steps several cases build on: kSvcA (service ID 1) on
// kE1, kE2 (backend IDs 1 and 2) or on kE1, kE2, kE3 (IDs 1 to 3), written
// into empty maps.
std::vector<std::string> TwoBackendsDump() {
  return {
      "svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0",
      "svc 10.96.0.1:80/TCP #1 backend=1",
      "svc 10.96.0.1:80/TCP #2 backend=2",
      "member 10.96.0.1:80/TCP backend=1",
      "member 10.96.0.1:80/TCP backend=2",
      "be 1 10.244.0.1:8080/TCP",
      "be 2 10.244.0.2:8080/TCP",
  };
}

std::vector<std::string> ThreeBackendsDump() {
  return {
      "svc 10.96.0.1:80/TCP #0 id=1 count=3 flags=0",
      "svc 10.96.0.1:80/TCP #1 backend=1",
      "svc 10.96.0.1:80/TCP #2 backend=2",
      "svc 10.96.0.1:80/TCP #3 backend=3",
      "member 10.96.0.1:80/TCP backend=1",
      "member 10.96.0.1:80/TCP backend=2",
      "member 10.96.0.1:80/TCP backend=3",
      "be 1 10.244.0.1:8080/TCP",
      "be 2 10.244.0.2:8080/TCP",
      "be 3 10.244.0.3:8080/TCP",
  };
}

// 2 backends, 2 memberships, 2 slots, master.
ReconcilerStep TwoBackendsStep(std::string what) {
  return {std::move(what), Desired({{kSvcA, {kE1, kE2}}}), TwoBackendsDump(), 7};
}

// 3 backends, 3 memberships, 3 slots, master.
ReconcilerStep ThreeBackendsStep() {
  return {"three backends", Desired({{kSvcA, {kE1, kE2, kE3}}}), ThreeBackendsDump(), 10};
}

ReconcilerCase AddService() {
  return {"add_service",
          {
              TwoBackendsStep("first service with two backends"),
              {"second service gets the next service and backend IDs, first untouched",
               Desired({{kSvcA, {kE1, kE2}}, {kSvcB, {kE3}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:80/TCP #2 backend=2",
                   "svc 10.96.0.2:80/TCP #0 id=2 count=1 flags=0",
                   "svc 10.96.0.2:80/TCP #1 backend=3",
                   "member 10.96.0.1:80/TCP backend=1",
                   "member 10.96.0.1:80/TCP backend=2",
                   "member 10.96.0.2:80/TCP backend=3",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 2 10.244.0.2:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
               },
               4},  // Backend, membership, slot, master.
          }};
}

ReconcilerCase Grow() {
  return {"grow",
          {
              TwoBackendsStep("two backends"),
              {"four backends: existing slots keep theirs, new ones append",
               Desired({{kSvcA, {kE3, kE1, kE4, kE2}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 id=1 count=4 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:80/TCP #2 backend=2",
                   "svc 10.96.0.1:80/TCP #3 backend=3",
                   "svc 10.96.0.1:80/TCP #4 backend=4",
                   "member 10.96.0.1:80/TCP backend=1",
                   "member 10.96.0.1:80/TCP backend=2",
                   "member 10.96.0.1:80/TCP backend=3",
                   "member 10.96.0.1:80/TCP backend=4",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 2 10.244.0.2:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
                   "be 4 10.244.0.4:8080/TCP",
               },
               7},  // 2 backends, 2 memberships, 2 slots, master.
          }};
}

ReconcilerCase Shrink() {
  return {"shrink",
          {
              ThreeBackendsStep(),
              {"middle backend removed: last slot fills the hole",
               Desired({{kSvcA, {kE1, kE3}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:80/TCP #2 backend=3",
                   "member 10.96.0.1:80/TCP backend=1",
                   "member 10.96.0.1:80/TCP backend=3",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
               },
               5},  // Slot 2, master, delete slot 3, membership 2, backend 2.
              {"new backend gets a new ID, not the freed one",
               Desired({{kSvcA, {kE1, kE3, kE4}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 id=1 count=3 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:80/TCP #2 backend=3",
                   "svc 10.96.0.1:80/TCP #3 backend=4",
                   "member 10.96.0.1:80/TCP backend=1",
                   "member 10.96.0.1:80/TCP backend=3",
                   "member 10.96.0.1:80/TCP backend=4",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
                   "be 4 10.244.0.4:8080/TCP",
               },
               4},  // Backend, membership, slot 3, master.
              {"first backend removed: last slot fills the hole",
               Desired({{kSvcA, {kE3, kE4}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=4",
                   "svc 10.96.0.1:80/TCP #2 backend=3",
                   "member 10.96.0.1:80/TCP backend=3",
                   "member 10.96.0.1:80/TCP backend=4",
                   "be 3 10.244.0.3:8080/TCP",
                   "be 4 10.244.0.4:8080/TCP",
               },
               5},  // Slot 1, master, delete slot 3, membership 1, backend 1.
          }};
}

ReconcilerCase HoleFilledByNewBackend() {
  return {"hole_filled_by_new_backend",
          {
              ThreeBackendsStep(),
              {"middle backend swapped: the new one takes its slot and a new ID",
               Desired({{kSvcA, {kE1, kE4, kE3}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 id=1 count=3 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:80/TCP #2 backend=4",
                   "svc 10.96.0.1:80/TCP #3 backend=3",
                   "member 10.96.0.1:80/TCP backend=1",
                   "member 10.96.0.1:80/TCP backend=3",
                   "member 10.96.0.1:80/TCP backend=4",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
                   "be 4 10.244.0.4:8080/TCP",
               },
               5},  // Backend 4, its membership, slot 2, membership 2 and backend 2 deleted.
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
          {"duplicate backends take one slot", Desired({{kSvcA, {kE1, kE1, kE2, kE2, kE1}}}), TwoBackendsDump(), 7},
          {"other duplicates of the same set write nothing", Desired({{kSvcA, {kE2, kE1, kE2}}}), TwoBackendsDump(), 0},
      }};
}

ReconcilerCase ReplaceAll() {
  return {"replace_all",
          {
              TwoBackendsStep("two backends"),
              {"both replaced: new IDs, old backends deleted",
               Desired({{kSvcA, {kE3, kE4}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=3",
                   "svc 10.96.0.1:80/TCP #2 backend=4",
                   "member 10.96.0.1:80/TCP backend=3",
                   "member 10.96.0.1:80/TCP backend=4",
                   "be 3 10.244.0.3:8080/TCP",
                   "be 4 10.244.0.4:8080/TCP",
               },
               10},  // 2 backends, 2 memberships, 2 slots; 2 memberships and 2 backends deleted.
              {"freed IDs 1 and 2 are not reused",
               Desired({{kSvcA, {kE3, kE4, kE5, kE6}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 id=1 count=4 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=3",
                   "svc 10.96.0.1:80/TCP #2 backend=4",
                   "svc 10.96.0.1:80/TCP #3 backend=5",
                   "svc 10.96.0.1:80/TCP #4 backend=6",
                   "member 10.96.0.1:80/TCP backend=3",
                   "member 10.96.0.1:80/TCP backend=4",
                   "member 10.96.0.1:80/TCP backend=5",
                   "member 10.96.0.1:80/TCP backend=6",
                   "be 3 10.244.0.3:8080/TCP",
                   "be 4 10.244.0.4:8080/TCP",
                   "be 5 10.244.0.5:8080/TCP",
                   "be 6 10.244.0.6:8080/TCP",
               },
               7},
          }};
}

ReconcilerCase RemoveService() {
  return {"remove_service",
          {
              {"two services sharing a backend",
               Desired({{kSvcA, {kE1, kE2}}, {kSvcB443, {kE2, kE3}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:80/TCP #2 backend=2",
                   "svc 10.96.0.2:443/TCP #0 id=2 count=2 flags=0",
                   "svc 10.96.0.2:443/TCP #1 backend=2",
                   "svc 10.96.0.2:443/TCP #2 backend=3",
                   "member 10.96.0.1:80/TCP backend=1",
                   "member 10.96.0.1:80/TCP backend=2",
                   "member 10.96.0.2:443/TCP backend=2",
                   "member 10.96.0.2:443/TCP backend=3",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 2 10.244.0.2:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
               },
               13},  // 7 for the first; the second: backend 3, 2 memberships, 2 slots, master.
              {"first removed: master, slots and memberships gone, shared backend stays",
               Desired({{kSvcB443, {kE2, kE3}}}),
               {
                   "svc 10.96.0.2:443/TCP #0 id=2 count=2 flags=0",
                   "svc 10.96.0.2:443/TCP #1 backend=2",
                   "svc 10.96.0.2:443/TCP #2 backend=3",
                   "member 10.96.0.2:443/TCP backend=2",
                   "member 10.96.0.2:443/TCP backend=3",
                   "be 2 10.244.0.2:8080/TCP",
                   "be 3 10.244.0.3:8080/TCP",
               },
               6},  // Master, 2 slots, 2 memberships, backend 1.
              {"last removed: maps empty", Desired({}), {}, 7},
          }};
}

ReconcilerCase SharedBackends() {
  constexpr absl::string_view kSvcA81 = "10.96.0.1:81/TCP";
  return {"shared_backends",
          {
              {"two ports and another service share one backend ID",
               Desired({{kSvcA, {kE1}}, {kSvcA81, {kE1}}, {kSvcB, {kE1, kE2}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 id=1 count=1 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "svc 10.96.0.1:81/TCP #0 id=2 count=1 flags=0",
                   "svc 10.96.0.1:81/TCP #1 backend=1",
                   "svc 10.96.0.2:80/TCP #0 id=3 count=2 flags=0",
                   "svc 10.96.0.2:80/TCP #1 backend=1",
                   "svc 10.96.0.2:80/TCP #2 backend=2",
                   "member 10.96.0.1:80/TCP backend=1",
                   "member 10.96.0.1:81/TCP backend=1",
                   "member 10.96.0.2:80/TCP backend=1",
                   "member 10.96.0.2:80/TCP backend=2",
                   "be 1 10.244.0.1:8080/TCP",
                   "be 2 10.244.0.2:8080/TCP",
               },
               13},  // 4 + 3 + 6.
              {"two users removed: backend stays for the third",
               Desired({{kSvcA81, {kE1}}}),
               {
                   "svc 10.96.0.1:81/TCP #0 id=2 count=1 flags=0",
                   "svc 10.96.0.1:81/TCP #1 backend=1",
                   "member 10.96.0.1:81/TCP backend=1",
                   "be 1 10.244.0.1:8080/TCP",
               },
               9},  // 3 for the first; master, 2 slots, 2 memberships, backend 2.
              {"last user switches backend: old one deleted, new one gets the next ID",
               Desired({{kSvcA81, {kE2}}}),
               {
                   "svc 10.96.0.1:81/TCP #0 id=2 count=1 flags=0",
                   "svc 10.96.0.1:81/TCP #1 backend=3",
                   "member 10.96.0.1:81/TCP backend=3",
                   "be 3 10.244.0.2:8080/TCP",
               },
               5},  // Backend, membership, slot; membership and backend deleted.
              {"no backends left: master with count 0",
               Desired({{kSvcA81, {}}}),
               {
                   "svc 10.96.0.1:81/TCP #0 id=2 count=0 flags=0",
               },
               4},
          }};
}

ReconcilerCase ZeroBackends() {
  return {"zero_backends",
          {
              {"new service without backends refuses",
               Desired({{kSvcA, {}}}),
               {"svc 10.96.0.1:80/TCP #0 id=1 count=0 flags=0"},
               1},
              {"a backend appears",
               Desired({{kSvcA, {kE1}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 id=1 count=1 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=1",
                   "member 10.96.0.1:80/TCP backend=1",
                   "be 1 10.244.0.1:8080/TCP",
               },
               4},
              {"it goes away: master stays with count 0",
               Desired({{kSvcA, {}}}),
               {"svc 10.96.0.1:80/TCP #0 id=1 count=0 flags=0"},
               4},
              {"it comes back under a new ID",
               Desired({{kSvcA, {kE1}}}),
               {
                   "svc 10.96.0.1:80/TCP #0 id=1 count=1 flags=0",
                   "svc 10.96.0.1:80/TCP #1 backend=2",
                   "member 10.96.0.1:80/TCP backend=2",
                   "be 2 10.244.0.1:8080/TCP",
               },
               4},
          }};
}

ReconcilerCase Ipv6Service() {
  constexpr absl::string_view kSvc6 = "[fd00::10]:53/UDP";
  return {"ipv6_service",
          {
              {"two IPv6 backends",
               Desired({{kSvc6, {"[fd00:10::2]:5353/UDP", "[fd00:10::3]:5353/UDP"}}}),
               {
                   "svc [fd00::10]:53/UDP #0 id=1 count=2 flags=0",
                   "svc [fd00::10]:53/UDP #1 backend=1",
                   "svc [fd00::10]:53/UDP #2 backend=2",
                   "member [fd00::10]:53/UDP backend=1",
                   "member [fd00::10]:53/UDP backend=2",
                   "be 1 [fd00:10::2]:5353/UDP",
                   "be 2 [fd00:10::3]:5353/UDP",
               },
               7},
              {"first removed: last slot fills the hole",
               Desired({{kSvc6, {"[fd00:10::3]:5353/UDP"}}}),
               {
                   "svc [fd00::10]:53/UDP #0 id=1 count=1 flags=0",
                   "svc [fd00::10]:53/UDP #1 backend=2",
                   "member [fd00::10]:53/UDP backend=2",
                   "be 2 [fd00:10::3]:5353/UDP",
               },
               5},
          }};
}

ReconcilerCase MixedFamilies() {
  // IPv4 is stored v4-mapped (::ffff:a.b.c.d), so it sorts before fd00::/8.
  return {"mixed_families",
          {
              {"IPv4 and IPv6 frontends",
               Desired({{"10.96.0.10:53/UDP", {"10.244.1.5:53/UDP"}}, {"[fd00::10]:53/UDP", {"[fd00:10::5]:53/UDP"}}}),
               {
                   "svc 10.96.0.10:53/UDP #0 id=1 count=1 flags=0",
                   "svc 10.96.0.10:53/UDP #1 backend=1",
                   "svc [fd00::10]:53/UDP #0 id=2 count=1 flags=0",
                   "svc [fd00::10]:53/UDP #1 backend=2",
                   "member 10.96.0.10:53/UDP backend=1",
                   "member [fd00::10]:53/UDP backend=2",
                   "be 1 10.244.1.5:53/UDP",
                   "be 2 [fd00:10::5]:53/UDP",
               },
               8},
              {"IPv4 frontend removed, IPv6 untouched",
               Desired({{"[fd00::10]:53/UDP", {"[fd00:10::5]:53/UDP"}}}),
               {
                   "svc [fd00::10]:53/UDP #0 id=2 count=1 flags=0",
                   "svc [fd00::10]:53/UDP #1 backend=2",
                   "member [fd00::10]:53/UDP backend=2",
                   "be 2 [fd00:10::5]:53/UDP",
               },
               4},
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
                   "svc 10.96.0.10:53/TCP #0 id=1 count=1 flags=0",
                   "svc 10.96.0.10:53/TCP #1 backend=1",
                   "svc 10.96.0.10:53/UDP #0 id=2 count=1 flags=0",
                   "svc 10.96.0.10:53/UDP #1 backend=2",
                   "svc 10.96.0.10:53/SCTP #0 id=3 count=1 flags=0",
                   "svc 10.96.0.10:53/SCTP #1 backend=3",
                   "member 10.96.0.10:53/TCP backend=1",
                   "member 10.96.0.10:53/UDP backend=2",
                   "member 10.96.0.10:53/SCTP backend=3",
                   "be 1 10.244.1.5:53/TCP",
                   "be 2 10.244.1.5:53/UDP",
                   "be 3 10.244.1.5:53/SCTP",
               },
               12},
              {"UDP removed, TCP and SCTP untouched",
               Desired({{"10.96.0.10:53/TCP", {"10.244.1.5:53/TCP"}}, {"10.96.0.10:53/SCTP", {"10.244.1.5:53/SCTP"}}}),
               {
                   "svc 10.96.0.10:53/TCP #0 id=1 count=1 flags=0",
                   "svc 10.96.0.10:53/TCP #1 backend=1",
                   "svc 10.96.0.10:53/SCTP #0 id=3 count=1 flags=0",
                   "svc 10.96.0.10:53/SCTP #1 backend=3",
                   "member 10.96.0.10:53/TCP backend=1",
                   "member 10.96.0.10:53/SCTP backend=3",
                   "be 1 10.244.1.5:53/TCP",
                   "be 3 10.244.1.5:53/SCTP",
               },
               4},
          }};
}

ReconcilerCase TwelveBackends() {
  // Slots and IDs past 9 sort numerically in the dump.
  DesiredFrontends desired;
  std::vector<std::string> slot_lines = {"svc 10.96.0.1:80/TCP #0 id=1 count=12 flags=0"};
  std::vector<std::string> member_lines, backend_lines;
  for (uint32_t i = 1; i <= 12; ++i) {
    std::string backend = absl::StrCat("10.244.0.", i, ":8080/TCP");
    desired[L4(kSvcA)].push_back(L4(backend));
    slot_lines.push_back(absl::StrCat("svc 10.96.0.1:80/TCP #", i, " backend=", i));
    member_lines.push_back(absl::StrCat("member 10.96.0.1:80/TCP backend=", i));
    backend_lines.push_back(absl::StrCat("be ", i, " ", backend));
  }
  std::vector<std::string> dump = slot_lines;
  dump.insert(dump.end(), member_lines.begin(), member_lines.end());
  dump.insert(dump.end(), backend_lines.begin(), backend_lines.end());
  return {"twelve_backends", {{"slots 1..12", desired, dump, 37}}};  // 12 backends, memberships, slots; master.
}

}  // namespace

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
