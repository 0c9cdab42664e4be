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
  lb_service_key key = MakeServiceKey(L4(kSvcA), 0);
  EXPECT_TRUE(maps.UpdateService(key, MakeMasterValue(1, 2)).ok());
  EXPECT_TRUE(maps.UpdateService(key, MakeMasterValue(1, 2)).ok()) << "overwriting a key needs no room";
  absl::Status full = maps.UpdateService(MakeServiceKey(L4(kSvcA), 1), MakeSlotValue(1, 3));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("bpfp_svc_v1"));
  EXPECT_THAT(full.message(), HasSubstr("E2BIG"));
  EXPECT_TRUE(maps.UpdateBackend(3, MakeBackendValue(3, L4(kE2))).ok());
  EXPECT_EQ(maps.UpdateBackend(4, MakeBackendValue(4, L4(kE2))).code(), absl::StatusCode::kResourceExhausted);
  absl::Status missing = maps.DeleteBackend(4);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("bpfp_be_v1"));
  EXPECT_EQ(maps.DeleteService(MakeServiceKey(L4(kSvcA), 2)).code(), absl::StatusCode::kNotFound);

  // The members map has the services map's capacity.
  EXPECT_TRUE(maps.UpdateMember(MakeMemberKey(1, 3)).ok());
  EXPECT_TRUE(maps.UpdateMember(MakeMemberKey(1, 3)).ok()) << "overwriting a key needs no room";
  absl::Status members_full = maps.UpdateMember(MakeMemberKey(1, 4));
  EXPECT_EQ(members_full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(members_full.message(), HasSubstr("bpfp_memb_v1"));
  absl::Status no_member = maps.DeleteMember(MakeMemberKey(2, 3));
  EXPECT_EQ(no_member.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_member.message(), HasSubstr("bpfp_memb_v1"));
  EXPECT_THAT(Dump(maps), ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0",
                                      "member 10.96.0.1:80/TCP backend=3", "be 3 10.244.0.2:8080/TCP"));

  maps.FailNext("delete be 3", absl::UnavailableError("injected"));
  EXPECT_EQ(maps.DeleteBackend(3).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(maps.DeleteBackend(3).ok()) << "a failure is armed for one operation";
  maps.FailNext("delete member svc 1 backend 3", absl::UnavailableError("injected"));
  EXPECT_EQ(maps.DeleteMember(MakeMemberKey(1, 3)).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(maps.DeleteMember(MakeMemberKey(1, 3)).ok());
  EXPECT_TRUE(maps.DeleteService(key).ok());

  EXPECT_THAT(maps.ops(), ElementsAre("update svc 10.96.0.1:80/TCP#0 count=2", "update svc 10.96.0.1:80/TCP#0 count=2",
                                      "update be 3 10.244.0.2:8080/TCP", "update member svc 1 backend 3",
                                      "update member svc 1 backend 3", "delete be 3", "delete member svc 1 backend 3",
                                      "delete svc 10.96.0.1:80/TCP#0"));
  EXPECT_THAT(Dump(maps), IsEmpty());
}

TEST(DumpLinesTest, SpellsOutIdsThatDisagree) {
  FakeLbMaps maps;
  ASSERT_TRUE(maps.UpdateService(MakeServiceKey(L4(kSvcA), 0), MakeMasterValue(1, 1)).ok());
  ASSERT_TRUE(maps.UpdateService(MakeServiceKey(L4(kSvcA), 1), MakeSlotValue(9, 3)).ok());
  ASSERT_TRUE(maps.UpdateMember(MakeMemberKey(1, 3)).ok());
  ASSERT_TRUE(maps.UpdateMember(MakeMemberKey(9, 3)).ok());
  ASSERT_TRUE(maps.UpdateBackend(3, MakeBackendValue(4, L4(kE1))).ok());
  EXPECT_THAT(Dump(maps), ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=1 flags=0",
                                      "svc 10.96.0.1:80/TCP #1 backend=3 id=9", "member 10.96.0.1:80/TCP backend=3",
                                      "member id=9 backend=3", "be 3 10.244.0.1:8080/TCP id=4"));
  EXPECT_FALSE(SlotsResolve(maps)) << "the slot's service ID and the backend's ID disagree";
}

// --- Make before break --------------------------------------------------------
//
// Exact write sequences. The phases and their order come from the contract;
// within a phase the reconciler deletes surplus slots from the top down,
// memberships by backend ID, and backends in the order they were released
// (their last reference is their membership), which the sequences record.

struct WriteOrderCase {
  std::string name;
  DesiredFrontends before;
  DesiredFrontends after;
  std::vector<std::string> ops;  // Exactly the writes Sync(after) makes.
};

void PrintTo(const WriteOrderCase& c, std::ostream* os) { *os << c.name; }

class WriteOrderTest : public ReconcilerOnFakeMapsTest, public ::testing::WithParamInterface<WriteOrderCase> {};

TEST_P(WriteOrderTest, BackendsMembersSlotsMasterThenSurplusSlotsMembersBackends) {
  MustSync(*reconciler_, GetParam().before);
  maps_.ClearOps();
  MustSync(*reconciler_, GetParam().after);
  EXPECT_THAT(maps_.ops(), ElementsAreArray(GetParam().ops));
  EXPECT_TRUE(MapsHold(maps_, GetParam().after));
}

INSTANTIATE_TEST_SUITE_P(
    Ops, WriteOrderTest,
    ::testing::ValuesIn(std::vector<WriteOrderCase>{
        {"add",
         {},
         Desired({{kSvcA, {kE1, kE2}}}),
         {"update be 1 10.244.0.1:8080/TCP", "update be 2 10.244.0.2:8080/TCP", "update member svc 1 backend 1",
          "update member svc 1 backend 2", "update svc 10.96.0.1:80/TCP#1 backend=1",
          "update svc 10.96.0.1:80/TCP#2 backend=2", "update svc 10.96.0.1:80/TCP#0 count=2"}},
        {"grow",
         Desired({{kSvcA, {kE1, kE2}}}),
         Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}),
         {"update be 3 10.244.0.3:8080/TCP", "update be 4 10.244.0.4:8080/TCP", "update member svc 1 backend 3",
          "update member svc 1 backend 4", "update svc 10.96.0.1:80/TCP#3 backend=3",
          "update svc 10.96.0.1:80/TCP#4 backend=4", "update svc 10.96.0.1:80/TCP#0 count=4"}},
        {"shrink_middle",
         Desired({{kSvcA, {kE1, kE2, kE3}}}),
         Desired({{kSvcA, {kE1, kE3}}}),
         {"update svc 10.96.0.1:80/TCP#2 backend=3", "update svc 10.96.0.1:80/TCP#0 count=2",
          "delete svc 10.96.0.1:80/TCP#3", "delete member svc 1 backend 2", "delete be 2"}},
        // Backend 3 moves from slot 3 into slot 1 and stays a member: no
        // membership write for it.
        {"move_into_hole_keeps_membership",
         Desired({{kSvcA, {kE1, kE2, kE3}}}),
         Desired({{kSvcA, {kE2, kE3}}}),
         {"update svc 10.96.0.1:80/TCP#1 backend=3", "update svc 10.96.0.1:80/TCP#0 count=2",
          "delete svc 10.96.0.1:80/TCP#3", "delete member svc 1 backend 1", "delete be 1"}},
        {"shrink_tail",
         Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}),
         Desired({{kSvcA, {kE1, kE2}}}),
         {"update svc 10.96.0.1:80/TCP#0 count=2", "delete svc 10.96.0.1:80/TCP#4", "delete svc 10.96.0.1:80/TCP#3",
          "delete member svc 1 backend 3", "delete member svc 1 backend 4", "delete be 3", "delete be 4"}},
        {"swap_and_shrink",
         Desired({{kSvcA, {kE1, kE2, kE3, kE4}}}),
         Desired({{kSvcA, {kE1, kE5, kE3}}}),
         {"update be 5 10.244.0.5:8080/TCP", "update member svc 1 backend 5", "update svc 10.96.0.1:80/TCP#2 backend=5",
          "update svc 10.96.0.1:80/TCP#0 count=3", "delete svc 10.96.0.1:80/TCP#4", "delete member svc 1 backend 2",
          "delete member svc 1 backend 4", "delete be 2", "delete be 4"}},
        {"replace",
         Desired({{kSvcA, {kE1, kE2}}}),
         Desired({{kSvcA, {kE3, kE4, kE5}}}),
         {"update be 3 10.244.0.3:8080/TCP", "update be 4 10.244.0.4:8080/TCP", "update be 5 10.244.0.5:8080/TCP",
          "update member svc 1 backend 3", "update member svc 1 backend 4", "update member svc 1 backend 5",
          "update svc 10.96.0.1:80/TCP#1 backend=3", "update svc 10.96.0.1:80/TCP#2 backend=4",
          "update svc 10.96.0.1:80/TCP#3 backend=5", "update svc 10.96.0.1:80/TCP#0 count=3",
          "delete member svc 1 backend 1", "delete member svc 1 backend 2", "delete be 1", "delete be 2"}},
        // Only the slots change; the master's count stays 2 and is not rewritten.
        {"replace_same_size",
         Desired({{kSvcA, {kE1, kE2}}}),
         Desired({{kSvcA, {kE3, kE4}}}),
         {"update be 3 10.244.0.3:8080/TCP", "update be 4 10.244.0.4:8080/TCP", "update member svc 1 backend 3",
          "update member svc 1 backend 4", "update svc 10.96.0.1:80/TCP#1 backend=3",
          "update svc 10.96.0.1:80/TCP#2 backend=4", "delete member svc 1 backend 1", "delete member svc 1 backend 2",
          "delete be 1", "delete be 2"}},
        {"remove",
         Desired({{kSvcA, {kE1, kE2}}, {kSvcB443, {kE2, kE3}}}),
         Desired({{kSvcB443, {kE2, kE3}}}),
         {"delete svc 10.96.0.1:80/TCP#0", "delete svc 10.96.0.1:80/TCP#2", "delete svc 10.96.0.1:80/TCP#1",
          "delete member svc 1 backend 1", "delete member svc 1 backend 2", "delete be 1"}},
        {"to_zero",
         Desired({{kSvcA, {kE1, kE2}}}),
         Desired({{kSvcA, {}}}),
         {"update svc 10.96.0.1:80/TCP#0 count=0", "delete svc 10.96.0.1:80/TCP#2", "delete svc 10.96.0.1:80/TCP#1",
          "delete member svc 1 backend 1", "delete member svc 1 backend 2", "delete be 1", "delete be 2"}},
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
  ASSERT_EQ(maps_.ops().size(), 700u);  // 200 backends, 200 memberships, 200 slots, 100 masters.

  maps_.ClearOps();
  MustSync(*reconciler_, desired);
  EXPECT_THAT(maps_.ops(), IsEmpty()) << "an unchanged resync writes nothing";

  // Frontends are applied in order: service 42 got service ID 43 and
  // backend IDs 85 and 86.
  desired[L4("10.96.1.42:80/TCP")][1] = L4("10.244.42.3:8080/TCP");
  maps_.ClearOps();
  MustSync(*reconciler_, desired);
  EXPECT_THAT(maps_.ops(), ElementsAre("update be 201 10.244.42.3:8080/TCP", "update member svc 43 backend 201",
                                       "update svc 10.96.1.42:80/TCP#2 backend=201", "delete member svc 43 backend 86",
                                       "delete be 86"));
  for (const std::string& op : maps_.ops()) {
    EXPECT_TRUE(absl::StrContains(op, "10.96.1.42:80/TCP#") || absl::StrContains(op, " be ") ||
                absl::StrContains(op, "member svc 43 "))
        << op;
  }
  EXPECT_TRUE(MapsHold(maps_, desired));
}

TEST_F(ReconcilerTest, BackendMovingBetweenServicesKeepsItsIdAndIsNotRewritten) {
  MustSync(*reconciler_, Desired({{kSvcA, {kE1, kE2}}, {kSvcC, {kE3}}}));
  MustSync(*reconciler_, Desired({{kSvcA, {kE2}}, {kSvcC, {kE3}}}));  // Frees ID 1.
  ASSERT_THAT(Dump(maps_),
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=2",
                          "svc 10.96.0.3:80/TCP #0 id=2 count=1 flags=0", "svc 10.96.0.3:80/TCP #1 backend=3",
                          "member 10.96.0.1:80/TCP backend=2", "member 10.96.0.3:80/TCP backend=3",
                          "be 2 10.244.0.2:8080/TCP", "be 3 10.244.0.3:8080/TCP"));

  // kE2 leaves kSvcA and joins kSvcC in the same Sync. It is desired before
  // and after, so its entry and its ID stay; only slots, memberships and
  // masters change. kSvcA shrinks, so it is written before kSvcC grows.
  maps_.ClearOps();
  MustSync(*reconciler_, Desired({{kSvcA, {}}, {kSvcC, {kE3, kE2}}}));
  EXPECT_THAT(maps_.ops(),
              ElementsAre("update svc 10.96.0.1:80/TCP#0 count=0", "delete svc 10.96.0.1:80/TCP#1",
                          "delete member svc 1 backend 2", "update member svc 2 backend 2",
                          "update svc 10.96.0.3:80/TCP#2 backend=2", "update svc 10.96.0.3:80/TCP#0 count=2"));
  EXPECT_THAT(Dump(maps_),
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=0 flags=0",
                          "svc 10.96.0.3:80/TCP #0 id=2 count=2 flags=0", "svc 10.96.0.3:80/TCP #1 backend=3",
                          "svc 10.96.0.3:80/TCP #2 backend=2", "member 10.96.0.3:80/TCP backend=2",
                          "member 10.96.0.3:80/TCP backend=3", "be 2 10.244.0.2:8080/TCP", "be 3 10.244.0.3:8080/TCP"));
}

TEST_F(ReconcilerTest, RemovedFrontendAndBackendsComeBackUnderNewIds) {
  MustSync(*reconciler_, Desired({{kSvcA, {kE1, kE2}}, {kSvcC, {kE3}}}));
  MustSync(*reconciler_, Desired({{kSvcC, {kE3}}}));  // Frees service ID 1, backend IDs 1 and 2.
  maps_.ClearOps();
  MustSync(*reconciler_, Desired({{kSvcA, {kE1, kE2}}, {kSvcC, {kE3}}}));
  EXPECT_THAT(
      maps_.ops(),
      ElementsAre("update be 4 10.244.0.1:8080/TCP", "update be 5 10.244.0.2:8080/TCP", "update member svc 3 backend 4",
                  "update member svc 3 backend 5", "update svc 10.96.0.1:80/TCP#1 backend=4",
                  "update svc 10.96.0.1:80/TCP#2 backend=5", "update svc 10.96.0.1:80/TCP#0 count=2"));
  EXPECT_THAT(Dump(maps_),
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=3 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=4",
                          "svc 10.96.0.1:80/TCP #2 backend=5", "svc 10.96.0.3:80/TCP #0 id=2 count=1 flags=0",
                          "svc 10.96.0.3:80/TCP #1 backend=3", "member 10.96.0.1:80/TCP backend=4",
                          "member 10.96.0.1:80/TCP backend=5", "member 10.96.0.3:80/TCP backend=3",
                          "be 3 10.244.0.3:8080/TCP", "be 4 10.244.0.1:8080/TCP", "be 5 10.244.0.2:8080/TCP"));
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
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0", "svc 10.96.0.1:80/TCP #1 backend=1",
                          "svc 10.96.0.1:80/TCP #2 backend=2", "member 10.96.0.1:80/TCP backend=1",
                          "member 10.96.0.1:80/TCP backend=2", "be 1 10.244.0.2:8080/TCP", "be 2 10.244.0.1:8080/TCP"));
  EXPECT_EQ(reconciler_->service_entries(), 3u);
  EXPECT_EQ(reconciler_->backend_entries(), 2u);

  maps_.ClearOps();
  EXPECT_TRUE(reconciler_->Remove(L4(kSvcB443)).ok()) << "removing an unknown frontend is a no-op";
  EXPECT_THAT(maps_.ops(), IsEmpty());
  EXPECT_TRUE(reconciler_->Remove(L4(kSvcA)).ok());
  EXPECT_THAT(maps_.ops(), ElementsAre("delete svc 10.96.0.1:80/TCP#0", "delete svc 10.96.0.1:80/TCP#2",
                                       "delete svc 10.96.0.1:80/TCP#1", "delete member svc 1 backend 1",
                                       "delete member svc 1 backend 2", "delete be 1", "delete be 2"));
  EXPECT_THAT(Dump(maps_), IsEmpty());
  EXPECT_EQ(reconciler_->service_entries(), 0u);
  EXPECT_EQ(reconciler_->backend_entries(), 0u);

  // Upsert after Remove: new service and backend IDs.
  ASSERT_TRUE(reconciler_->Upsert(L4(kSvcA), {L4(kE1)}).ok());
  EXPECT_THAT(Dump(maps_),
              ElementsAre("svc 10.96.0.1:80/TCP #0 id=2 count=1 flags=0", "svc 10.96.0.1:80/TCP #1 backend=3",
                          "member 10.96.0.1:80/TCP backend=3", "be 3 10.244.0.1:8080/TCP"));
}

}  // namespace
}  // namespace bpfproxy
