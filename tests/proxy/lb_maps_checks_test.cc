// The checks the reconciler tests rely on must catch what they claim to:
// each case breaks one valid map set in one way.
#include "tests/proxy/lb_maps_checks.h"

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "proxy/fake_lb_maps.h"
#include "proxy/lb_maps.h"
#include "tests/proxy/reconciler_cases.h"

namespace bpfproxy {
namespace {

using ::testing::HasSubstr;

// kSvcA (service ID 1) on kE1 (backend ID 1), complete.
void PutValidService(FakeLbMaps& maps) {
  ASSERT_TRUE(maps.UpdateBackend(1, MakeBackendValue(1, L4(kE1))).ok());
  ASSERT_TRUE(maps.UpdateMember(MakeMemberKey(1, 1)).ok());
  ASSERT_TRUE(maps.UpdateService(MakeServiceKey(L4(kSvcA), 1), MakeSlotValue(1, 1)).ok());
  ASSERT_TRUE(maps.UpdateService(MakeServiceKey(L4(kSvcA), 0), MakeMasterValue(1, 1)).ok());
}

struct CheckCase {
  std::string name;
  std::function<void(FakeLbMaps&)> change;  // Applied to the valid service.
  DesiredFrontends desired;
  // Empty: the check passes; else a substring of its failure message.
  std::string slots_resolve;
  std::string maps_hold;
};

void PrintTo(const CheckCase& c, std::ostream* os) { *os << c.name; }

class LbMapsChecksTest : public ::testing::TestWithParam<CheckCase> {};

void ExpectCheck(const ::testing::AssertionResult& result, const std::string& failure) {
  if (failure.empty()) {
    EXPECT_TRUE(result);
  } else {
    EXPECT_FALSE(result);
    EXPECT_THAT(result.message(), HasSubstr(failure));
  }
}

TEST_P(LbMapsChecksTest, FlagsExactlyTheBrokenInvariant) {
  FakeLbMaps maps;
  PutValidService(maps);
  GetParam().change(maps);
  {
    SCOPED_TRACE("SlotsResolve");
    ExpectCheck(SlotsResolve(maps), GetParam().slots_resolve);
  }
  {
    SCOPED_TRACE("MapsHold");
    ExpectCheck(MapsHold(maps, GetParam().desired), GetParam().maps_hold);
  }
}

void Ok(const absl::Status& s) { ASSERT_TRUE(s.ok()) << s; }

INSTANTIATE_TEST_SUITE_P(
    Cases, LbMapsChecksTest,
    ::testing::ValuesIn(std::vector<CheckCase>{
        {"valid", [](FakeLbMaps&) {}, Desired({{kSvcA, {kE1}}}), "", ""},
        {"slot_missing",
         [](FakeLbMaps& m) { Ok(m.UpdateService(MakeServiceKey(L4(kSvcA), 0), MakeMasterValue(1, 2))); },
         Desired({{kSvcA, {kE1}}}), "#2 missing", "#2 missing"},
        {"slot_of_another_service_id",
         [](FakeLbMaps& m) { Ok(m.UpdateService(MakeServiceKey(L4(kSvcA), 1), MakeSlotValue(2, 1))); },
         Desired({{kSvcA, {kE1}}}), "has service ID 2", "has service ID 2"},
        {"slot_backend_missing",
         [](FakeLbMaps& m) { Ok(m.UpdateService(MakeServiceKey(L4(kSvcA), 1), MakeSlotValue(1, 5))); },
         Desired({{kSvcA, {kE1}}}), "missing backend 5", "missing backend 5"},
        {"slot_backend_not_a_member", [](FakeLbMaps& m) { Ok(m.DeleteMember(MakeMemberKey(1, 1))); },
         Desired({{kSvcA, {kE1}}}), "not a member of service ID 1", "memberships differ"},
        {"member_backend_missing", [](FakeLbMaps& m) { Ok(m.UpdateMember(MakeMemberKey(1, 5))); },
         Desired({{kSvcA, {kE1}}}), "member svc 1 -> missing backend 5", "member svc 1 -> missing backend 5"},
        {"backend_carries_another_id", [](FakeLbMaps& m) { Ok(m.UpdateBackend(1, MakeBackendValue(4, L4(kE1)))); },
         Desired({{kSvcA, {kE1}}}), "backend 1 carries id=4", "backend 1 carries id=4"},
        {"masters_share_a_service_id",
         [](FakeLbMaps& m) { Ok(m.UpdateService(MakeServiceKey(L4(kSvcC), 0), MakeMasterValue(1, 0))); },
         Desired({{kSvcA, {kE1}}, {kSvcC, {}}}), "share service ID 1", "share service ID 1"},
        // Allowed between two writes, not once Sync is done.
        {"member_of_a_service_id_without_master", [](FakeLbMaps& m) { Ok(m.UpdateMember(MakeMemberKey(7, 1))); },
         Desired({{kSvcA, {kE1}}}), "", "member of service ID 7 that no master has"},
        {"member_without_slot",
         [](FakeLbMaps& m) {
           Ok(m.UpdateBackend(2, MakeBackendValue(2, L4(kE2))));
           Ok(m.UpdateMember(MakeMemberKey(1, 2)));
         },
         Desired({{kSvcA, {kE1}}}), "", "memberships differ"},
        {"slot_past_count",
         [](FakeLbMaps& m) { Ok(m.UpdateService(MakeServiceKey(L4(kSvcA), 2), MakeSlotValue(1, 1))); },
         Desired({{kSvcA, {kE1}}}), "", "extra slot 10.96.0.1:80/TCP#2"},
        {"slot_without_master",
         [](FakeLbMaps& m) { Ok(m.UpdateService(MakeServiceKey(L4(kSvcC), 1), MakeSlotValue(3, 1))); },
         Desired({{kSvcA, {kE1}}}), "", "extra slot 10.96.0.3:80/TCP#1"},
        {"backend_in_two_slots",
         [](FakeLbMaps& m) {
           Ok(m.UpdateService(MakeServiceKey(L4(kSvcA), 2), MakeSlotValue(1, 1)));
           Ok(m.UpdateService(MakeServiceKey(L4(kSvcA), 0), MakeMasterValue(1, 2)));
         },
         Desired({{kSvcA, {kE1}}}), "", "has a backend twice in its slots"},
        {"unreferenced_backend", [](FakeLbMaps& m) { Ok(m.UpdateBackend(2, MakeBackendValue(2, L4(kE2)))); },
         Desired({{kSvcA, {kE1}}}), "", "unreferenced backend 2"},
        {"other_backends", [](FakeLbMaps&) {}, Desired({{kSvcA, {kE2}}}), "", "unexpected/different 10.96.0.1:80/TCP"},
        {"frontend_missing", [](FakeLbMaps&) {}, Desired({{kSvcA, {kE1}}, {kSvcC, {}}}), "",
         "missing 10.96.0.3:80/TCP"},
    }),
    [](const ::testing::TestParamInfo<CheckCase>& info) { return info.param.name; });

TEST(WatchedLbMapsTest, FailsTheTestOnTheWriteThatBreaksTheDatapath) {
  FakeLbMaps maps;
  PutValidService(maps);
  WatchedLbMaps watched(maps);
  EXPECT_NONFATAL_FAILURE(Ok(watched.DeleteMember(MakeMemberKey(1, 1))), "after delete member svc 1 backend 1");
  EXPECT_NONFATAL_FAILURE(Ok(watched.DeleteBackend(1)), "missing backend 1");
  EXPECT_EQ(watched.writes(), 2u);
}

TEST(WatchedLbMapsTest, CountsButDoesNotCheckWhenToldNotTo) {
  FakeLbMaps maps;
  PutValidService(maps);
  WatchedLbMaps watched(maps, /*check_each_write=*/false);
  Ok(watched.DeleteBackend(1));
  Ok(watched.UpdateMember(MakeMemberKey(1, 2)));
  EXPECT_EQ(watched.writes(), 2u);
  EXPECT_FALSE(SlotsResolve(maps));
}

}  // namespace
}  // namespace bpfproxy
