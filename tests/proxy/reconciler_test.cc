// Reconciler against FakeLbMaps: the shared table of cases, plus what only the
// fake can show — the exact order of writes, incremental updates and invalid
// input. Failures and full maps are in reconciler_failure_test.cc, restarts and
// stale entries in reconciler_restart_test.cc.
#include "proxy/reconciler.h"

#include <ostream>
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
#include "tests/proxy/reconciler_test_util.h"

namespace bpfproxy {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Every ReconcilerTest here starts from empty fake maps and a Reconciler on them.
using ReconcilerTest = ReconcilerOnFakeMapsTest;

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

class WriteOrderTest : public ReconcilerOnFakeMapsTest, public ::testing::WithParamInterface<WriteOrderCase> {};

TEST_P(WriteOrderTest, NewBackendsSlotsMasterThenSurplusSlotsThenBackends) {
  MustSync(*reconciler_, GetParam().before);
  maps_.ClearOps();
  MustSync(*reconciler_, GetParam().after);
  EXPECT_THAT(maps_.ops(), ElementsAreArray(GetParam().ops));
  EXPECT_TRUE(MapsHold(maps_, GetParam().after));
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
                              Desired({{kSvcA, {kE1, kE2}}, {kSvcB443, {kE2, kE3}}}),
                              Desired({{kSvcB443, {kE2, kE3}}}),
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

TEST_F(ReconcilerTest, ChangingOneServiceAmongHundredWritesOnlyThatService) {
  DesiredFrontends desired;
  for (int i = 0; i < 100; ++i) {
    desired[L4(absl::StrCat("10.96.1.", i, ":80/TCP"))] = {L4(absl::StrCat("10.244.", i, ".1:8080/TCP")),
                                                           L4(absl::StrCat("10.244.", i, ".2:8080/TCP"))};
  }
  MustSync(*reconciler_, desired);
  ASSERT_EQ(maps_.ops().size(), 500u);  // 200 backends, 200 slots, 100 masters.

  maps_.ClearOps();
  MustSync(*reconciler_, desired);
  EXPECT_THAT(maps_.ops(), IsEmpty()) << "an unchanged resync writes nothing";

  // Service 42's backends got IDs 85 and 86 (frontends are applied in order).
  desired[L4("10.96.1.42:80/TCP")][1] = L4("10.244.42.3:8080/TCP");
  maps_.ClearOps();
  MustSync(*reconciler_, desired);
  EXPECT_THAT(maps_.ops(), ElementsAre("update be 201 10.244.42.3:8080/TCP",
                                       "update svc 10.96.1.42:80/TCP#2 backend=201", "delete be 86"));
  for (const std::string& op : maps_.ops()) {
    EXPECT_TRUE(absl::StrContains(op, "10.96.1.42:80/TCP#") || absl::StrContains(op, " be ")) << op;
  }
  EXPECT_TRUE(MapsHold(maps_, desired));
}

TEST_F(ReconcilerTest, BackendMovingBetweenServicesKeepsItsIdAndIsNotRewritten) {
  MustSync(*reconciler_, Desired({{kSvcA, {kE1, kE2}}, {kSvcC, {kE3}}}));
  MustSync(*reconciler_, Desired({{kSvcA, {kE2}}, {kSvcC, {kE3}}}));  // Frees ID 1.
  ASSERT_THAT(Dump(maps_), ElementsAre("svc 10.96.0.1:80/TCP #0 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=2",
                                       "svc 10.96.0.3:80/TCP #0 count=1 flags=0", "svc 10.96.0.3:80/TCP #1 backend=3",
                                       "be 2 10.244.0.2:8080/TCP", "be 3 10.244.0.3:8080/TCP"));

  // kE2 leaves kSvcA and joins kSvcC in the same Sync. It is desired before
  // and after, so its entry and its ID stay; only the slots and masters move.
  maps_.ClearOps();
  MustSync(*reconciler_, Desired({{kSvcA, {}}, {kSvcC, {kE3, kE2}}}));
  EXPECT_THAT(maps_.ops(),
              UnorderedElementsAre("update svc 10.96.0.1:80/TCP#0 count=0", "delete svc 10.96.0.1:80/TCP#1",
                                   "update svc 10.96.0.3:80/TCP#2 backend=2", "update svc 10.96.0.3:80/TCP#0 count=2"));
  EXPECT_THAT(Dump(maps_),
              ElementsAre("svc 10.96.0.1:80/TCP #0 count=0 flags=0", "svc 10.96.0.3:80/TCP #0 count=2 flags=0",
                          "svc 10.96.0.3:80/TCP #1 backend=3", "svc 10.96.0.3:80/TCP #2 backend=2",
                          "be 2 10.244.0.2:8080/TCP", "be 3 10.244.0.3:8080/TCP"));
}

// --- Invalid input ------------------------------------------------------------

struct InvalidInputCase {
  std::string name;
  absl::string_view frontend;
  std::vector<absl::string_view> backends;
};

void PrintTo(const InvalidInputCase& c, std::ostream* os) { *os << c.name; }

class InvalidInputTest : public ReconcilerOnFakeMapsTest, public ::testing::WithParamInterface<InvalidInputCase> {};

TEST_P(InvalidInputTest, FailsThatFrontendOnlyAndWritesNothingForIt) {
  const InvalidInputCase& c = GetParam();

  // A new frontend with a bad backend list: nothing written for it.
  DesiredFrontends good = Desired({{kSvcB443, {kE3}}});
  DesiredFrontends desired = good;
  desired[L4(c.frontend)] = {};
  for (absl::string_view backend : c.backends) desired[L4(c.frontend)].push_back(L4(backend));
  SyncResult result = reconciler_->Sync(desired);
  ASSERT_EQ(result.failed.size(), 1u);
  ASSERT_TRUE(result.failed.contains(L4(c.frontend)));
  EXPECT_EQ(result.failed.at(L4(c.frontend)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(MapsHold(maps_, good));

  // An applied frontend keeps what it had.
  DesiredFrontends before = good;
  before[L4(c.frontend)] = {};
  MustSync(*reconciler_, before);
  maps_.ClearOps();
  result = reconciler_->Sync(desired);
  ASSERT_TRUE(result.failed.contains(L4(c.frontend)));
  EXPECT_EQ(result.failed.at(L4(c.frontend)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(maps_.ops(), IsEmpty());
  EXPECT_EQ(AsSets(reconciler_->Applied()), AsSets(before));

  EXPECT_EQ(reconciler_->Upsert(L4(c.frontend), desired.at(L4(c.frontend))).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(MapsHold(maps_, before));
}

INSTANTIATE_TEST_SUITE_P(Backends, InvalidInputTest,
                         ::testing::ValuesIn(std::vector<InvalidInputCase>{
                             {"protocol_mismatch", kSvcA, {kE1, "10.244.0.2:8080/UDP"}},
                             {"ipv6_backend_for_ipv4_frontend", kSvcA, {kE1, "[fd00:10::2]:8080/TCP"}},
                             {"ipv4_backend_for_ipv6_frontend", "[fd00::1]:80/TCP", {"[fd00:10::1]:8080/TCP", kE2}},
                         }),
                         [](const ::testing::TestParamInfo<InvalidInputCase>& info) { return info.param.name; });

TEST_F(ReconcilerTest, UpsertAndRemoveApplyOneFrontend) {
  std::vector<L4Address> backends = {L4(kE2), L4(kE1), L4(kE2)};
  ASSERT_TRUE(reconciler_->Upsert(L4(kSvcA), backends).ok());
  EXPECT_THAT(Dump(maps_),
              ElementsAre("svc 10.96.0.1:80/TCP #0 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "svc 10.96.0.1:80/TCP #2 backend=2", "be 1 10.244.0.2:8080/TCP", "be 2 10.244.0.1:8080/TCP"));
  EXPECT_EQ(reconciler_->service_entries(), 3u);
  EXPECT_EQ(reconciler_->backend_entries(), 2u);

  maps_.ClearOps();
  EXPECT_TRUE(reconciler_->Remove(L4(kSvcB443)).ok()) << "removing an unknown frontend is a no-op";
  EXPECT_THAT(maps_.ops(), IsEmpty());
  EXPECT_TRUE(reconciler_->Remove(L4(kSvcA)).ok());
  EXPECT_THAT(Dump(maps_), IsEmpty());
  EXPECT_EQ(reconciler_->service_entries(), 0u);
  EXPECT_EQ(reconciler_->backend_entries(), 0u);
}

}  // namespace
}  // namespace bpfproxy
