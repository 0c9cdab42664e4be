// The sync loop on FakeLbMaps: when it writes, what it writes, and its timing.
#include "proxy/proxier.h"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/fake_lb_maps.h"
#include "tests/proxy/reconciler_cases.h"

namespace bpfproxy {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class FakeSource : public FrontendSource {
 public:
  std::vector<Change> TakeChanges() override {
    absl::MutexLock lock(&mu_);
    return std::move(changes_);
  }
  DesiredFrontends AllFrontends() override {
    absl::MutexLock lock(&mu_);
    return all_;
  }
  // The model changes one Service: from |previous| to |current|.
  void Change(DesiredFrontends previous, DesiredFrontends current) {
    absl::MutexLock lock(&mu_);
    for (const auto& [f, b] : previous) all_.erase(f);
    for (const auto& [f, b] : current) all_[f] = b;
    changes_.push_back({std::move(previous), std::move(current)});
  }

 private:
  absl::Mutex mu_;
  std::vector<FrontendSource::Change> changes_ ABSL_GUARDED_BY(mu_);
  DesiredFrontends all_ ABSL_GUARDED_BY(mu_);
};

class ProxierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reconciler_ = std::move(Reconciler::Create(&maps_).value());
    proxier_ = std::make_unique<Proxier>(&source_, reconciler_.get(), ProxierOptions{});
  }
  void Ready() {
    proxier_->MarkSynced(Proxier::Resource::kServices);
    proxier_->MarkSynced(Proxier::Resource::kEndpointSlices);
  }

  FakeLbMaps maps_;
  FakeSource source_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<Proxier> proxier_;
};

TEST_F(ProxierTest, WritesNothingUntilServicesAndEndpointSlicesAreBothListed) {
  source_.Change({}, Desired({{kSvcA, {kE1}}}));
  EXPECT_FALSE(proxier_->SyncOnce().ran);
  proxier_->MarkSynced(Proxier::Resource::kServices);
  EXPECT_FALSE(proxier_->SyncOnce().ran);
  EXPECT_THAT(maps_.ops(), IsEmpty());
  proxier_->MarkSynced(Proxier::Resource::kEndpointSlices);
  SyncReport report = proxier_->SyncOnce();
  EXPECT_TRUE(report.ran);
  EXPECT_TRUE(report.full);
  EXPECT_TRUE(MapsHold(maps_, Desired({{kSvcA, {kE1}}})));
}

TEST_F(ProxierTest, FirstSyncAfterARestartPrunesStaleAndLeavesCurrentServicesAlone) {
  {  // An earlier daemon programmed kSvcA and kSvcB.
    auto earlier = Reconciler::Create(&maps_).value();
    ASSERT_TRUE(earlier->Sync(Desired({{kSvcA, {kE1, kE2}}, {kSvcB, {kE3}}})).ok());
  }
  reconciler_ = std::move(Reconciler::Create(&maps_).value());
  proxier_ = std::make_unique<Proxier>(&source_, reconciler_.get(), ProxierOptions{});
  maps_.ClearOps();
  source_.Change({}, Desired({{kSvcA, {kE1, kE2}}}));  // kSvcB is gone from the cluster.
  Ready();
  ASSERT_TRUE(proxier_->SyncOnce().full);
  EXPECT_TRUE(MapsHold(maps_, Desired({{kSvcA, {kE1, kE2}}})));
  for (const std::string& op : maps_.ops()) {
    EXPECT_THAT(op, Not(HasSubstr("10.96.0.1:80"))) << "kSvcA was rewritten during the restart";
  }
}

TEST_F(ProxierTest, AfterTheFirstSyncOnlyChangedServicesAreWritten) {
  source_.Change({}, Desired({{kSvcA, {kE1}}}));
  source_.Change({}, Desired({{kSvcB, {kE2}}}));
  Ready();
  proxier_->SyncOnce();
  maps_.ClearOps();

  source_.Change(Desired({{kSvcB, {kE2}}}), Desired({{kSvcB, {kE2, kE3}}}));
  SyncReport report = proxier_->SyncOnce();
  EXPECT_FALSE(report.full);
  EXPECT_EQ(report.services_changed, 1u);
  EXPECT_EQ(report.frontends_written, 1u);
  for (const std::string& op : maps_.ops()) EXPECT_THAT(op, Not(HasSubstr("10.96.0.1:80")));
  EXPECT_TRUE(MapsHold(maps_, Desired({{kSvcA, {kE1}}, {kSvcB, {kE2, kE3}}})));
}

TEST_F(ProxierTest, AFrontendGoneFromAServiceIsRemoved) {
  source_.Change({}, Desired({{kSvcA, {kE1}}, {kSvcB443, {kE2}}}));
  Ready();
  proxier_->SyncOnce();
  maps_.ClearOps();
  source_.Change(Desired({{kSvcA, {kE1}}, {kSvcB443, {kE2}}}), Desired({{kSvcA, {kE1}}}));
  SyncReport report = proxier_->SyncOnce();
  EXPECT_EQ(report.frontends_written, 1u) << "kSvcA is unchanged and not written";
  EXPECT_THAT(maps_.ops(), Contains("delete svc 10.96.0.2:443/TCP#0"));
  EXPECT_TRUE(MapsHold(maps_, Desired({{kSvcA, {kE1}}})));
}

TEST_F(ProxierTest, AFailedWriteMakesTheNextSyncAFullOneThatRepairsIt) {
  source_.Change({}, Desired({{kSvcA, {kE1}}}));
  Ready();
  proxier_->SyncOnce();
  maps_.FailNext("update svc 10.96.0.1:80/TCP#2", absl::UnavailableError("injected"));
  source_.Change(Desired({{kSvcA, {kE1}}}), Desired({{kSvcA, {kE1, kE2}}}));
  SyncReport failed = proxier_->SyncOnce();
  EXPECT_EQ(failed.failures, 1u);
  SyncReport repair = proxier_->SyncOnce();
  EXPECT_TRUE(repair.full);
  EXPECT_EQ(repair.failures, 0u);
  EXPECT_TRUE(MapsHold(maps_, Desired({{kSvcA, {kE1, kE2}}})));
}

TEST_F(ProxierTest, AClusterIpMovingBetweenServicesInOneBatchIsNotRemoved) {
  source_.Change({}, Desired({{kSvcA, {kE1}}}));
  Ready();
  proxier_->SyncOnce();
  // Service "b" takes kSvcA's address in the same batch that Service "a"
  // gives it up; b's change comes first.
  source_.Change({}, Desired({{kSvcA, {kE2}}}));
  source_.Change(Desired({{kSvcA, {kE1}}}), {});
  proxier_->SyncOnce();
  EXPECT_TRUE(MapsHold(maps_, Desired({{kSvcA, {kE2}}})));
}

TEST(ProxierTimingTest, NextSyncTime) {
  const absl::Time t = absl::FromUnixSeconds(1000);
  ProxierOptions options{.min_sync_period = absl::Seconds(1), .sync_period = absl::Seconds(30)};
  using T = Proxier::Timing;
  struct Case {
    const char* what;
    T timing;
    absl::Time want;
  };
  const absl::Time past = absl::InfinitePast();
  for (const Case& c : std::vector<Case>{
           {"not listed yet: never", T{past, false, true, true, past}, absl::InfiniteFuture()},
           {"first sync: at once", T{past, true, false, true, past}, past},
           {"change: min period after the last", T{t, true, true, false, t}, t + absl::Seconds(1)},
           {"failed write: min period after the last", T{t, true, false, true, t}, t + absl::Seconds(1)},
           {"idle: the periodic full sync", T{t, true, false, false, t}, t + absl::Seconds(30)},
           {"idle: timed from the last full sync", T{t, true, false, false, t - absl::Seconds(20)},
            t + absl::Seconds(10)},
           {"changes all the time do not postpone the full sync", T{t, true, true, false, t - absl::Seconds(40)},
            t - absl::Seconds(10)},
       }) {
    EXPECT_EQ(Proxier::NextSyncTime(c.timing, options), c.want) << c.what;
  }
  options.min_sync_period = absl::ZeroDuration();
  EXPECT_EQ(Proxier::NextSyncTime(T{t, true, true, false, t}, options), t) << "0 allowed: sync at once";
}

TEST_F(ProxierTest, RunAppliesChangesAndStopsPromptly) {
  proxier_ = std::make_unique<Proxier>(&source_, reconciler_.get(),
                                       ProxierOptions{.min_sync_period = absl::ZeroDuration()});
  std::atomic<int> syncs{0};
  proxier_->SetObserver([&](const SyncReport&) { ++syncs; });
  std::thread runner([&] { proxier_->Run(); });
  source_.Change({}, Desired({{kSvcA, {kE1}}}));
  Ready();
  proxier_->NotifyChanged();
  for (absl::Time end = absl::Now() + absl::Seconds(5); absl::Now() < end && !MapsHold(maps_, Desired({{kSvcA, {kE1}}}));) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_TRUE(MapsHold(maps_, Desired({{kSvcA, {kE1}}})));
  absl::Time stop = absl::Now();
  proxier_->Stop();
  runner.join();
  EXPECT_LT(absl::Now() - stop, absl::Seconds(1));
  EXPECT_GE(syncs, 1);
}

// Review finding: full syncs were timed from the last sync of any kind, so
// a steady stream of changes postponed them forever.
TEST_F(ProxierTest, ChangesArrivingAllTheTimeDoNotStarveTheFullResync) {
  proxier_ = std::make_unique<Proxier>(&source_, reconciler_.get(),
                                       ProxierOptions{.min_sync_period = absl::Milliseconds(10),
                                                      .sync_period = absl::Milliseconds(200)});
  std::atomic<int> full{0};
  proxier_->SetObserver([&](const SyncReport& r) { full += r.full ? 1 : 0; });
  Ready();
  std::thread runner([&] { proxier_->Run(); });
  for (absl::Time end = absl::Now() + absl::Seconds(1); absl::Now() < end;) {
    proxier_->NotifyChanged();
    absl::SleepFor(absl::Milliseconds(20));
  }
  proxier_->Stop();
  runner.join();
  EXPECT_GE(full, 3) << "one full sync at start, then one per 200 ms";
}

}  // namespace
}  // namespace bpfproxy
