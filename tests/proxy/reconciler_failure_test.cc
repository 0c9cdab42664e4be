// Reconciler against FakeLbMaps when writes fail: full maps and failures
// injected between single writes. Whatever fails, no slot may dangle, and the
// next Sync must converge.
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/fake_lb_maps.h"
#include "proxy/lb_maps.h"
#include "proxy/reconciler.h"
#include "tests/proxy/reconciler_cases.h"
#include "tests/proxy/reconciler_test_util.h"

namespace bpfproxy {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Every ReconcilerTest here starts from empty fake maps and a Reconciler on them.
using ReconcilerTest = ReconcilerOnFakeMapsTest;

// --- Full maps ----------------------------------------------------------------

// kSvcA on kE1, kE2 fits; kSvcC, added next to it, does not until the map
// named |map_name| is enlarged.
struct MapFullCase {
  std::string name;
  LbMapCapacity full;
  LbMapCapacity enlarged;
  DesiredFrontends both;  // kSvcA unchanged, plus kSvcC.
  std::string map_name;
  std::vector<std::string> dump;  // Once Sync(both) succeeds.
};

void PrintTo(const MapFullCase& c, std::ostream* os) { *os << c.name; }

class MapFullTest : public ReconcilerOnFakeMapsTest, public ::testing::WithParamInterface<MapFullCase> {};

TEST_P(MapFullTest, FailsOnlyTheNewFrontendAndRetryConverges) {
  const MapFullCase& c = GetParam();
  maps_.SetCapacity(c.full);
  MustSync(*reconciler_, Desired({{kSvcA, {kE1, kE2}}}));

  SyncResult result = reconciler_->Sync(c.both);
  ASSERT_EQ(result.failed.size(), 1u);
  ASSERT_TRUE(result.failed.contains(L4(kSvcC)));
  const absl::Status& status = result.failed.at(L4(kSvcC));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr(c.map_name));
  EXPECT_THAT(DumpOf(maps_, "svc 10.96.0.1:80/TCP"),
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "svc 10.96.0.1:80/TCP #2 backend=2"));
  EXPECT_THAT(DumpOf(maps_, "svc 10.96.0.3:80/TCP"), IsEmpty());
  EXPECT_TRUE(MapsHold(maps_, Desired({{kSvcA, {kE1, kE2}}})));

  maps_.SetCapacity(c.enlarged);
  MustSync(*reconciler_, c.both);
  EXPECT_THAT(Dump(maps_), ElementsAreArray(c.dump));
}

// The failed attempt wrote nothing and leaves no backend behind. It did take
// service ID 2 for kSvcC, and IDs are never handed out twice, so kSvcC comes
// back as ID 3.
INSTANTIATE_TEST_SUITE_P(Maps, MapFullTest,
                         ::testing::ValuesIn(std::vector<MapFullCase>{
                             {"services",
                              {.services = 3},
                              {.services = 5},
                              Desired({{kSvcA, {kE1, kE2}}, {kSvcC, {kE3}}}),
                              "bpfp_svc_v1",
                              {"svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                               "svc 10.96.0.1:80/TCP #2 backend=2", "svc 10.96.0.3:80/TCP #0 id=3 count=1 flags=0",
                               "svc 10.96.0.3:80/TCP #1 backend=3", "member 10.96.0.1:80/TCP backend=1",
                               "member 10.96.0.1:80/TCP backend=2", "member 10.96.0.3:80/TCP backend=3",
                               "be 1 10.244.0.1:8080/TCP", "be 2 10.244.0.2:8080/TCP", "be 3 10.244.0.3:8080/TCP"}},
                             {"backends",
                              {.backends = 2},
                              {.backends = 3},
                              Desired({{kSvcA, {kE1, kE2}}, {kSvcC, {kE2, kE3}}}),
                              "bpfp_be_v1",
                              {"svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                               "svc 10.96.0.1:80/TCP #2 backend=2", "svc 10.96.0.3:80/TCP #0 id=3 count=2 flags=0",
                               "svc 10.96.0.3:80/TCP #1 backend=2", "svc 10.96.0.3:80/TCP #2 backend=3",
                               "member 10.96.0.1:80/TCP backend=1", "member 10.96.0.1:80/TCP backend=2",
                               "member 10.96.0.3:80/TCP backend=2", "member 10.96.0.3:80/TCP backend=3",
                               "be 1 10.244.0.1:8080/TCP", "be 2 10.244.0.2:8080/TCP", "be 3 10.244.0.3:8080/TCP"}},
                         }),
                         [](const ::testing::TestParamInfo<MapFullCase>& info) { return info.param.name; });

TEST_F(ReconcilerTest, ServicesMapFullWhileGrowingKeepsTheOldCount) {
  maps_.SetCapacity({.services = 4});  // Master + 3 slots: the 4th backend does not fit.
  MustSync(*reconciler_, Desired({{kSvcA, {kE1, kE2}}}));

  DesiredFrontends grown = Desired({{kSvcA, {kE1, kE2, kE3, kE4}}});
  SyncResult result = reconciler_->Sync(grown);
  ASSERT_TRUE(result.failed.contains(L4(kSvcA)));
  EXPECT_EQ(result.failed.at(L4(kSvcA)).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(DumpOf(maps_, "svc 10.96.0.1:80/TCP #0"), ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0"));
  EXPECT_TRUE(SlotsResolve(maps_));

  maps_.SetCapacity({.services = 5});
  MustSync(*reconciler_, grown);
  EXPECT_TRUE(MapsHold(maps_, grown));
  EXPECT_EQ(AsSets(reconciler_->Applied()), AsSets(grown));
}

TEST_F(ReconcilerTest, RemovingAServiceMakesRoomForAnother) {
  maps_.SetCapacity({.services = 3});
  MustSync(*reconciler_, Desired({{kSvcA, {kE1, kE2}}}));

  // kSvcC replaces kSvcA. Sync removes frontends before it writes any, so
  // one Sync suffices.
  DesiredFrontends replaced = Desired({{kSvcC, {kE3}}});
  MustSync(*reconciler_, replaced);
  EXPECT_TRUE(MapsHold(maps_, replaced));
  // kSvcA's service ID 1 and backend IDs 1 and 2 were freed, not reused.
  EXPECT_THAT(Dump(maps_),
              ElementsAre("svc 10.96.0.3:80/TCP #0 id=2 count=1 flags=0", "svc 10.96.0.3:80/TCP #1 backend=3",
                          "member 10.96.0.3:80/TCP backend=3", "be 3 10.244.0.3:8080/TCP"));
}

// Review finding: Sync ordered shrinking before growing frontends by the raw
// length of the desired list, so duplicates made a shrinking frontend look
// like a growing one and the map filled up before it shrank.
TEST_F(ReconcilerTest, DuplicatesDoNotMakeAShrinkingFrontendLookLikeAGrowingOne) {
  maps_.SetCapacity({.services = 5});
  MustSync(*reconciler_, Desired({{kSvcA, {kE1, kE2, kE3}}}));  // 4 entries of 5.
  // kSvcA shrinks to one slot (frees 2); the new frontend needs 2.
  DesiredFrontends desired = Desired({{"10.96.0.0:80/TCP", {kE4}}, {kSvcA, {kE1, kE1, kE1, kE1}}});
  SyncResult result = reconciler_->Sync(desired);
  for (const auto& [frontend, status] : result.failed) ADD_FAILURE() << frontend.ToString() << ": " << status;
  EXPECT_TRUE(MapsHold(maps_, desired));
}

// --- Injected failures --------------------------------------------------------

struct InjectedFailureCase {
  std::string name;
  DesiredFrontends before;
  DesiredFrontends after;
  std::string fail_op;  // Prefix of the write that fails.
  // Whether the contract makes Sync report the frontend as failed. A backend
  // delete happens after the frontend itself is applied, so it is not asked.
  // Membership deletes are part of applying it (step 6), so they are.
  bool reported = true;
};

void PrintTo(const InjectedFailureCase& c, std::ostream* os) { *os << c.name; }

class InjectedFailureTest : public ReconcilerOnFakeMapsTest,
                            public ::testing::WithParamInterface<InjectedFailureCase> {};

TEST_P(InjectedFailureTest, LeavesNoDanglingSlotAndTheNextSyncConverges) {
  const InjectedFailureCase& c = GetParam();
  MustSync(*reconciler_, c.before);

  maps_.ClearOps();
  maps_.FailNext(c.fail_op, absl::UnavailableError("injected"));
  SyncResult failed = reconciler_->Sync(c.after);
  EXPECT_EQ(maps_.pending_failures(), 0u) << "the failing write was never attempted";
  EXPECT_TRUE(SlotsResolve(maps_));
  if (c.reported) {
    ASSERT_EQ(failed.failed.size(), 1u);
    EXPECT_EQ(failed.failed.begin()->second.code(), absl::StatusCode::kUnavailable) << failed.failed.begin()->second;
  }

  MustSync(*reconciler_, c.after);
  EXPECT_TRUE(MapsHold(maps_, c.after));
  EXPECT_TRUE(SlotsResolve(maps_));
  EXPECT_EQ(AsSets(reconciler_->Applied()), AsSets(c.after));

  maps_.ClearOps();
  MustSync(*reconciler_, c.after);
  EXPECT_THAT(maps_.ops(), IsEmpty()) << "converged state resyncs without writes";
  auto restarted = MustCreate(maps_);
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(AsSets(restarted->Applied()), AsSets(c.after));
}

INSTANTIATE_TEST_SUITE_P(
    Writes, InjectedFailureTest,
    ::testing::ValuesIn(std::vector<InjectedFailureCase>{
        {"new_service_slot", {}, Desired({{kSvcA, {kE1, kE2}}}), "update svc 10.96.0.1:80/TCP#2"},
        {"new_service_master", {}, Desired({{kSvcA, {kE1, kE2}}}), "update svc 10.96.0.1:80/TCP#0"},
        {"new_service_backend", {}, Desired({{kSvcA, {kE1, kE2}}}), "update be 2 "},
        {"new_service_member", {}, Desired({{kSvcA, {kE1, kE2}}}), "update member svc 1 backend 2"},
        {"grow_backend", Desired({{kSvcA, {kE1, kE2}}}), Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}), "update be 4 "},
        {"grow_member", Desired({{kSvcA, {kE1, kE2}}}), Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}),
         "update member svc 1 backend 4"},
        {"grow_slot", Desired({{kSvcA, {kE1, kE2}}}), Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}),
         "update svc 10.96.0.1:80/TCP#4"},
        {"grow_master", Desired({{kSvcA, {kE1, kE2}}}), Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}),
         "update svc 10.96.0.1:80/TCP#0"},
        {"shrink_hole_fill", Desired({{kSvcA, {kE1, kE2, kE3}}}), Desired({{kSvcA, {kE1, kE3}}}),
         "update svc 10.96.0.1:80/TCP#2"},
        {"shrink_master", Desired({{kSvcA, {kE1, kE2, kE3}}}), Desired({{kSvcA, {kE1, kE3}}}),
         "update svc 10.96.0.1:80/TCP#0"},
        {"shrink_surplus_slot", Desired({{kSvcA, {kE1, kE2, kE3}}}), Desired({{kSvcA, {kE1, kE3}}}),
         "delete svc 10.96.0.1:80/TCP#3"},
        {"shrink_member_delete", Desired({{kSvcA, {kE1, kE2, kE3}}}), Desired({{kSvcA, {kE1, kE3}}}),
         "delete member svc 1 backend 2"},
        {"shrink_backend_delete", Desired({{kSvcA, {kE1, kE2, kE3}}}), Desired({{kSvcA, {kE1, kE3}}}), "delete be 2",
         false},
        {"swap_slot", Desired({{kSvcA, {kE1, kE2, kE3}}}), Desired({{kSvcA, {kE1, kE4, kE3}}}),
         "update svc 10.96.0.1:80/TCP#2"},
        {"swap_member_delete", Desired({{kSvcA, {kE1, kE2, kE3}}}), Desired({{kSvcA, {kE1, kE4, kE3}}}),
         "delete member svc 1 backend 2"},
        {"move_between_services_member", Desired({{kSvcA, {kE1, kE2}}, {kSvcC, {kE3}}}),
         Desired({{kSvcA, {kE1}}, {kSvcC, {kE3, kE2}}}), "update member svc 2 backend 2"},
        {"remove_master", Desired({{kSvcA, {kE1, kE2}}, {kSvcB443, {kE2}}}), Desired({{kSvcB443, {kE2}}}),
         "delete svc 10.96.0.1:80/TCP#0"},
        {"remove_slot", Desired({{kSvcA, {kE1, kE2}}, {kSvcB443, {kE2}}}), Desired({{kSvcB443, {kE2}}}),
         "delete svc 10.96.0.1:80/TCP#2"},
        {"remove_member_delete", Desired({{kSvcA, {kE1, kE2}}, {kSvcB443, {kE2}}}), Desired({{kSvcB443, {kE2}}}),
         "delete member svc 1 backend 2"},
        {"remove_backend_delete", Desired({{kSvcA, {kE1, kE2}}, {kSvcB443, {kE2}}}), Desired({{kSvcB443, {kE2}}}),
         "delete be 1", false},
    }),
    [](const ::testing::TestParamInfo<InjectedFailureCase>& info) { return info.param.name; });

TEST_F(ReconcilerTest, FailedSlotWriteDuringGrowKeepsOldCount) {
  MustSync(*reconciler_, Desired({{kSvcA, {kE1, kE2}}}));
  maps_.FailNext("update svc 10.96.0.1:80/TCP#4", absl::UnavailableError("injected"));
  SyncResult result = reconciler_->Sync(Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}));
  EXPECT_FALSE(result.ok());
  // The master is written after the slots, so it was never raised to 4.
  EXPECT_THAT(DumpOf(maps_, "svc 10.96.0.1:80/TCP #0"), ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0"));
  EXPECT_THAT(DumpOf(maps_, "svc 10.96.0.1:80/TCP #1"), ElementsAre("svc 10.96.0.1:80/TCP #1 backend=1"));
  EXPECT_THAT(DumpOf(maps_, "svc 10.96.0.1:80/TCP #2"), ElementsAre("svc 10.96.0.1:80/TCP #2 backend=2"));
  EXPECT_TRUE(SlotsResolve(maps_));
}

}  // namespace
}  // namespace bpfproxy
