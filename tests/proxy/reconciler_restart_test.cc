// Reconciler against FakeLbMaps across restarts: a new Reconciler rebuilds its
// state from the maps, and its first Sync prunes or repairs the entries an
// earlier daemon (or a crash) left behind.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/fake_lb_maps.h"
#include "proxy/lb_maps.h"
#include "proxy/reconciler.h"
#include "tests/proxy/reconciler_cases.h"
#include "tests/proxy/reconciler_test_util.h"

namespace bpfproxy {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// The fake, seen by the reconciler through a watcher that checks after every
// single write that no slot dangles.
struct Maps {
  FakeLbMaps fake;
  WatchedLbMaps watched{fake};
};

// Write raw entries the way an earlier daemon (or a crash) left them.
void PutMaster(FakeLbMaps& maps, absl::string_view frontend, uint32_t service_id, uint16_t count) {
  ASSERT_TRUE(
      maps.UpdateService(MakeServiceKey(L4(frontend), LB_SLOT_MASTER), MakeMasterValue(service_id, count)).ok());
}
void PutSlot(FakeLbMaps& maps, absl::string_view frontend, uint16_t slot, uint32_t service_id, uint32_t backend_id) {
  ASSERT_TRUE(maps.UpdateService(MakeServiceKey(L4(frontend), slot), MakeSlotValue(service_id, backend_id)).ok());
}
void PutMember(FakeLbMaps& maps, uint32_t service_id, uint32_t backend_id) {
  ASSERT_TRUE(maps.UpdateMember(MakeMemberKey(service_id, backend_id)).ok());
}
void PutBackend(FakeLbMaps& maps, uint32_t id, absl::string_view backend) {
  ASSERT_TRUE(maps.UpdateBackend(id, MakeBackendValue(id, L4(backend))).ok());
}

// --- Restart ------------------------------------------------------------------

TEST(ReconcilerTest, CreateRebuildsIdsAndRefcountsFromTheMaps) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  {
    auto first = MustCreate(m.watched);
    ASSERT_NE(first, nullptr);
    MustSync(*first, Desired({{kSvcA, {kE1, kE2}}, {kSvcB443, {kE2, kE3}}}));
    MustSync(*first, Desired({{kSvcA, {kE1, kE2, kE4}}, {kSvcB443, {kE2, kE3}}}));
    MustSync(*first, Desired({{kSvcA, {kE1, kE4}}, {kSvcB443, {kE2, kE3}}}));
  }
  ASSERT_THAT(Dump(maps),
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "svc 10.96.0.1:80/TCP #2 backend=4", "svc 10.96.0.2:443/TCP #0 id=2 count=2 flags=0",
                          "svc 10.96.0.2:443/TCP #1 backend=2", "svc 10.96.0.2:443/TCP #2 backend=3",
                          "member 10.96.0.1:80/TCP backend=1", "member 10.96.0.1:80/TCP backend=4",
                          "member 10.96.0.2:443/TCP backend=2", "member 10.96.0.2:443/TCP backend=3",
                          "be 1 10.244.0.1:8080/TCP", "be 2 10.244.0.2:8080/TCP", "be 3 10.244.0.3:8080/TCP",
                          "be 4 10.244.0.4:8080/TCP"));

  maps.ClearOps();
  auto restarted = MustCreate(m.watched);
  ASSERT_NE(restarted, nullptr);
  EXPECT_THAT(maps.ops(), IsEmpty()) << "Create writes nothing";
  EXPECT_EQ(restarted->backend_entries(), 4u);
  EXPECT_EQ(restarted->service_entries(), 6u);
  // Applied() lists backends in slot order.
  EXPECT_EQ(restarted->Applied(), Desired({{kSvcA, {kE1, kE4}}, {kSvcB443, {kE2, kE3}}}));

  // A new frontend gets the service ID after the highest in the maps and
  // reuses the existing backends' IDs.
  MustSync(*restarted, Desired({{kSvcA, {kE1, kE4}}, {kSvcB443, {kE2, kE3}}, {kSvcC, {kE3, kE4}}}));
  EXPECT_THAT(maps.ops(),
              ElementsAre("update member svc 3 backend 3", "update member svc 3 backend 4",
                          "update svc 10.96.0.3:80/TCP#1 backend=3", "update svc 10.96.0.3:80/TCP#2 backend=4",
                          "update svc 10.96.0.3:80/TCP#0 count=2"));

  // Backends go only when their last user does.
  maps.ClearOps();
  MustSync(*restarted, Desired({{kSvcB443, {kE2, kE3}}, {kSvcC, {kE3, kE4}}}));
  EXPECT_THAT(maps.ops(), ElementsAre("delete svc 10.96.0.1:80/TCP#0", "delete svc 10.96.0.1:80/TCP#2",
                                      "delete svc 10.96.0.1:80/TCP#1", "delete member svc 1 backend 1",
                                      "delete member svc 1 backend 4", "delete be 1"));
  maps.ClearOps();
  MustSync(*restarted, Desired({{kSvcC, {kE3, kE4}}}));
  EXPECT_THAT(maps.ops(), ElementsAre("delete svc 10.96.0.2:443/TCP#0", "delete svc 10.96.0.2:443/TCP#2",
                                      "delete svc 10.96.0.2:443/TCP#1", "delete member svc 2 backend 2",
                                      "delete member svc 2 backend 3", "delete be 2"));
  maps.ClearOps();
  MustSync(*restarted, {});
  EXPECT_THAT(maps.ops(), ElementsAre("delete svc 10.96.0.3:80/TCP#0", "delete svc 10.96.0.3:80/TCP#2",
                                      "delete svc 10.96.0.3:80/TCP#1", "delete member svc 3 backend 3",
                                      "delete member svc 3 backend 4", "delete be 3", "delete be 4"));
  EXPECT_THAT(Dump(maps), IsEmpty());
  EXPECT_EQ(restarted->backend_entries(), 0u);
  EXPECT_EQ(restarted->service_entries(), 0u);
}

TEST(ReconcilerTest, RestartContinuesIdsAfterTheHighestInTheMaps) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  {
    auto first = MustCreate(m.watched);
    ASSERT_NE(first, nullptr);
    MustSync(*first, Desired({{kSvcA, {kE1, kE2}}, {kSvcB443, {kE3}}}));
    MustSync(*first, Desired({{kSvcB443, {kE3}}}));  // Frees service ID 1, backend IDs 1 and 2.
  }
  ASSERT_THAT(Dump(maps),
              ElementsAre("svc 10.96.0.2:443/TCP #0 id=2 count=1 flags=0", "svc 10.96.0.2:443/TCP #1 backend=3",
                          "member 10.96.0.2:443/TCP backend=3", "be 3 10.244.0.3:8080/TCP"));
  auto restarted = MustCreate(m.watched);
  ASSERT_NE(restarted, nullptr);
  maps.ClearOps();
  MustSync(*restarted, Desired({{kSvcA, {kE1}}, {kSvcB443, {kE3}}}));
  // Not the lowest free IDs (1): one past the highest in the maps.
  EXPECT_THAT(maps.ops(),
              ElementsAre("update be 4 10.244.0.1:8080/TCP", "update member svc 3 backend 4",
                          "update svc 10.96.0.1:80/TCP#1 backend=4", "update svc 10.96.0.1:80/TCP#0 count=1"));
  // The next ones continue from there.
  maps.ClearOps();
  MustSync(*restarted, Desired({{kSvcA, {kE1, kE5}}, {kSvcB443, {kE3}}, {kSvcC, {}}}));
  EXPECT_THAT(maps.ops(), ElementsAre("update svc 10.96.0.3:80/TCP#0 count=0", "update be 5 10.244.0.5:8080/TCP",
                                      "update member svc 3 backend 5", "update svc 10.96.0.1:80/TCP#2 backend=5",
                                      "update svc 10.96.0.1:80/TCP#0 count=2"));
  EXPECT_THAT(DumpOf(maps, "svc 10.96.0.3:80/TCP"), ElementsAre("svc 10.96.0.3:80/TCP #0 id=4 count=0 flags=0"));
}

// --- Stale entries ------------------------------------------------------------

TEST(ReconcilerTest, FirstSyncPrunesEntriesNoFrontendOwns) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  PutMaster(maps, kSvcA, 1, 1);
  PutSlot(maps, kSvcA, 1, 1, 1);
  PutSlot(maps, kSvcA, 2, 1, 1);               // Past the count.
  PutSlot(maps, "10.96.0.7:80/TCP", 1, 7, 1);  // No master.
  PutMember(maps, 1, 1);
  PutMember(maps, 7, 1);  // No master has service ID 7.
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 9, "10.244.0.9:8080/TCP");  // Referenced by nothing.
  maps.ClearOps();

  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  EXPECT_THAT(maps.ops(), IsEmpty()) << "Create writes nothing; pruning waits for Sync";
  EXPECT_EQ(reconciler->Applied(), Desired({{kSvcA, {kE1}}}));

  SyncResult result = reconciler->Sync(Desired({{kSvcA, {kE1}}}));
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.pruned_services, 2u);
  EXPECT_EQ(result.pruned_backends, 1u);
  EXPECT_THAT(maps.ops(), UnorderedElementsAre("delete svc 10.96.0.1:80/TCP#2", "delete svc 10.96.0.7:80/TCP#1",
                                               "delete member svc 7 backend 1", "delete be 9"));
  EXPECT_THAT(Dump(maps),
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "member 10.96.0.1:80/TCP backend=1", "be 1 10.244.0.1:8080/TCP"));

  maps.ClearOps();
  SyncResult again = reconciler->Sync(Desired({{kSvcA, {kE1}}}));
  EXPECT_EQ(again.pruned_services + again.pruned_backends, 0u);
  EXPECT_THAT(maps.ops(), IsEmpty());
}

TEST(ReconcilerTest, FirstSyncRemovesServicesNotDesiredAndCountsTheirEntriesAsPruned) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  PutMaster(maps, kSvcA, 1, 1);
  PutSlot(maps, kSvcA, 1, 1, 1);
  PutMaster(maps, kSvcB443, 2, 2);  // Left by the previous daemon, gone from the API.
  PutSlot(maps, kSvcB443, 1, 2, 1);
  PutSlot(maps, kSvcB443, 2, 2, 2);
  PutMember(maps, 1, 1);
  PutMember(maps, 2, 1);
  PutMember(maps, 2, 2);
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 2, kE2);

  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  SyncResult result = reconciler->Sync(Desired({{kSvcA, {kE1}}}));
  EXPECT_TRUE(result.ok());
  EXPECT_THAT(Dump(maps),
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "member 10.96.0.1:80/TCP backend=1", "be 1 10.244.0.1:8080/TCP"));
  // Master and slots; memberships are not service entries.
  EXPECT_EQ(result.pruned_services, 3u);
  // Backend 2 went with its last user; the header counts only backends that
  // nothing referenced.
  EXPECT_EQ(result.pruned_backends, 0u);
}

TEST(ReconcilerTest, FailedPruneIsReportedApartFromFrontendsAndRetried) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  PutMaster(maps, kSvcA, 1, 1);
  PutSlot(maps, kSvcA, 1, 1, 1);
  PutMember(maps, 1, 1);
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 9, "10.244.0.9:8080/TCP");  // Referenced by nothing.

  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  DesiredFrontends desired = Desired({{kSvcA, {kE1}}});
  maps.FailNext("delete be 9", absl::UnavailableError("injected"));
  SyncResult result = reconciler->Sync(desired);
  // An orphan backend belongs to no frontend: its error is the prune status.
  EXPECT_TRUE(result.failed.empty());
  EXPECT_EQ(result.prune_status.code(), absl::StatusCode::kUnavailable) << result.prune_status;
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.pruned_backends, 0u);
  // The sweep at the end of the same Sync retried it.
  EXPECT_TRUE(MapsHold(maps, desired));

  result = reconciler->Sync(desired);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.pruned_backends, 0u);
}

TEST(ReconcilerTest, DuplicateBackendIdStaysWhileASlotStillPointsAtIt) {
  // A foreign writer left two IDs for one address, both in use.
  Maps m;
  FakeLbMaps& maps = m.fake;
  PutMaster(maps, kSvcA, 1, 1);
  PutSlot(maps, kSvcA, 1, 1, 1);
  PutMaster(maps, kSvcC, 2, 1);
  PutSlot(maps, kSvcC, 1, 2, 7);
  PutMember(maps, 1, 1);
  PutMember(maps, 2, 7);
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 7, kE1);
  ASSERT_TRUE(SlotsResolve(maps));

  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  // kSvcC's update is rejected, so its slot keeps pointing at backend 7.
  SyncResult result = reconciler->Sync(Desired({{kSvcA, {kE1}}, {kSvcC, {kE1, "10.244.0.2:8080/UDP"}}}));
  EXPECT_TRUE(result.failed.contains(L4(kSvcC)));
  EXPECT_THAT(DumpOf(maps, "svc 10.96.0.3:80/TCP"),
              ElementsAre("svc 10.96.0.3:80/TCP #0 id=2 count=1 flags=0", "svc 10.96.0.3:80/TCP #1 backend=7"));
  EXPECT_THAT(DumpOf(maps, "be "), ElementsAre("be 1 10.244.0.1:8080/TCP", "be 7 10.244.0.1:8080/TCP"));

  // Once kSvcC is rewritten onto ID 1, backend 7 and its membership go.
  MustSync(*reconciler, Desired({{kSvcA, {kE1}}, {kSvcC, {kE1}}}));
  EXPECT_THAT(Dump(maps),
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "svc 10.96.0.3:80/TCP #0 id=2 count=1 flags=0", "svc 10.96.0.3:80/TCP #1 backend=1",
                          "member 10.96.0.1:80/TCP backend=1", "member 10.96.0.3:80/TCP backend=1",
                          "be 1 10.244.0.1:8080/TCP"));
  EXPECT_TRUE(MapsHold(maps, Desired({{kSvcA, {kE1}}, {kSvcC, {kE1}}})));
}

TEST(ReconcilerTest, FirstSyncRepairsEntriesACrashLeftInconsistent) {
  FakeLbMaps maps;
  PutMaster(maps, kSvcA, 1, 2);
  PutSlot(maps, kSvcA, 1, 1, 1);
  PutSlot(maps, kSvcA, 2, 1, 5);  // Backend 5 does not exist.
  PutMaster(maps, kSvcB443, 2, 2);
  PutSlot(maps, kSvcB443, 1, 2, 1);  // Slot 2 is missing.
  PutMaster(maps, kSvcC, 3, 1);
  PutSlot(maps, kSvcC, 1, 3, 7);  // Same address as backend 1 under another ID.
  PutMember(maps, 1, 1);
  PutMember(maps, 1, 5);  // Backend 5 does not exist.
  PutMember(maps, 2, 1);
  PutMember(maps, 3, 7);
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 7, kE1);

  // The maps start with dangling entries, so single writes are not checked.
  auto reconciler = MustCreate(maps);
  ASSERT_NE(reconciler, nullptr);
  DesiredFrontends desired = Desired({{kSvcA, {kE1, kE2}}, {kSvcB443, {kE1, kE3}}, {kSvcC, {kE1}}});
  SyncResult result = reconciler->Sync(desired);
  EXPECT_TRUE(result.ok());
  EXPECT_TRUE(MapsHold(maps, desired));

  MustSync(*reconciler, {});
  EXPECT_THAT(Dump(maps), IsEmpty());
}

// --- Restored IDs ---------------------------------------------------------------

TEST(ReconcilerTest, MasterWithServiceIdZeroIsReplacedUnderANewId) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  PutMaster(maps, kSvcA, 0, 1);  // ID 0 is never allocated: not ours.
  PutSlot(maps, kSvcA, 1, 0, 1);
  PutMember(maps, 0, 1);
  PutMaster(maps, kSvcB443, 4, 1);
  PutSlot(maps, kSvcB443, 1, 4, 1);
  PutMember(maps, 4, 1);
  PutBackend(maps, 1, kE1);
  maps.ClearOps();

  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  EXPECT_EQ(reconciler->Applied(), Desired({{kSvcB443, {kE1}}}));
  DesiredFrontends desired = Desired({{kSvcA, {kE1}}, {kSvcB443, {kE1}}});
  MustSync(*reconciler, desired);
  // The stale frontend goes master first, so its slot never dangles; it
  // comes back under the ID after the highest in the maps.
  EXPECT_THAT(maps.ops(),
              ElementsAre("delete svc 10.96.0.1:80/TCP#0", "delete svc 10.96.0.1:80/TCP#1",
                          "delete member svc 0 backend 1", "update member svc 5 backend 1",
                          "update svc 10.96.0.1:80/TCP#1 backend=1", "update svc 10.96.0.1:80/TCP#0 count=1"));
  EXPECT_THAT(Dump(maps),
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=5 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "svc 10.96.0.2:443/TCP #0 id=4 count=1 flags=0", "svc 10.96.0.2:443/TCP #1 backend=1",
                          "member 10.96.0.1:80/TCP backend=1", "member 10.96.0.2:443/TCP backend=1",
                          "be 1 10.244.0.1:8080/TCP"));
  EXPECT_TRUE(MapsHold(maps, desired));
}

TEST(ReconcilerTest, MastersSharingAServiceIdEndUpWithDistinctIds) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  PutMaster(maps, kSvcA, 3, 1);
  PutSlot(maps, kSvcA, 1, 3, 1);
  PutMaster(maps, kSvcC, 3, 1);
  PutSlot(maps, kSvcC, 1, 3, 1);
  PutMember(maps, 3, 1);
  PutBackend(maps, 1, kE1);

  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  DesiredFrontends desired = Desired({{kSvcA, {kE1}}, {kSvcC, {kE1}}});
  MustSync(*reconciler, desired);
  EXPECT_TRUE(MapsHold(maps, desired));
  // Which of the two keeps ID 3 is not part of the contract; the other is
  // rewritten under ID 4.
  EXPECT_THAT(DumpOf(maps, "svc "),
              AnyOf(ElementsAre("svc 10.96.0.1:80/TCP #0 id=3 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                                "svc 10.96.0.3:80/TCP #0 id=4 count=1 flags=0", "svc 10.96.0.3:80/TCP #1 backend=1"),
                    ElementsAre("svc 10.96.0.1:80/TCP #0 id=4 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                                "svc 10.96.0.3:80/TCP #0 id=3 count=1 flags=0", "svc 10.96.0.3:80/TCP #1 backend=1")));
}

TEST(ReconcilerTest, VisibleSlotOfAnotherServiceIdIsRewritten) {
  FakeLbMaps maps;
  PutMaster(maps, kSvcA, 1, 2);
  PutSlot(maps, kSvcA, 1, 1, 1);
  PutSlot(maps, kSvcA, 2, 9, 2);  // Service ID 9: the datapath rejects it.
  PutMember(maps, 1, 1);
  PutMember(maps, 1, 2);
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 2, kE2);
  ASSERT_THAT(DumpOf(maps, "svc 10.96.0.1:80/TCP #2"), ElementsAre("svc 10.96.0.1:80/TCP #2 backend=2 id=9"));
  maps.ClearOps();

  // The maps start with a slot the datapath rejects, so single writes are
  // not checked; the one write below is.
  auto reconciler = MustCreate(maps);
  ASSERT_NE(reconciler, nullptr);
  DesiredFrontends desired = Desired({{kSvcA, {kE1, kE2}}});
  MustSync(*reconciler, desired);
  EXPECT_THAT(maps.ops(), ElementsAre("update svc 10.96.0.1:80/TCP#2 backend=2"));
  EXPECT_THAT(DumpOf(maps, "svc 10.96.0.1:80/TCP #2"), ElementsAre("svc 10.96.0.1:80/TCP #2 backend=2"));
  EXPECT_TRUE(MapsHold(maps, desired));
}

// --- Writes before the first Sync claim stale entries ---------------------------

TEST(ReconcilerTest, UpsertBeforeFirstSyncClaimsAStaleSlotPastTheCount) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  PutMaster(maps, kSvcA, 1, 1);
  PutSlot(maps, kSvcA, 1, 1, 1);
  PutSlot(maps, kSvcA, 2, 1, 2);  // Past the count: stale.
  PutMember(maps, 1, 1);
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 2, kE2);
  maps.ClearOps();

  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  ASSERT_TRUE(reconciler->Upsert(L4(kSvcA), {L4(kE1), L4(kE2)}).ok());
  EXPECT_THAT(maps.ops(), ElementsAre("update member svc 1 backend 2", "update svc 10.96.0.1:80/TCP#2 backend=2",
                                      "update svc 10.96.0.1:80/TCP#0 count=2"));
  // Slot 2 now belongs to kSvcA: the first Sync must not prune it.
  maps.ClearOps();
  DesiredFrontends desired = Desired({{kSvcA, {kE1, kE2}}});
  SyncResult result = reconciler->Sync(desired);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.pruned_services, 0u);
  EXPECT_EQ(result.pruned_backends, 0u);
  EXPECT_THAT(maps.ops(), IsEmpty());
  EXPECT_TRUE(MapsHold(maps, desired));
  EXPECT_THAT(Dump(maps),
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "svc 10.96.0.1:80/TCP #2 backend=2", "member 10.96.0.1:80/TCP backend=1",
                          "member 10.96.0.1:80/TCP backend=2", "be 1 10.244.0.1:8080/TCP", "be 2 10.244.0.2:8080/TCP"));
}

TEST(ReconcilerTest, UpsertBeforeFirstSyncClaimsAStaleSlotWithoutMaster) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  PutSlot(maps, kSvcA, 1, 6, 1);  // No master: stale. Service ID 6 is taken.
  PutBackend(maps, 1, kE1);
  maps.ClearOps();

  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  ASSERT_TRUE(reconciler->Upsert(L4(kSvcA), {L4(kE1)}).ok());
  // New IDs start past every ID the maps mention, the stale slot's 6 too.
  EXPECT_THAT(maps.ops(), ElementsAre("update member svc 7 backend 1", "update svc 10.96.0.1:80/TCP#1 backend=1",
                                      "update svc 10.96.0.1:80/TCP#0 count=1"));
  maps.ClearOps();
  DesiredFrontends desired = Desired({{kSvcA, {kE1}}});
  SyncResult result = reconciler->Sync(desired);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.pruned_services, 0u);
  EXPECT_THAT(maps.ops(), IsEmpty());
  EXPECT_TRUE(MapsHold(maps, desired));
  EXPECT_THAT(Dump(maps),
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=7 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "member 10.96.0.1:80/TCP backend=1", "be 1 10.244.0.1:8080/TCP"));
}

// Review finding: the next backend ID came from the highest existing backend
// only, so a stale slot naming a missing backend 2 could meet a new backend
// 2 of another frontend and send its connections there.
TEST(ReconcilerTest, NewIdsStartPastEveryIdTheMapsMention) {
  FakeLbMaps maps;  // Unwatched: the starting state is already broken.
  PutMaster(maps, kSvcC, 1, 2);
  PutSlot(maps, kSvcC, 1, 1, 1);
  PutSlot(maps, kSvcC, 2, 1, 2);  // Backend 2 does not exist.
  PutMember(maps, 1, 1);
  PutBackend(maps, 1, kE1);
  maps.ClearOps();

  auto reconciler = MustCreate(maps);
  ASSERT_NE(reconciler, nullptr);
  DesiredFrontends desired = Desired({{kSvcA, {kE2}}, {kSvcC, {kE1, kE3, kE4}}});
  SyncResult result = reconciler->Sync(desired);
  EXPECT_TRUE(result.ok());
  for (const std::string& op : maps.ops()) {
    EXPECT_FALSE(absl::StartsWith(op, "update be 2 ")) << "backend ID 2 reused while a slot names it: " << op;
  }
  EXPECT_TRUE(MapsHold(maps, desired));
}

// Review finding: the prune at the start of a Sync deleted an unreferenced
// backend that the same Sync then recreated under a new ID.
TEST(ReconcilerTest, FirstSyncKeepsAnOrphanBackendThatIsWanted) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  PutSlot(maps, kSvcA, 1, 4, 1);  // No master: stale; backend 1 is referenced by nothing live.
  PutBackend(maps, 1, kE1);
  maps.ClearOps();

  auto reconciler = MustCreate(maps);
  ASSERT_NE(reconciler, nullptr);
  DesiredFrontends desired = Desired({{kSvcA, {kE1}}});
  SyncResult result = reconciler->Sync(desired);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.pruned_backends, 0u);
  EXPECT_THAT(maps.ops(), ::testing::Not(::testing::Contains("delete be 1")));
  EXPECT_TRUE(MapsHold(maps, desired));
  EXPECT_THAT(Dump(maps), ::testing::Contains("be 1 10.244.0.1:8080/TCP"));
}

// --- Service IDs, as the metrics hear of them --------------------------------

TEST(ReconcilerTest, ServiceIdListenerHearsRestoredNewAndReleasedIds) {
  Maps m;
  {
    auto first = MustCreate(m.watched);
    ASSERT_NE(first, nullptr);
    MustSync(*first, Desired({{kSvcA, {kE1}}, {kSvcB443, {kE2}}}));
  }
  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  std::vector<std::string> heard;
  auto record = [&](absl::string_view what) {
    return [&heard, what](const L4Address& frontend, uint32_t id) {
      heard.push_back(absl::StrCat(what, " ", frontend.ToString(), " ", id));
    };
  };
  reconciler->SetServiceIdListener({.assigned = record("assigned"), .released = record("released")});
  // The restored IDs are the ones the masters in the maps carry.
  EXPECT_THAT(heard, UnorderedElementsAre("assigned 10.96.0.1:80/TCP 1", "assigned 10.96.0.2:443/TCP 2"));
  EXPECT_THAT(Dump(m.fake), ::testing::Contains("svc 10.96.0.2:443/TCP #0 id=2 count=1 flags=0"));
  EXPECT_EQ(reconciler->ServiceIdOf(L4(kSvcA)), 1u);

  heard.clear();
  MustSync(*reconciler, Desired({{kSvcB443, {kE2}}, {kSvcC, {kE3}}}));
  EXPECT_THAT(heard, ElementsAre("released 10.96.0.1:80/TCP 1", "assigned 10.96.0.3:80/TCP 3"));
  EXPECT_EQ(reconciler->ServiceIdOf(L4(kSvcA)), std::nullopt);
  EXPECT_EQ(reconciler->ServiceIdOf(L4(kSvcC)), 3u);

  heard.clear();
  ASSERT_TRUE(reconciler->Upsert(L4(kSvcC), {L4(kE3), L4(kE4)}).ok());
  EXPECT_THAT(heard, IsEmpty()) << "a frontend keeps its ID while it changes";
  ASSERT_TRUE(reconciler->Remove(L4(kSvcC)).ok());
  EXPECT_THAT(heard, ElementsAre("released 10.96.0.3:80/TCP 3"));
}

}  // namespace
}  // namespace bpfproxy
