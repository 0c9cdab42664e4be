// Reconciler against FakeLbMaps across restarts: a new Reconciler rebuilds its
// state from the maps, and its first Sync prunes or repairs the entries an
// earlier daemon (or a crash) left behind.
#include <cstdint>

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

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// The fake, seen by the reconciler through a watcher that checks after every
// single write that no slot dangles.
struct Maps {
  FakeLbMaps fake;
  WatchedLbMaps watched{fake};
};

// Writes a raw entry the way an earlier daemon (or a crash) left it.
void PutMaster(FakeLbMaps& maps, absl::string_view frontend, uint16_t count) {
  lb_service_value value{};
  value.count = count;
  ASSERT_TRUE(maps.UpdateService(MakeServiceKey(L4(frontend), LB_SLOT_MASTER), value).ok());
}
void PutSlot(FakeLbMaps& maps, absl::string_view frontend, uint16_t slot, uint32_t backend_id) {
  lb_service_value value{};
  value.backend_id = backend_id;
  ASSERT_TRUE(maps.UpdateService(MakeServiceKey(L4(frontend), slot), value).ok());
}
void PutBackend(FakeLbMaps& maps, uint32_t id, absl::string_view backend) {
  ASSERT_TRUE(maps.UpdateBackend(id, MakeBackendValue(L4(backend))).ok());
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
  ASSERT_THAT(Dump(maps), ElementsAre("svc 10.96.0.1:80/TCP #0 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                                      "svc 10.96.0.1:80/TCP #2 backend=4", "svc 10.96.0.2:443/TCP #0 count=2 flags=0",
                                      "svc 10.96.0.2:443/TCP #1 backend=2", "svc 10.96.0.2:443/TCP #2 backend=3",
                                      "be 1 10.244.0.1:8080/TCP", "be 2 10.244.0.2:8080/TCP",
                                      "be 3 10.244.0.3:8080/TCP", "be 4 10.244.0.4:8080/TCP"));

  maps.ClearOps();
  auto restarted = MustCreate(m.watched);
  ASSERT_NE(restarted, nullptr);
  EXPECT_THAT(maps.ops(), IsEmpty()) << "Create writes nothing";
  EXPECT_EQ(restarted->backend_entries(), 4u);
  EXPECT_EQ(restarted->service_entries(), 6u);
  // Applied() lists backends in slot order.
  EXPECT_EQ(restarted->Applied(), Desired({{kSvcA, {kE1, kE4}}, {kSvcB443, {kE2, kE3}}}));

  // A new frontend on existing backends reuses their IDs.
  MustSync(*restarted, Desired({{kSvcA, {kE1, kE4}}, {kSvcB443, {kE2, kE3}}, {kSvcC, {kE3, kE4}}}));
  EXPECT_THAT(maps.ops(),
              ElementsAre("update svc 10.96.0.3:80/TCP#1 backend=3", "update svc 10.96.0.3:80/TCP#2 backend=4",
                          "update svc 10.96.0.3:80/TCP#0 count=2"));

  // Backends go only when their last user does.
  maps.ClearOps();
  MustSync(*restarted, Desired({{kSvcB443, {kE2, kE3}}, {kSvcC, {kE3, kE4}}}));
  EXPECT_THAT(maps.ops(), ElementsAre("delete svc 10.96.0.1:80/TCP#0", "delete svc 10.96.0.1:80/TCP#2",
                                      "delete svc 10.96.0.1:80/TCP#1", "delete be 1"));
  maps.ClearOps();
  MustSync(*restarted, Desired({{kSvcC, {kE3, kE4}}}));
  EXPECT_THAT(maps.ops(), ElementsAre("delete svc 10.96.0.2:443/TCP#0", "delete svc 10.96.0.2:443/TCP#2",
                                      "delete svc 10.96.0.2:443/TCP#1", "delete be 2"));
  maps.ClearOps();
  MustSync(*restarted, {});
  EXPECT_THAT(maps.ops(), ElementsAre("delete svc 10.96.0.3:80/TCP#0", "delete svc 10.96.0.3:80/TCP#2",
                                      "delete svc 10.96.0.3:80/TCP#1", "delete be 4", "delete be 3"));
  EXPECT_THAT(Dump(maps), IsEmpty());
  EXPECT_EQ(restarted->backend_entries(), 0u);
  EXPECT_EQ(restarted->service_entries(), 0u);
}

TEST(ReconcilerTest, RestartAllocatesIdsLikeTheDaemonItReplaced) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  {
    auto first = MustCreate(m.watched);
    ASSERT_NE(first, nullptr);
    MustSync(*first, Desired({{kSvcA, {kE1, kE2, kE3}}}));
    MustSync(*first, Desired({{kSvcA, {kE1, kE3}}}));  // Frees ID 2.
  }
  auto restarted = MustCreate(m.watched);
  ASSERT_NE(restarted, nullptr);
  maps.ClearOps();
  MustSync(*restarted, Desired({{kSvcA, {kE1, kE3, kE4}}}));
  // Same as without a restart (case "shrink", step 3): the lowest free ID.
  EXPECT_THAT(maps.ops(), ElementsAre("update be 2 10.244.0.4:8080/TCP", "update svc 10.96.0.1:80/TCP#3 backend=2",
                                      "update svc 10.96.0.1:80/TCP#0 count=3"));
  // The next one continues after the highest ID in use.
  maps.ClearOps();
  MustSync(*restarted, Desired({{kSvcA, {kE1, kE3, kE4, kE5}}}));
  EXPECT_THAT(maps.ops(), ElementsAre("update be 4 10.244.0.5:8080/TCP", "update svc 10.96.0.1:80/TCP#4 backend=4",
                                      "update svc 10.96.0.1:80/TCP#0 count=4"));
}

// --- Stale entries ------------------------------------------------------------

TEST(ReconcilerTest, FirstSyncPrunesEntriesNoFrontendOwns) {
  FakeLbMaps maps;
  PutMaster(maps, kSvcA, 1);
  PutSlot(maps, kSvcA, 1, 1);
  PutSlot(maps, kSvcA, 2, 1);               // Past the count.
  PutSlot(maps, "10.96.0.7:80/TCP", 1, 1);  // No master.
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 9, "10.244.0.9:8080/TCP");  // Referenced by nothing.
  maps.ClearOps();

  WatchedLbMaps watched(maps);
  auto reconciler = MustCreate(watched);
  ASSERT_NE(reconciler, nullptr);
  EXPECT_THAT(maps.ops(), IsEmpty()) << "Create writes nothing; pruning waits for Sync";
  EXPECT_EQ(reconciler->Applied(), Desired({{kSvcA, {kE1}}}));

  SyncResult result = reconciler->Sync(Desired({{kSvcA, {kE1}}}));
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.pruned_services, 2u);
  EXPECT_EQ(result.pruned_backends, 1u);
  EXPECT_THAT(maps.ops(),
              UnorderedElementsAre("delete svc 10.96.0.1:80/TCP#2", "delete svc 10.96.0.7:80/TCP#1", "delete be 9"));
  EXPECT_THAT(Dump(maps), ElementsAre("svc 10.96.0.1:80/TCP #0 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                                      "be 1 10.244.0.1:8080/TCP"));

  maps.ClearOps();
  SyncResult again = reconciler->Sync(Desired({{kSvcA, {kE1}}}));
  EXPECT_EQ(again.pruned_services + again.pruned_backends, 0u);
  EXPECT_THAT(maps.ops(), IsEmpty());
}

TEST(ReconcilerTest, FirstSyncRemovesServicesNotDesiredAndCountsTheirEntriesAsPruned) {
  FakeLbMaps maps;
  PutMaster(maps, kSvcA, 1);
  PutSlot(maps, kSvcA, 1, 1);
  PutMaster(maps, kSvcB443, 2);  // Left by the previous daemon, gone from the API.
  PutSlot(maps, kSvcB443, 1, 1);
  PutSlot(maps, kSvcB443, 2, 2);
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 2, kE2);

  WatchedLbMaps watched(maps);
  auto reconciler = MustCreate(watched);
  ASSERT_NE(reconciler, nullptr);
  SyncResult result = reconciler->Sync(Desired({{kSvcA, {kE1}}}));
  EXPECT_TRUE(result.ok());
  EXPECT_THAT(Dump(maps), ElementsAre("svc 10.96.0.1:80/TCP #0 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                                      "be 1 10.244.0.1:8080/TCP"));
  EXPECT_EQ(result.pruned_services, 3u);
  // Backend 2 went with its last user; the header counts only backends that
  // no slot referenced.
  EXPECT_EQ(result.pruned_backends, 0u);
}

TEST(ReconcilerTest, FailedPruneIsReportedApartFromFrontendsAndRetried) {
  FakeLbMaps maps;
  PutMaster(maps, kSvcA, 1);
  PutSlot(maps, kSvcA, 1, 1);
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 9, "10.244.0.9:8080/TCP");  // Referenced by nothing.

  WatchedLbMaps watched(maps);
  auto reconciler = MustCreate(watched);
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
  FakeLbMaps maps;
  PutMaster(maps, kSvcA, 1);
  PutSlot(maps, kSvcA, 1, 1);
  PutMaster(maps, kSvcC, 1);
  PutSlot(maps, kSvcC, 1, 7);
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 7, kE1);
  ASSERT_TRUE(SlotsResolve(maps));

  WatchedLbMaps watched(maps);
  auto reconciler = MustCreate(watched);
  ASSERT_NE(reconciler, nullptr);
  // kSvcC's update is rejected, so its slot keeps pointing at backend 7.
  SyncResult result = reconciler->Sync(Desired({{kSvcA, {kE1}}, {kSvcC, {kE1, "10.244.0.2:8080/UDP"}}}));
  EXPECT_TRUE(result.failed.contains(L4(kSvcC)));
  EXPECT_TRUE(SlotsResolve(maps));
  EXPECT_THAT(DumpOf(maps, "svc 10.96.0.3:80/TCP"),
              ElementsAre("svc 10.96.0.3:80/TCP #0 count=1 flags=0", "svc 10.96.0.3:80/TCP #1 backend=7"));

  // Once kSvcC is rewritten onto ID 1, backend 7 is pruned.
  MustSync(*reconciler, Desired({{kSvcA, {kE1}}, {kSvcC, {kE1}}}));
  EXPECT_TRUE(MapsHold(maps, Desired({{kSvcA, {kE1}}, {kSvcC, {kE1}}})));
}

TEST(ReconcilerTest, FirstSyncRepairsEntriesACrashLeftInconsistent) {
  FakeLbMaps maps;
  PutMaster(maps, kSvcA, 2);
  PutSlot(maps, kSvcA, 1, 1);
  PutSlot(maps, kSvcA, 2, 5);  // Backend 5 does not exist.
  PutMaster(maps, kSvcB443, 2);
  PutSlot(maps, kSvcB443, 1, 1);  // Slot 2 is missing.
  PutMaster(maps, kSvcC, 1);
  PutSlot(maps, kSvcC, 1, 7);  // Same address as backend 1 under another ID.
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 7, kE1);

  // The maps start with dangling slots, so single writes are not checked.
  auto reconciler = MustCreate(maps);
  ASSERT_NE(reconciler, nullptr);
  DesiredFrontends desired = Desired({{kSvcA, {kE1, kE2}}, {kSvcB443, {kE1, kE3}}, {kSvcC, {kE1}}});
  SyncResult result = reconciler->Sync(desired);
  EXPECT_TRUE(result.ok());
  EXPECT_TRUE(SlotsResolve(maps));
  EXPECT_TRUE(MapsHold(maps, desired));

  MustSync(*reconciler, {});
  EXPECT_THAT(Dump(maps), IsEmpty());
}

}  // namespace
}  // namespace bpfproxy
