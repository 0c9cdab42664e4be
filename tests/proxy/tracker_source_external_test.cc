// TrackerSource with the real ServiceTracker and the Proxier writing both
// views (FakeLbMaps, InMemoryPolicyMaps): ownership of shared external
// frontends, and the change counts and trigger times handed to SyncStats.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "bpfproxy/lb_abi.h"
#include "proxy/fake_lb_maps.h"
#include "proxy/ip_prefix.h"
#include "proxy/tracker_source.h"
#include "tests/k8s/objects_fixtures.h"
#include "tests/proxy/lb_maps_checks.h"
#include "tests/proxy/service_tracker_test_util.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {
namespace {

using json = nlohmann::json;
using k8s::testing::MakeService;
using k8s::testing::MakeSlice;
using k8s::testing::Ready;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using tracker_testing::WithExternalIps;
using tracker_testing::WithIngress;
using tracker_testing::WithSourceRanges;

constexpr char kNode[] = "node-a";
const absl::Time kStart = absl::FromUnixSeconds(1714521600);  // 2024-05-01T00:00:00Z

L4Address L4(const char* text) { return L4Address::Parse(text).value(); }

// Service |name| with ClusterIP |cluster_ip|:80 and one endpoint |pod|.
json Svc(const std::string& name, const std::string& cluster_ip) {
  return MakeService("default", name, {cluster_ip}, {{"http", 80, "TCP", 8080}});
}
json Slice(const std::string& name, const std::string& pod, const std::string& trigger = "") {
  json slice = MakeSlice("default", name + "-1", name, "IPv4", {{"http", 8080}}, {Ready(pod, kNode)});
  if (!trigger.empty()) slice["metadata"]["annotations"][k8s::kAnnotationLastChangeTriggerTime] = trigger;
  return slice;
}

class TrackerSourceExternalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = std::move(Reconciler::Create(&socket_maps_).value());
    external_ = std::move(Reconciler::Create(&external_maps_).value());
    proxier_ = std::make_unique<Proxier>(
        &source_, ProxierTargets{.socket = socket_.get(), .external = external_.get(), .policies = &policies_},
        ProxierOptions{});
    proxier_->MarkSynced(Proxier::Resource::kServices);
    proxier_->MarkSynced(Proxier::Resource::kEndpointSlices);
  }
  void Upsert(const json& service, const json& slice) {
    absl::MutexLock lock(&mu_);
    ASSERT_OK(tracker_.UpsertService(service));
    ASSERT_OK(tracker_.UpsertEndpointSlice(slice));
  }
  void Delete(const json& service) {
    absl::MutexLock lock(&mu_);
    ASSERT_OK(tracker_.DeleteService(service));
  }
  SyncReport Sync() {
    SyncReport report = proxier_->SyncOnce();
    EXPECT_EQ(report.failures, 0u);
    return report;
  }
  // The external maps and policies hold what the tracker says.
  ::testing::AssertionResult ExternalMatchesTheTracker() {
    ExternalFrontends all = source_.AllExternalFrontends();
    ::testing::AssertionResult maps = MapsHold(external_maps_, all.frontends);
    if (!maps) return maps;
    if (policies_.Applied() != all.policies) return ::testing::AssertionFailure() << "policies differ";
    return ::testing::AssertionSuccess();
  }

  absl::Mutex mu_;
  ServiceTracker tracker_{TrackerConfig{
      .node_name = kNode,
      .start_time = kStart,
      .views = {.nodeport_addresses = {IpAddress::Parse("192.168.1.10").value()}, .external_view = true}}};
  TrackerSource source_{&mu_, &tracker_};
  FakeLbMaps socket_maps_, external_maps_;
  InMemoryPolicyMaps policies_;
  std::unique_ptr<Reconciler> socket_, external_;
  std::unique_ptr<Proxier> proxier_;
};

// Two Services list 203.0.113.7:80: "a" as its LoadBalancer IP with source
// ranges, "z" as an externalIP. "a" owns it (first by name).
json A() { return WithSourceRanges(WithIngress(Svc("a", "10.96.0.10"), {{"203.0.113.7", ""}}), {"198.51.100.0/24"}); }
json Z() { return WithExternalIps(Svc("z", "10.96.0.20"), {"203.0.113.7"}); }

TEST_F(TrackerSourceExternalTest, ASharedExternalFrontendBelongsToTheFirstServiceByName) {
  Upsert(Z(), Slice("z", "10.244.2.2"));
  Sync();
  Upsert(A(), Slice("a", "10.244.1.1"));
  Sync();
  EXPECT_TRUE(ExternalMatchesTheTracker());
  EXPECT_TRUE(MapsHold(external_maps_, {{L4("203.0.113.7:80/TCP"), {L4("10.244.1.1:8080/TCP")}}}));
  EXPECT_EQ(policies_.Applied().at(L4("203.0.113.7:80/TCP")).ToString(), "flags=source-ranges ranges=198.51.100.0/24");
}

TEST_F(TrackerSourceExternalTest, TheOwnerGivingUpHandsTheFrontendAndItsPolicyOver) {
  Upsert(A(), Slice("a", "10.244.1.1"));
  Upsert(Z(), Slice("z", "10.244.2.2"));
  Sync();
  policies_.ClearLog();
  Delete(A());
  Sync();
  EXPECT_TRUE(ExternalMatchesTheTracker());
  EXPECT_TRUE(MapsHold(external_maps_, {{L4("203.0.113.7:80/TCP"), {L4("10.244.2.2:8080/TCP")}}}));
  EXPECT_THAT(policies_.log(), ElementsAre("remove 203.0.113.7:80/TCP")) << "z's policy is the default";
  for (const std::string& op : external_maps_.ops()) {
    EXPECT_NE(op, "delete svc 203.0.113.7:80/TCP#0") << "the frontend changed hands, it never went away";
  }
}

TEST_F(TrackerSourceExternalTest, TheSecondClaimantGivingUpLeavesTheOwnerAlone) {
  Upsert(A(), Slice("a", "10.244.1.1"));
  Upsert(Z(), Slice("z", "10.244.2.2"));
  Sync();
  external_maps_.ClearOps();
  policies_.ClearLog();
  Delete(Z());
  Sync();
  EXPECT_THAT(external_maps_.ops(), IsEmpty());
  EXPECT_THAT(policies_.log(), IsEmpty());
  EXPECT_TRUE(ExternalMatchesTheTracker());
}

TEST_F(TrackerSourceExternalTest, ChangesOfOneViewOnlyTouchThatView) {
  Upsert(Svc("web", "10.96.0.10"), Slice("web", "10.244.1.1"));
  Sync();
  socket_maps_.ClearOps();
  // Adding an externalIP adds a frontend to both views; the ClusterIP is
  // not rewritten in either.
  Upsert(WithExternalIps(Svc("web", "10.96.0.10"), {"203.0.113.7"}), Slice("web", "10.244.1.1"));
  Sync();
  for (const std::string& op : socket_maps_.ops()) EXPECT_EQ(op.find("10.96.0.10:80"), std::string::npos) << op;
  EXPECT_TRUE(ExternalMatchesTheTracker());
  EXPECT_TRUE(MapsHold(socket_maps_, {{L4("10.96.0.10:80/TCP"), {L4("10.244.1.1:8080/TCP")}},
                                      {L4("203.0.113.7:80/TCP"), {L4("10.244.1.1:8080/TCP")}}}));
}

TEST_F(TrackerSourceExternalTest, ChangeStatsCountWhatEachSyncTook) {
  Upsert(Svc("web", "10.96.0.10"), Slice("web", "10.244.1.1", "2024-05-01T10:00:05Z"));
  Upsert(Svc("api", "10.96.0.20"), Slice("api", "10.244.1.2", "2024-05-01T10:00:01Z"));
  {
    absl::MutexLock lock(&mu_);
    // Unchanged apart from the resourceVersion: not a change.
    ASSERT_OK(tracker_.UpsertService(Svc("api", "10.96.0.20")));
  }
  Sync();
  TrackerSource::ChangeStats first = source_.TakeChangeStats();
  EXPECT_EQ(first.service_changes, 2u);
  EXPECT_EQ(first.endpoint_changes, 2u);
  EXPECT_THAT(first.trigger_times, ElementsAre(absl::FromUnixSeconds(1714557601), absl::FromUnixSeconds(1714557605)));

  Upsert(Svc("web", "10.96.0.10"), Slice("web", "10.244.1.9", "2024-05-01T10:01:00Z"));
  Sync();
  TrackerSource::ChangeStats second = source_.TakeChangeStats();
  EXPECT_EQ(second.service_changes, 0u) << "web's object did not change";
  EXPECT_EQ(second.endpoint_changes, 1u);
  EXPECT_THAT(second.trigger_times, ElementsAre(absl::FromUnixSeconds(1714557660)));

  Sync();
  TrackerSource::ChangeStats idle = source_.TakeChangeStats();
  EXPECT_EQ(idle.service_changes + idle.endpoint_changes, 0u);
  EXPECT_THAT(idle.trigger_times, IsEmpty());
}

// "socket 10.96.0.10:80/TCP default/web"; "-" for no owner.
std::vector<std::string> OwnerLines(const std::vector<FrontendOwnerChange>& changes) {
  std::vector<std::string> out;
  for (const FrontendOwnerChange& c : changes) {
    out.push_back(absl::StrCat(c.view == LB_VIEW_SOCKET ? "socket " : "external ", c.frontend.ToString(), " ",
                               c.name.empty() ? "-" : absl::StrCat(c.namespace_, "/", c.name)));
  }
  return out;
}

TEST_F(TrackerSourceExternalTest, OwnerChangesNameTheServiceOfEachFrontendInEachView) {
  Upsert(WithExternalIps(Svc("web", "10.96.0.10"), {"203.0.113.7"}), Slice("web", "10.244.1.1"));
  Sync();
  EXPECT_THAT(OwnerLines(source_.TakeChangeStats().owner_changes),
              ElementsAre("socket 10.96.0.10:80/TCP default/web", "socket 203.0.113.7:80/TCP default/web",
                          "external 203.0.113.7:80/TCP default/web"));

  // "api" claims the same externalIP and, first by name, owns it in both
  // views; the ClusterIP stays web's.
  Upsert(WithExternalIps(Svc("api", "10.96.0.20"), {"203.0.113.7"}), Slice("api", "10.244.1.2"));
  Sync();
  EXPECT_THAT(OwnerLines(source_.TakeChangeStats().owner_changes),
              ElementsAre("socket 10.96.0.20:80/TCP default/api", "socket 203.0.113.7:80/TCP default/api",
                          "external 203.0.113.7:80/TCP default/api"));

  // An endpoint change keeps every owner: nothing to report.
  Upsert(WithExternalIps(Svc("web", "10.96.0.10"), {"203.0.113.7"}), Slice("web", "10.244.1.9"));
  Sync();
  EXPECT_THAT(source_.TakeChangeStats().owner_changes, IsEmpty());

  Delete(WithExternalIps(Svc("api", "10.96.0.20"), {"203.0.113.7"}));
  Delete(WithExternalIps(Svc("web", "10.96.0.10"), {"203.0.113.7"}));
  Sync();
  EXPECT_THAT(OwnerLines(source_.TakeChangeStats().owner_changes),
              ElementsAre("socket 10.96.0.10:80/TCP -", "socket 10.96.0.20:80/TCP -", "socket 203.0.113.7:80/TCP -",
                          "external 203.0.113.7:80/TCP -"));
}

}  // namespace
}  // namespace bpfproxy
