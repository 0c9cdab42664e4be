// Reconciler against FakeLbMaps: the shared table of cases, plus what only the
// fake can show — the order of writes, failures injected between them, full
// maps and stale entries left by an earlier daemon.
#include "proxy/reconciler.h"

#include <memory>
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
#include "tests/proxy/reconciler_cases.h"

namespace bpfproxy {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr absl::string_view kSvcA = "10.96.0.1:80/TCP";
constexpr absl::string_view kSvcB = "10.96.0.2:443/TCP";
constexpr absl::string_view kSvcC = "10.96.0.3:80/TCP";
constexpr absl::string_view kE1 = "10.244.0.1:8080/TCP";
constexpr absl::string_view kE2 = "10.244.0.2:8080/TCP";
constexpr absl::string_view kE3 = "10.244.0.3:8080/TCP";
constexpr absl::string_view kE4 = "10.244.0.4:8080/TCP";
constexpr absl::string_view kE5 = "10.244.0.5:8080/TCP";

std::vector<std::string> Dump(const LbMaps& maps) {
  auto lines = DumpLines(maps);
  EXPECT_TRUE(lines.ok()) << lines.status();
  return lines.ok() ? *lines : std::vector<std::string>{};
}

// Dump lines that start with |prefix|, e.g. one frontend's entries.
std::vector<std::string> DumpOf(const LbMaps& maps, absl::string_view prefix) {
  std::vector<std::string> out;
  for (std::string& line : Dump(maps)) {
    if (absl::StartsWith(line, prefix)) out.push_back(std::move(line));
  }
  return out;
}

// The fake, seen by the reconciler through a watcher that checks after every
// single write that no slot dangles.
struct Maps {
  explicit Maps(LbMapCapacity capacity = {}) : fake(capacity) {}
  FakeLbMaps fake;
  WatchedLbMaps watched{fake};
};

std::unique_ptr<Reconciler> MustCreate(LbMaps& maps) {
  auto reconciler = Reconciler::Create(&maps);
  EXPECT_TRUE(reconciler.ok()) << reconciler.status();
  return reconciler.ok() ? std::move(*reconciler) : nullptr;
}

// Syncs and expects every frontend applied.
void MustSync(Reconciler& reconciler, const DesiredFrontends& desired) {
  SyncResult result = reconciler.Sync(desired);
  for (const auto& [frontend, status] : result.failed) ADD_FAILURE() << frontend.ToString() << ": " << status;
}

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

// --- The shared table ---------------------------------------------------------

class ReconcilerCaseTest : public ::testing::TestWithParam<ReconcilerCase> {};

TEST_P(ReconcilerCaseTest, OnFakeMaps) {
  FakeLbMaps maps;
  RunReconcilerCase(maps, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Cases, ReconcilerCaseTest, ::testing::ValuesIn(ReconcilerCases()),
                         [](const ::testing::TestParamInfo<ReconcilerCase>& info) { return info.param.name; });

// --- FakeLbMaps itself --------------------------------------------------------

TEST(FakeLbMapsTest, BehavesLikeABpfHashMap) {
  LbMapCapacity capacity;
  capacity.services = 1;
  capacity.backends = 1;
  FakeLbMaps maps(capacity);
  lb_service_value master{};
  master.count = 2;
  lb_service_key key = MakeServiceKey(L4(kSvcA), 0);
  EXPECT_TRUE(maps.UpdateService(key, master).ok());
  EXPECT_TRUE(maps.UpdateService(key, master).ok()) << "overwriting a key needs no room";
  absl::Status full = maps.UpdateService(MakeServiceKey(L4(kSvcA), 1), master);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("bpfp_svc_v1"));
  EXPECT_THAT(full.message(), HasSubstr("E2BIG"));
  EXPECT_TRUE(maps.UpdateBackend(3, MakeBackendValue(L4(kE2))).ok());
  EXPECT_EQ(maps.UpdateBackend(4, MakeBackendValue(L4(kE2))).code(), absl::StatusCode::kResourceExhausted);
  absl::Status missing = maps.DeleteBackend(4);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("bpfp_be_v1"));
  EXPECT_EQ(maps.DeleteService(MakeServiceKey(L4(kSvcA), 2)).code(), absl::StatusCode::kNotFound);

  maps.FailNext("delete be 3", absl::UnavailableError("injected"));
  EXPECT_EQ(maps.DeleteBackend(3).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(maps.DeleteBackend(3).ok()) << "a failure is armed for one operation";
  EXPECT_TRUE(maps.DeleteService(key).ok());

  EXPECT_THAT(maps.ops(),
              ElementsAre("update svc 10.96.0.1:80/TCP#0 count=2", "update svc 10.96.0.1:80/TCP#0 count=2",
                          "update be 3 10.244.0.2:8080/TCP", "delete be 3", "delete svc 10.96.0.1:80/TCP#0"));
  EXPECT_THAT(Dump(maps), IsEmpty());
}

// --- Make before break --------------------------------------------------------
//
// Exact write sequences. The phases and their order come from the contract;
// within a phase the reconciler deletes surplus slots from the top down and
// backends in the order they were released, which the sequences record.

struct WriteOrderCase {
  std::string name;
  DesiredFrontends before;
  DesiredFrontends after;
  std::vector<std::string> ops;  // Exactly the writes Sync(after) makes.
};

void PrintTo(const WriteOrderCase& c, std::ostream* os) { *os << c.name; }

class WriteOrderTest : public ::testing::TestWithParam<WriteOrderCase> {};

TEST_P(WriteOrderTest, NewBackendsSlotsMasterThenSurplusSlotsThenBackends) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  MustSync(*reconciler, GetParam().before);
  maps.ClearOps();
  MustSync(*reconciler, GetParam().after);
  EXPECT_THAT(maps.ops(), ElementsAreArray(GetParam().ops));
  EXPECT_TRUE(MapsHold(maps, GetParam().after));
}

INSTANTIATE_TEST_SUITE_P(Ops, WriteOrderTest,
                         ::testing::ValuesIn(std::vector<WriteOrderCase>{
                             {"add",
                              {},
                              Desired({{kSvcA, {kE1, kE2}}}),
                              {"update be 1 10.244.0.1:8080/TCP", "update be 2 10.244.0.2:8080/TCP",
                               "update svc 10.96.0.1:80/TCP#1 backend=1", "update svc 10.96.0.1:80/TCP#2 backend=2",
                               "update svc 10.96.0.1:80/TCP#0 count=2"}},
                             {"grow",
                              Desired({{kSvcA, {kE1, kE2}}}),
                              Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}),
                              {"update be 3 10.244.0.3:8080/TCP", "update be 4 10.244.0.4:8080/TCP",
                               "update svc 10.96.0.1:80/TCP#3 backend=3", "update svc 10.96.0.1:80/TCP#4 backend=4",
                               "update svc 10.96.0.1:80/TCP#0 count=4"}},
                             {"shrink_middle",
                              Desired({{kSvcA, {kE1, kE2, kE3}}}),
                              Desired({{kSvcA, {kE1, kE3}}}),
                              {"update svc 10.96.0.1:80/TCP#2 backend=3", "update svc 10.96.0.1:80/TCP#0 count=2",
                               "delete svc 10.96.0.1:80/TCP#3", "delete be 2"}},
                             {"shrink_tail",
                              Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}),
                              Desired({{kSvcA, {kE1, kE2}}}),
                              {"update svc 10.96.0.1:80/TCP#0 count=2", "delete svc 10.96.0.1:80/TCP#4",
                               "delete svc 10.96.0.1:80/TCP#3", "delete be 4", "delete be 3"}},
                             {"swap_and_shrink",
                              Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}),
                              Desired({{kSvcA, {kE1, kE5, kE3}}}),
                              {"update be 5 10.244.0.5:8080/TCP", "update svc 10.96.0.1:80/TCP#2 backend=5",
                               "update svc 10.96.0.1:80/TCP#0 count=3", "delete svc 10.96.0.1:80/TCP#4", "delete be 2",
                               "delete be 4"}},
                             {"replace",
                              Desired({{kSvcA, {kE1, kE2}}}),
                              Desired({{kSvcA, {kE3, kE4, kE5}}}),
                              {"update be 3 10.244.0.3:8080/TCP", "update be 4 10.244.0.4:8080/TCP",
                               "update be 5 10.244.0.5:8080/TCP", "update svc 10.96.0.1:80/TCP#1 backend=3",
                               "update svc 10.96.0.1:80/TCP#2 backend=4", "update svc 10.96.0.1:80/TCP#3 backend=5",
                               "update svc 10.96.0.1:80/TCP#0 count=3", "delete be 1", "delete be 2"}},
                             // Only the slots change; the master's count stays 2 and is not rewritten.
                             {"replace_same_size",
                              Desired({{kSvcA, {kE1, kE2}}}),
                              Desired({{kSvcA, {kE3, kE4}}}),
                              {"update be 3 10.244.0.3:8080/TCP", "update be 4 10.244.0.4:8080/TCP",
                               "update svc 10.96.0.1:80/TCP#1 backend=3", "update svc 10.96.0.1:80/TCP#2 backend=4",
                               "delete be 1", "delete be 2"}},
                             {"remove",
                              Desired({{kSvcA, {kE1, kE2}}, {kSvcB, {kE2, kE3}}}),
                              Desired({{kSvcB, {kE2, kE3}}}),
                              {"delete svc 10.96.0.1:80/TCP#0", "delete svc 10.96.0.1:80/TCP#2",
                               "delete svc 10.96.0.1:80/TCP#1", "delete be 1"}},
                             {"to_zero",
                              Desired({{kSvcA, {kE1, kE2}}}),
                              Desired({{kSvcA, {}}}),
                              {"update svc 10.96.0.1:80/TCP#0 count=0", "delete svc 10.96.0.1:80/TCP#2",
                               "delete svc 10.96.0.1:80/TCP#1", "delete be 2", "delete be 1"}},
                             {"unchanged", Desired({{kSvcA, {kE1, kE2}}}), Desired({{kSvcA, {kE2, kE1}}}), {}},
                         }),
                         [](const ::testing::TestParamInfo<WriteOrderCase>& info) { return info.param.name; });

// --- Incremental --------------------------------------------------------------

TEST(ReconcilerTest, ChangingOneServiceAmongHundredWritesOnlyThatService) {
  DesiredFrontends desired;
  for (int i = 0; i < 100; ++i) {
    desired[L4(absl::StrCat("10.96.1.", i, ":80/TCP"))] = {L4(absl::StrCat("10.244.", i, ".1:8080/TCP")),
                                                           L4(absl::StrCat("10.244.", i, ".2:8080/TCP"))};
  }
  Maps m;
  FakeLbMaps& maps = m.fake;
  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  MustSync(*reconciler, desired);
  ASSERT_EQ(maps.ops().size(), 500u);  // 200 backends, 200 slots, 100 masters.

  maps.ClearOps();
  MustSync(*reconciler, desired);
  EXPECT_THAT(maps.ops(), IsEmpty()) << "an unchanged resync writes nothing";

  // Service 42's backends got IDs 85 and 86 (frontends are applied in order).
  desired[L4("10.96.1.42:80/TCP")][1] = L4("10.244.42.3:8080/TCP");
  maps.ClearOps();
  MustSync(*reconciler, desired);
  EXPECT_THAT(maps.ops(), ElementsAre("update be 201 10.244.42.3:8080/TCP",
                                      "update svc 10.96.1.42:80/TCP#2 backend=201", "delete be 86"));
  for (const std::string& op : maps.ops()) {
    EXPECT_TRUE(absl::StrContains(op, "10.96.1.42:80/TCP#") || absl::StrContains(op, " be ")) << op;
  }
  EXPECT_TRUE(MapsHold(maps, desired));
}

TEST(ReconcilerTest, BackendMovingBetweenServicesKeepsItsIdAndIsNotRewritten) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  MustSync(*reconciler, Desired({{kSvcA, {kE1, kE2}}, {kSvcC, {kE3}}}));
  MustSync(*reconciler, Desired({{kSvcA, {kE2}}, {kSvcC, {kE3}}}));  // Frees ID 1.
  ASSERT_THAT(Dump(maps), ElementsAre("svc 10.96.0.1:80/TCP #0 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=2",
                                      "svc 10.96.0.3:80/TCP #0 count=1 flags=0", "svc 10.96.0.3:80/TCP #1 backend=3",
                                      "be 2 10.244.0.2:8080/TCP", "be 3 10.244.0.3:8080/TCP"));

  // kE2 leaves kSvcA and joins kSvcC in the same Sync. It is desired before
  // and after, so its entry and its ID stay; only the slots and masters move.
  maps.ClearOps();
  MustSync(*reconciler, Desired({{kSvcA, {}}, {kSvcC, {kE3, kE2}}}));
  EXPECT_THAT(maps.ops(),
              UnorderedElementsAre("update svc 10.96.0.1:80/TCP#0 count=0", "delete svc 10.96.0.1:80/TCP#1",
                                   "update svc 10.96.0.3:80/TCP#2 backend=2", "update svc 10.96.0.3:80/TCP#0 count=2"));
  EXPECT_THAT(Dump(maps),
              ElementsAre("svc 10.96.0.1:80/TCP #0 count=0 flags=0", "svc 10.96.0.3:80/TCP #0 count=2 flags=0",
                          "svc 10.96.0.3:80/TCP #1 backend=3", "svc 10.96.0.3:80/TCP #2 backend=2",
                          "be 2 10.244.0.2:8080/TCP", "be 3 10.244.0.3:8080/TCP"));
}

// --- Full maps ----------------------------------------------------------------

TEST(ReconcilerTest, ServicesMapFullFailsOnlyTheNewFrontendAndRetryConverges) {
  LbMapCapacity capacity;
  capacity.services = 3;
  Maps m(capacity);
  FakeLbMaps& maps = m.fake;
  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  MustSync(*reconciler, Desired({{kSvcA, {kE1, kE2}}}));

  DesiredFrontends both = Desired({{kSvcA, {kE1, kE2}}, {kSvcC, {kE3}}});
  SyncResult result = reconciler->Sync(both);
  ASSERT_EQ(result.failed.size(), 1u);
  ASSERT_TRUE(result.failed.contains(L4(kSvcC)));
  const absl::Status& status = result.failed.at(L4(kSvcC));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr("bpfp_svc_v1"));
  EXPECT_THAT(DumpOf(maps, "svc 10.96.0.1:80/TCP"),
              ElementsAre("svc 10.96.0.1:80/TCP #0 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "svc 10.96.0.1:80/TCP #2 backend=2"));
  EXPECT_TRUE(SlotsResolve(maps));

  capacity.services = 5;
  maps.SetCapacity(capacity);
  MustSync(*reconciler, both);
  EXPECT_THAT(Dump(maps), ElementsAre("svc 10.96.0.1:80/TCP #0 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                                      "svc 10.96.0.1:80/TCP #2 backend=2", "svc 10.96.0.3:80/TCP #0 count=1 flags=0",
                                      "svc 10.96.0.3:80/TCP #1 backend=3", "be 1 10.244.0.1:8080/TCP",
                                      "be 2 10.244.0.2:8080/TCP", "be 3 10.244.0.3:8080/TCP"));
}

TEST(ReconcilerTest, ServicesMapFullWhileGrowingKeepsTheOldCount) {
  LbMapCapacity capacity;
  capacity.services = 4;  // Master + 3 slots: the 4th backend does not fit.
  Maps m(capacity);
  FakeLbMaps& maps = m.fake;
  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  MustSync(*reconciler, Desired({{kSvcA, {kE1, kE2}}}));

  DesiredFrontends grown = Desired({{kSvcA, {kE1, kE2, kE3, kE4}}});
  SyncResult result = reconciler->Sync(grown);
  ASSERT_TRUE(result.failed.contains(L4(kSvcA)));
  EXPECT_EQ(result.failed.at(L4(kSvcA)).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(DumpOf(maps, "svc 10.96.0.1:80/TCP #0"), ElementsAre("svc 10.96.0.1:80/TCP #0 count=2 flags=0"));
  EXPECT_TRUE(SlotsResolve(maps));

  capacity.services = 5;
  maps.SetCapacity(capacity);
  MustSync(*reconciler, grown);
  EXPECT_TRUE(MapsHold(maps, grown));
  EXPECT_EQ(AsSets(reconciler->Applied()), AsSets(grown));
}

TEST(ReconcilerTest, RemovingAServiceMakesRoomForAnother) {
  LbMapCapacity capacity;
  capacity.services = 3;
  Maps m(capacity);
  FakeLbMaps& maps = m.fake;
  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  MustSync(*reconciler, Desired({{kSvcA, {kE1, kE2}}}));

  // kSvcC replaces kSvcA. Whether one Sync suffices depends on whether Sync
  // removes before it adds, which the contract leaves open; a second must.
  DesiredFrontends replaced = Desired({{kSvcC, {kE3}}});
  SyncResult first = reconciler->Sync(replaced);
  EXPECT_TRUE(SlotsResolve(maps));
  if (!first.ok()) {
    RecordProperty("first_sync", "failed");
    MustSync(*reconciler, replaced);
  }
  EXPECT_TRUE(MapsHold(maps, replaced));
  // kSvcA's IDs 1 and 2 were freed; the lowest is reused.
  EXPECT_THAT(Dump(maps), ElementsAre("svc 10.96.0.3:80/TCP #0 count=1 flags=0", "svc 10.96.0.3:80/TCP #1 backend=1",
                                      "be 1 10.244.0.3:8080/TCP"));
}

TEST(ReconcilerTest, BackendsMapFullFailsOnlyTheNewFrontendAndRetryConverges) {
  LbMapCapacity capacity;
  capacity.backends = 2;
  Maps m(capacity);
  FakeLbMaps& maps = m.fake;
  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  MustSync(*reconciler, Desired({{kSvcA, {kE1, kE2}}}));

  DesiredFrontends both = Desired({{kSvcA, {kE1, kE2}}, {kSvcC, {kE2, kE3}}});
  SyncResult result = reconciler->Sync(both);
  ASSERT_EQ(result.failed.size(), 1u);
  ASSERT_TRUE(result.failed.contains(L4(kSvcC)));
  const absl::Status& status = result.failed.at(L4(kSvcC));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr("bpfp_be_v1"));
  EXPECT_THAT(DumpOf(maps, "svc 10.96.0.1:80/TCP"),
              ElementsAre("svc 10.96.0.1:80/TCP #0 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "svc 10.96.0.1:80/TCP #2 backend=2"));
  EXPECT_TRUE(SlotsResolve(maps));

  capacity.backends = 3;
  maps.SetCapacity(capacity);
  MustSync(*reconciler, both);
  // The failed attempt must not leak ID 3.
  EXPECT_THAT(Dump(maps),
              ElementsAre("svc 10.96.0.1:80/TCP #0 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "svc 10.96.0.1:80/TCP #2 backend=2", "svc 10.96.0.3:80/TCP #0 count=2 flags=0",
                          "svc 10.96.0.3:80/TCP #1 backend=2", "svc 10.96.0.3:80/TCP #2 backend=3",
                          "be 1 10.244.0.1:8080/TCP", "be 2 10.244.0.2:8080/TCP", "be 3 10.244.0.3:8080/TCP"));
}

// --- Injected failures --------------------------------------------------------

struct InjectedFailureCase {
  std::string name;
  DesiredFrontends before;
  DesiredFrontends after;
  std::string fail_op;  // Prefix of the write that fails.
  // Whether the contract makes Sync report the frontend as failed. A backend
  // delete happens after the frontend itself is applied, so it is not asked.
  bool reported = true;
};

void PrintTo(const InjectedFailureCase& c, std::ostream* os) { *os << c.name; }

class InjectedFailureTest : public ::testing::TestWithParam<InjectedFailureCase> {};

TEST_P(InjectedFailureTest, LeavesNoDanglingSlotAndTheNextSyncConverges) {
  const InjectedFailureCase& c = GetParam();
  Maps m;
  FakeLbMaps& maps = m.fake;
  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  MustSync(*reconciler, c.before);

  maps.ClearOps();
  maps.FailNext(c.fail_op, absl::UnavailableError("injected"));
  SyncResult failed = reconciler->Sync(c.after);
  EXPECT_EQ(maps.pending_failures(), 0u) << "the failing write was never attempted";
  EXPECT_TRUE(SlotsResolve(maps));
  if (c.reported) {
    ASSERT_EQ(failed.failed.size(), 1u);
    EXPECT_EQ(failed.failed.begin()->second.code(), absl::StatusCode::kUnavailable) << failed.failed.begin()->second;
  }

  MustSync(*reconciler, c.after);
  EXPECT_TRUE(MapsHold(maps, c.after));
  EXPECT_TRUE(SlotsResolve(maps));
  EXPECT_EQ(AsSets(reconciler->Applied()), AsSets(c.after));

  maps.ClearOps();
  MustSync(*reconciler, c.after);
  EXPECT_THAT(maps.ops(), IsEmpty()) << "converged state resyncs without writes";
  auto restarted = MustCreate(maps);
  ASSERT_NE(restarted, nullptr);
  EXPECT_EQ(AsSets(restarted->Applied()), AsSets(c.after));
}

INSTANTIATE_TEST_SUITE_P(
    Writes, InjectedFailureTest,
    ::testing::ValuesIn(std::vector<InjectedFailureCase>{
        {"new_service_slot", {}, Desired({{kSvcA, {kE1, kE2}}}), "update svc 10.96.0.1:80/TCP#2"},
        {"new_service_master", {}, Desired({{kSvcA, {kE1, kE2}}}), "update svc 10.96.0.1:80/TCP#0"},
        {"new_service_backend", {}, Desired({{kSvcA, {kE1, kE2}}}), "update be 2 "},
        {"grow_backend", Desired({{kSvcA, {kE1, kE2}}}), Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}), "update be 4 "},
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
        {"shrink_backend_delete", Desired({{kSvcA, {kE1, kE2, kE3}}}), Desired({{kSvcA, {kE1, kE3}}}), "delete be 2",
         false},
        {"swap_slot", Desired({{kSvcA, {kE1, kE2, kE3}}}), Desired({{kSvcA, {kE1, kE4, kE3}}}),
         "update svc 10.96.0.1:80/TCP#2"},
        {"remove_master", Desired({{kSvcA, {kE1, kE2}}, {kSvcB, {kE2}}}), Desired({{kSvcB, {kE2}}}),
         "delete svc 10.96.0.1:80/TCP#0"},
        {"remove_slot", Desired({{kSvcA, {kE1, kE2}}, {kSvcB, {kE2}}}), Desired({{kSvcB, {kE2}}}),
         "delete svc 10.96.0.1:80/TCP#2"},
        {"remove_backend_delete", Desired({{kSvcA, {kE1, kE2}}, {kSvcB, {kE2}}}), Desired({{kSvcB, {kE2}}}),
         "delete be 1", false},
    }),
    [](const ::testing::TestParamInfo<InjectedFailureCase>& info) { return info.param.name; });

TEST(ReconcilerTest, FailedSlotWriteDuringGrowKeepsOldCount) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  MustSync(*reconciler, Desired({{kSvcA, {kE1, kE2}}}));
  maps.FailNext("update svc 10.96.0.1:80/TCP#4", absl::UnavailableError("injected"));
  SyncResult result = reconciler->Sync(Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}));
  EXPECT_FALSE(result.ok());
  // The master is written after the slots, so it was never raised to 4.
  EXPECT_THAT(DumpOf(maps, "svc 10.96.0.1:80/TCP #0"), ElementsAre("svc 10.96.0.1:80/TCP #0 count=2 flags=0"));
  EXPECT_THAT(DumpOf(maps, "svc 10.96.0.1:80/TCP #1"), ElementsAre("svc 10.96.0.1:80/TCP #1 backend=1"));
  EXPECT_THAT(DumpOf(maps, "svc 10.96.0.1:80/TCP #2"), ElementsAre("svc 10.96.0.1:80/TCP #2 backend=2"));
  EXPECT_TRUE(SlotsResolve(maps));
}

// --- Restart ------------------------------------------------------------------

TEST(ReconcilerTest, CreateRebuildsIdsAndRefcountsFromTheMaps) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  {
    auto first = MustCreate(m.watched);
    ASSERT_NE(first, nullptr);
    MustSync(*first, Desired({{kSvcA, {kE1, kE2}}, {kSvcB, {kE2, kE3}}}));
    MustSync(*first, Desired({{kSvcA, {kE1, kE2, kE4}}, {kSvcB, {kE2, kE3}}}));
    MustSync(*first, Desired({{kSvcA, {kE1, kE4}}, {kSvcB, {kE2, kE3}}}));
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
  EXPECT_EQ(restarted->Applied(), Desired({{kSvcA, {kE1, kE4}}, {kSvcB, {kE2, kE3}}}));

  // A new frontend on existing backends reuses their IDs.
  MustSync(*restarted, Desired({{kSvcA, {kE1, kE4}}, {kSvcB, {kE2, kE3}}, {kSvcC, {kE3, kE4}}}));
  EXPECT_THAT(maps.ops(),
              ElementsAre("update svc 10.96.0.3:80/TCP#1 backend=3", "update svc 10.96.0.3:80/TCP#2 backend=4",
                          "update svc 10.96.0.3:80/TCP#0 count=2"));

  // Backends go only when their last user does.
  maps.ClearOps();
  MustSync(*restarted, Desired({{kSvcB, {kE2, kE3}}, {kSvcC, {kE3, kE4}}}));
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
  PutMaster(maps, kSvcB, 2);  // Left by the previous daemon, gone from the API.
  PutSlot(maps, kSvcB, 1, 1);
  PutSlot(maps, kSvcB, 2, 2);
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
  PutMaster(maps, kSvcB, 2);
  PutSlot(maps, kSvcB, 1, 1);  // Slot 2 is missing.
  PutMaster(maps, kSvcC, 1);
  PutSlot(maps, kSvcC, 1, 7);  // Same address as backend 1 under another ID.
  PutBackend(maps, 1, kE1);
  PutBackend(maps, 7, kE1);

  // The maps start with dangling slots, so single writes are not checked.
  auto reconciler = MustCreate(maps);
  ASSERT_NE(reconciler, nullptr);
  DesiredFrontends desired = Desired({{kSvcA, {kE1, kE2}}, {kSvcB, {kE1, kE3}}, {kSvcC, {kE1}}});
  SyncResult result = reconciler->Sync(desired);
  EXPECT_TRUE(result.ok());
  EXPECT_TRUE(SlotsResolve(maps));
  EXPECT_TRUE(MapsHold(maps, desired));

  MustSync(*reconciler, {});
  EXPECT_THAT(Dump(maps), IsEmpty());
}

// --- Invalid input ------------------------------------------------------------

struct InvalidInputCase {
  std::string name;
  absl::string_view frontend;
  std::vector<absl::string_view> backends;
};

void PrintTo(const InvalidInputCase& c, std::ostream* os) { *os << c.name; }

class InvalidInputTest : public ::testing::TestWithParam<InvalidInputCase> {};

TEST_P(InvalidInputTest, FailsThatFrontendOnlyAndWritesNothingForIt) {
  const InvalidInputCase& c = GetParam();
  Maps m;
  FakeLbMaps& maps = m.fake;
  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);

  // A new frontend with a bad backend list: nothing written for it.
  DesiredFrontends good = Desired({{kSvcB, {kE3}}});
  DesiredFrontends desired = good;
  desired[L4(c.frontend)] = {};
  for (absl::string_view backend : c.backends) desired[L4(c.frontend)].push_back(L4(backend));
  SyncResult result = reconciler->Sync(desired);
  ASSERT_EQ(result.failed.size(), 1u);
  ASSERT_TRUE(result.failed.contains(L4(c.frontend)));
  EXPECT_EQ(result.failed.at(L4(c.frontend)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(MapsHold(maps, good));

  // An applied frontend keeps what it had.
  DesiredFrontends before = good;
  before[L4(c.frontend)] = {};
  MustSync(*reconciler, before);
  maps.ClearOps();
  result = reconciler->Sync(desired);
  ASSERT_TRUE(result.failed.contains(L4(c.frontend)));
  EXPECT_EQ(result.failed.at(L4(c.frontend)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(maps.ops(), IsEmpty());
  EXPECT_EQ(AsSets(reconciler->Applied()), AsSets(before));

  EXPECT_EQ(reconciler->Upsert(L4(c.frontend), desired.at(L4(c.frontend))).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(MapsHold(maps, before));
}

INSTANTIATE_TEST_SUITE_P(Backends, InvalidInputTest,
                         ::testing::ValuesIn(std::vector<InvalidInputCase>{
                             {"protocol_mismatch", kSvcA, {kE1, "10.244.0.2:8080/UDP"}},
                             {"ipv6_backend_for_ipv4_frontend", kSvcA, {kE1, "[fd00:10::2]:8080/TCP"}},
                             {"ipv4_backend_for_ipv6_frontend", "[fd00::1]:80/TCP", {"[fd00:10::1]:8080/TCP", kE2}},
                         }),
                         [](const ::testing::TestParamInfo<InvalidInputCase>& info) { return info.param.name; });

TEST(ReconcilerTest, UpsertAndRemoveApplyOneFrontend) {
  Maps m;
  FakeLbMaps& maps = m.fake;
  auto reconciler = MustCreate(m.watched);
  ASSERT_NE(reconciler, nullptr);
  std::vector<L4Address> backends = {L4(kE2), L4(kE1), L4(kE2)};
  ASSERT_TRUE(reconciler->Upsert(L4(kSvcA), backends).ok());
  EXPECT_THAT(Dump(maps),
              ElementsAre("svc 10.96.0.1:80/TCP #0 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "svc 10.96.0.1:80/TCP #2 backend=2", "be 1 10.244.0.2:8080/TCP", "be 2 10.244.0.1:8080/TCP"));
  EXPECT_EQ(reconciler->service_entries(), 3u);
  EXPECT_EQ(reconciler->backend_entries(), 2u);

  maps.ClearOps();
  EXPECT_TRUE(reconciler->Remove(L4(kSvcB)).ok()) << "removing an unknown frontend is a no-op";
  EXPECT_THAT(maps.ops(), IsEmpty());
  EXPECT_TRUE(reconciler->Remove(L4(kSvcA)).ok());
  EXPECT_THAT(Dump(maps), IsEmpty());
  EXPECT_EQ(reconciler->service_entries(), 0u);
  EXPECT_EQ(reconciler->backend_entries(), 0u);
}

}  // namespace
}  // namespace bpfproxy
