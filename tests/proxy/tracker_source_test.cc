// TrackerSource with the real ServiceTracker, the Proxier and the reconciler
// on FakeLbMaps: whatever order Services claim and give up a ClusterIP in,
// the maps end up holding what the tracker says.
#include "proxy/tracker_source.h"

#include <memory>

#include "e2e/k8s_objects.h"
#include "gtest/gtest.h"
#include "proxy/fake_lb_maps.h"
#include "tests/proxy/lb_maps_checks.h"

namespace bpfproxy {
namespace {

using e2e::Ready;
using e2e::ServiceObject;
using e2e::SliceObject;

nlohmann::json Versioned(nlohmann::json object) {
  static int rv = 100;
  object["metadata"]["resourceVersion"] = std::to_string(++rv);
  return object;
}

class TrackerSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reconciler_ = std::move(Reconciler::Create(&maps_).value());
    proxier_ = std::make_unique<Proxier>(&source_, reconciler_.get(), ProxierOptions{});
    proxier_->MarkSynced(Proxier::Resource::kServices);
    proxier_->MarkSynced(Proxier::Resource::kEndpointSlices);
  }
  // Service |name| on 10.96.0.10:80 with one endpoint.
  void AddService(const std::string& name, const char* pod) {
    absl::MutexLock lock(&mu_);
    ASSERT_TRUE(tracker_.UpsertService(Versioned(ServiceObject(name, "10.96.0.10", {{"http", 80, "TCP"}}))).ok());
    ASSERT_TRUE(tracker_
                    .UpsertEndpointSlice(Versioned(SliceObject(name, name + "-1", {{"http", 8080, "TCP"}},
                                                               {Ready(IpAddress::Parse(pod).value(), "n1")})))
                    .ok());
  }
  void DeleteService(const std::string& name) {
    absl::MutexLock lock(&mu_);
    ASSERT_TRUE(tracker_.DeleteService(Versioned(ServiceObject(name, "10.96.0.10", {{"http", 80, "TCP"}}))).ok());
    ASSERT_TRUE(tracker_.DeleteEndpointSlice(Versioned(SliceObject(name, name + "-1", {}, {}))).ok());
  }
  ::testing::AssertionResult MapsMatchTheTracker() {
    DesiredFrontends all = source_.AllFrontends();
    return MapsHold(maps_, all);
  }

  absl::Mutex mu_;
  ServiceTracker tracker_{TrackerConfig{.node_name = "n1"}};
  TrackerSource source_{&mu_, &tracker_};
  FakeLbMaps maps_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<Proxier> proxier_;
};

// Review finding: during a relist, Service z is created with the ClusterIP
// of Service a before a's delete is delivered; when the delete came in a
// later batch, the proxier removed the frontend z still owned.
TEST_F(TrackerSourceTest, AClusterIpTakenOverAcrossBatchesStaysProgrammed) {
  AddService("a", "10.244.1.1");
  proxier_->SyncOnce();
  AddService("z", "10.244.2.2");  // Both claim 10.96.0.10:80 for a moment; a wins by name.
  proxier_->SyncOnce();
  EXPECT_TRUE(MapsMatchTheTracker());
  DeleteService("a");
  proxier_->SyncOnce();
  EXPECT_TRUE(MapsMatchTheTracker());
  EXPECT_TRUE(MapsHold(maps_, {{L4Address::Parse("10.96.0.10:80/TCP").value(),
                                {L4Address::Parse("10.244.2.2:8080/TCP").value()}}}));
}

TEST_F(TrackerSourceTest, AClusterIpTakenOverInOneBatchStaysProgrammed) {
  AddService("a", "10.244.1.1");
  proxier_->SyncOnce();
  AddService("z", "10.244.2.2");
  DeleteService("a");
  proxier_->SyncOnce();
  EXPECT_TRUE(MapsHold(maps_, {{L4Address::Parse("10.96.0.10:80/TCP").value(),
                                {L4Address::Parse("10.244.2.2:8080/TCP").value()}}}));
}

TEST_F(TrackerSourceTest, TheSecondClaimantGivingUpLeavesTheOwnerAlone) {
  AddService("a", "10.244.1.1");
  AddService("z", "10.244.2.2");
  proxier_->SyncOnce();
  maps_.ClearOps();
  DeleteService("z");
  proxier_->SyncOnce();
  EXPECT_TRUE(maps_.ops().empty()) << "a owned the frontend throughout: nothing to write";
  EXPECT_TRUE(MapsMatchTheTracker());
}

}  // namespace
}  // namespace bpfproxy
