// The Proxier's external view: the per-packet path's reconciler (on
// FakeLbMaps) and its policies (InMemoryPolicyMaps), with every write of
// both recorded in one log so that their order can be asserted.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/fake_lb_maps.h"
#include "proxy/ip_prefix.h"
#include "proxy/policy_maps.h"
#include "proxy/proxier.h"
#include "tests/proxy/reconciler_cases.h"

namespace bpfproxy {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The shared log: "ext <FakeLbMaps op>" and "policy <InMemoryPolicyMaps line>".
using Log = std::vector<std::string>;

// FakeLbMaps whose writes also go to the shared log.
class LoggedLbMaps : public LbMaps {
 public:
  explicit LoggedLbMaps(Log* log) : log_(log) {}
  FakeLbMaps& fake() { return fake_; }

  absl::Status UpdateService(const lb_service_key& k, const lb_service_value& v) override {
    return Logged(fake_.UpdateService(k, v));
  }
  absl::Status DeleteService(const lb_service_key& k) override { return Logged(fake_.DeleteService(k)); }
  absl::Status UpdateBackend(uint32_t id, const lb_backend_value& v) override {
    return Logged(fake_.UpdateBackend(id, v));
  }
  absl::Status DeleteBackend(uint32_t id) override { return Logged(fake_.DeleteBackend(id)); }
  absl::Status UpdateMember(const lb_member_key& k) override { return Logged(fake_.UpdateMember(k)); }
  absl::Status DeleteMember(const lb_member_key& k) override { return Logged(fake_.DeleteMember(k)); }
  absl::Status ForEachService(ServiceVisitor visit) const override { return fake_.ForEachService(visit); }
  absl::Status ForEachBackend(BackendVisitor visit) const override { return fake_.ForEachBackend(visit); }
  absl::Status ForEachMember(MemberVisitor visit) const override { return fake_.ForEachMember(visit); }
  LbMapCapacity capacity() const override { return fake_.capacity(); }

 private:
  absl::Status Logged(absl::Status s) {
    for (; logged_ < fake_.ops().size(); ++logged_) log_->push_back(absl::StrCat("ext ", fake_.ops()[logged_]));
    return s;
  }
  FakeLbMaps fake_;
  Log* log_;
  size_t logged_ = 0;
};

// InMemoryPolicyMaps whose calls also go to the shared log.
class LoggedPolicyMaps : public PolicyMaps {
 public:
  explicit LoggedPolicyMaps(Log* log) : log_(log) {}
  InMemoryPolicyMaps& memory() { return memory_; }

  absl::Status Upsert(const L4Address& f, const FrontendPolicy& p) override { return Logged(memory_.Upsert(f, p)); }
  absl::Status Remove(const L4Address& f) override { return Logged(memory_.Remove(f)); }
  absl::Status Prune(const absl::btree_set<L4Address>& keep) override { return Logged(memory_.Prune(keep)); }
  DesiredPolicies Applied() const override { return memory_.Applied(); }

 private:
  absl::Status Logged(absl::Status s) {
    for (; logged_ < memory_.log().size(); ++logged_) log_->push_back(absl::StrCat("policy ", memory_.log()[logged_]));
    return s;
  }
  InMemoryPolicyMaps memory_;
  Log* log_;
  size_t logged_ = 0;
};

// A source whose changes are written by the test, per Service.
class FakeSource : public FrontendSource {
 public:
  std::vector<Change> TakeChanges() override {
    absl::MutexLock lock(&mu_);
    return std::move(changes_);
  }
  DesiredFrontends AllFrontends() override {
    absl::MutexLock lock(&mu_);
    return all_socket_;
  }
  ExternalFrontends AllExternalFrontends() override {
    absl::MutexLock lock(&mu_);
    return all_external_;
  }
  // One Service's external view changes from |previous| to |current|.
  void ChangeExternal(ExternalFrontends previous, ExternalFrontends current) {
    absl::MutexLock lock(&mu_);
    for (const auto& [f, b] : previous.frontends) {
      all_external_.frontends.erase(f);
      all_external_.policies.erase(f);
    }
    for (const auto& [f, b] : current.frontends) all_external_.Set(f, b, current.PolicyOf(f));
    changes_.push_back({.previous = {}, .current = {}, .external_previous = previous, .external_current = current});
  }
  void ChangeSocket(DesiredFrontends previous, DesiredFrontends current) {
    absl::MutexLock lock(&mu_);
    for (const auto& [f, b] : previous) all_socket_.erase(f);
    for (const auto& [f, b] : current) all_socket_[f] = b;
    changes_.push_back({.previous = previous, .current = current});
  }

 private:
  absl::Mutex mu_;
  std::vector<Change> changes_ ABSL_GUARDED_BY(mu_);
  DesiredFrontends all_socket_ ABSL_GUARDED_BY(mu_);
  ExternalFrontends all_external_ ABSL_GUARDED_BY(mu_);
};

constexpr absl::string_view kNodePort = "192.168.1.10:30080/TCP";
constexpr absl::string_view kLbIp = "198.51.100.7:80/TCP";

FrontendPolicy Ranges(std::vector<std::string> ranges, uint16_t flags = 0) {
  FrontendPolicy p{.flags = static_cast<uint16_t>(flags | LB_POL_F_SOURCE_RANGES)};
  for (const std::string& r : ranges) p.source_ranges.push_back(ParseIpPrefix(r).value());
  return p;
}
const FrontendPolicy kPreserve{.flags = LB_POL_F_PRESERVE_SOURCE};
const FrontendPolicy kDropLocal{.flags = LB_POL_F_PRESERVE_SOURCE | LB_POL_F_DROP_NO_BACKEND};

// An external view of one frontend.
ExternalFrontends View(absl::string_view frontend, std::vector<absl::string_view> backends,
                       FrontendPolicy policy = {}) {
  ExternalFrontends view;
  std::vector<L4Address> list;
  for (absl::string_view b : backends) list.push_back(L4(b));
  view.Set(L4(frontend), std::move(list), std::move(policy));
  return view;
}

// The position of the first log line starting with |prefix|; the log's
// size when there is none, so a missing line fails every "before" check.
size_t Position(const Log& log, absl::string_view prefix) {
  for (size_t i = 0; i < log.size(); ++i) {
    if (absl::StartsWith(log[i], prefix)) return i;
  }
  return log.size();
}
bool Has(const Log& log, absl::string_view prefix) { return Position(log, prefix) < log.size(); }
std::string Master(absl::string_view frontend) { return absl::StrCat("ext update svc ", frontend, "#0"); }
std::string MasterDeleted(absl::string_view frontend) { return absl::StrCat("ext delete svc ", frontend, "#0"); }

class ProxierExternalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = std::move(Reconciler::Create(&socket_maps_).value());
    external_ = std::move(Reconciler::Create(&external_maps_).value());
    proxier_ = NewProxier();
  }
  std::unique_ptr<Proxier> NewProxier() {
    auto p = std::make_unique<Proxier>(
        &source_, ProxierTargets{.socket = socket_.get(), .external = external_.get(), .policies = &policies_},
        ProxierOptions{});
    p->MarkSynced(Proxier::Resource::kServices);
    p->MarkSynced(Proxier::Resource::kEndpointSlices);
    return p;
  }
  // The first sync is a full one; later ones apply changes.
  void FirstSync() {
    ASSERT_TRUE(proxier_->SyncOnce().full);
    log_.clear();
  }
  ::testing::AssertionResult ExternalHolds(DesiredFrontends want) { return MapsHold(external_maps_.fake(), want); }

  Log log_;
  FakeLbMaps socket_maps_;
  LoggedLbMaps external_maps_{&log_};
  LoggedPolicyMaps policies_{&log_};
  FakeSource source_;
  std::unique_ptr<Reconciler> socket_, external_;
  std::unique_ptr<Proxier> proxier_;
};

TEST_F(ProxierExternalTest, AFullSyncThatChangesNothingCountsNoPolicyWrite) {
  SyncReport report = proxier_->SyncOnce();
  ASSERT_TRUE(report.full);
  EXPECT_EQ(report.failures, 0u);
  EXPECT_EQ(report.policies_written, 0u) << "the prune of stale policies is not a write";
  EXPECT_THAT(log_, ::testing::Contains(::testing::StartsWith("policy prune"))) << "but it ran";
}

TEST_F(ProxierExternalTest, APolicyIsWrittenBeforeItsFrontendsMasterEntry) {
  FirstSync();
  source_.ChangeExternal({}, View(kLbIp, {kE1}, Ranges({"203.0.113.0/24"})));
  SyncReport report = proxier_->SyncOnce();
  EXPECT_EQ(report.failures, 0u);
  EXPECT_EQ(report.policies_written, 1u);
  EXPECT_EQ(report.frontends_written, 1u);
  EXPECT_EQ(Position(log_, "policy upsert 198.51.100.7:80/TCP flags=source-ranges ranges=203.0.113.0/24"), 0u);
  EXPECT_LT(0u, Position(log_, Master(kLbIp))) << ::testing::PrintToString(log_);
  EXPECT_TRUE(ExternalHolds(Desired({{kLbIp, {kE1}}})));
  EXPECT_THAT(socket_maps_.ops(), IsEmpty()) << "the socket view did not change";
}

TEST_F(ProxierExternalTest, AFrontendIsRemovedBeforeItsPolicy) {
  source_.ChangeExternal({}, View(kNodePort, {kE1}, kPreserve));
  FirstSync();
  source_.ChangeExternal(View(kNodePort, {kE1}, kPreserve), {});
  SyncReport report = proxier_->SyncOnce();
  EXPECT_EQ(report.failures, 0u);
  EXPECT_LT(Position(log_, MasterDeleted(kNodePort)), Position(log_, "policy remove 192.168.1.10:30080/TCP"))
      << ::testing::PrintToString(log_);
  EXPECT_TRUE(ExternalHolds({}));
  EXPECT_THAT(policies_.memory().Applied(), IsEmpty());
}

TEST_F(ProxierExternalTest, AFrontendWithTheDefaultPolicyWritesNoPolicy) {
  FirstSync();
  source_.ChangeExternal({}, View(kNodePort, {kE1}));
  SyncReport report = proxier_->SyncOnce();
  EXPECT_EQ(report.policies_written, 0u);
  source_.ChangeExternal(View(kNodePort, {kE1}), {});
  report = proxier_->SyncOnce();
  EXPECT_EQ(report.policies_written, 0u);
  for (const std::string& line : log_) EXPECT_FALSE(absl::StartsWith(line, "policy")) << line;
}

TEST_F(ProxierExternalTest, APolicyChangeAloneWritesOnlyThePolicy) {
  source_.ChangeExternal({}, View(kNodePort, {}, kPreserve));
  FirstSync();
  // The last local endpoint is gone while others exist: drop, not reject.
  source_.ChangeExternal(View(kNodePort, {}, kPreserve), View(kNodePort, {}, kDropLocal));
  SyncReport report = proxier_->SyncOnce();
  EXPECT_EQ(report.frontends_written, 0u);
  EXPECT_THAT(log_, ElementsAre("policy upsert 192.168.1.10:30080/TCP flags=preserve-source,drop-no-backend"));
}

TEST_F(ProxierExternalTest, ABackendChangeAloneWritesNoPolicy) {
  source_.ChangeExternal({}, View(kNodePort, {kE1}, kPreserve));
  FirstSync();
  source_.ChangeExternal(View(kNodePort, {kE1}, kPreserve), View(kNodePort, {kE1, kE2}, kPreserve));
  SyncReport report = proxier_->SyncOnce();
  EXPECT_EQ(report.policies_written, 0u);
  EXPECT_EQ(report.frontends_written, 1u);
  EXPECT_TRUE(ExternalHolds(Desired({{kNodePort, {kE1, kE2}}})));
}

TEST_F(ProxierExternalTest, AFailedPolicyWriteLeavesTheFrontendUnwrittenUntilTheFullResync) {
  FirstSync();
  policies_.memory().fail_frontend = L4(kLbIp);
  source_.ChangeExternal({}, View(kLbIp, {kE1}, Ranges({"203.0.113.0/24"})));
  SyncReport failed = proxier_->SyncOnce();
  EXPECT_EQ(failed.failures, 1u);
  EXPECT_TRUE(ExternalHolds({})) << "without its ranges the frontend would admit every source";

  // Still failing: the full resync keeps it out too.
  SyncReport still = proxier_->SyncOnce();
  EXPECT_TRUE(still.full);
  EXPECT_EQ(still.failures, 1u);
  EXPECT_TRUE(ExternalHolds({}));

  policies_.memory().fail_frontend.reset();
  log_.clear();
  SyncReport repair = proxier_->SyncOnce();
  EXPECT_TRUE(repair.full);
  EXPECT_EQ(repair.failures, 0u);
  EXPECT_TRUE(ExternalHolds(Desired({{kLbIp, {kE1}}})));
  EXPECT_EQ(policies_.memory().Applied().at(L4(kLbIp)), Ranges({"203.0.113.0/24"}));
  EXPECT_LT(Position(log_, "policy upsert 198.51.100.7:80/TCP"), Position(log_, Master(kLbIp)));
}

TEST_F(ProxierExternalTest, AFailedPolicyWriteKeepsAnExistingFrontendAsItWas) {
  source_.ChangeExternal({}, View(kNodePort, {kE1}));
  FirstSync();
  policies_.memory().fail_frontend = L4(kNodePort);
  // eTP Cluster -> Local: new backends only make sense with the new policy.
  source_.ChangeExternal(View(kNodePort, {kE1}), View(kNodePort, {kE2}, kPreserve));
  EXPECT_EQ(proxier_->SyncOnce().failures, 1u);
  EXPECT_TRUE(ExternalHolds(Desired({{kNodePort, {kE1}}})));
  SyncReport full = proxier_->SyncOnce();
  EXPECT_TRUE(full.full);
  EXPECT_TRUE(ExternalHolds(Desired({{kNodePort, {kE1}}}))) << "the full sync keeps it too";
  policies_.memory().fail_frontend.reset();
  proxier_->SyncOnce();
  EXPECT_TRUE(ExternalHolds(Desired({{kNodePort, {kE2}}})));
  EXPECT_EQ(policies_.memory().Applied().at(L4(kNodePort)), kPreserve);
}

TEST_F(ProxierExternalTest, AFailedRemoveKeepsThePolicyUntilTheFrontendIsGone) {
  source_.ChangeExternal({}, View(kLbIp, {kE1}, Ranges({"203.0.113.0/24"})));
  FirstSync();
  external_maps_.fake().FailNext(MasterDeleted(kLbIp).substr(4), absl::UnavailableError("injected"));
  source_.ChangeExternal(View(kLbIp, {kE1}, Ranges({"203.0.113.0/24"})), {});
  EXPECT_EQ(proxier_->SyncOnce().failures, 1u);
  EXPECT_FALSE(Has(log_, "policy remove")) << "the master entry is still there";
  EXPECT_TRUE(policies_.memory().Applied().contains(L4(kLbIp)));
  log_.clear();
  SyncReport repair = proxier_->SyncOnce();
  EXPECT_TRUE(repair.full);
  EXPECT_EQ(repair.failures, 0u);
  EXPECT_TRUE(ExternalHolds({}));
  EXPECT_THAT(policies_.memory().Applied(), IsEmpty());
  EXPECT_LT(Position(log_, MasterDeleted(kLbIp)), Position(log_, "policy prune kept=0 removed=198.51.100.7:80/TCP"))
      << ::testing::PrintToString(log_);
}

TEST_F(ProxierExternalTest, AFrontendMovingBetweenServicesInOneBatchIsRewrittenNotRemoved) {
  source_.ChangeExternal({}, View(kLbIp, {kE1}, Ranges({"203.0.113.0/24"})));
  FirstSync();
  // Service "b" takes the address (no ranges) in the batch that "a" gives
  // it up; b's change comes first.
  source_.ChangeExternal({}, View(kLbIp, {kE2}));
  source_.ChangeExternal(View(kLbIp, {kE1}, Ranges({"203.0.113.0/24"})), {});
  EXPECT_EQ(proxier_->SyncOnce().failures, 0u);
  EXPECT_FALSE(Has(log_, MasterDeleted(kLbIp))) << ::testing::PrintToString(log_);
  EXPECT_TRUE(ExternalHolds(Desired({{kLbIp, {kE2}}})));
  EXPECT_THAT(policies_.memory().Applied(), IsEmpty());
  EXPECT_LT(Position(log_, "policy remove 198.51.100.7:80/TCP"), Position(log_, "ext update svc"));
}

TEST_F(ProxierExternalTest, TheFullSyncWritesPoliciesThenFrontendsThenPrunes) {
  {  // An earlier daemon left a frontend and its policy that are gone now.
    auto earlier = Reconciler::Create(&external_maps_).value();
    ASSERT_TRUE(earlier->Sync(Desired({{kSvcC, {kE3}}})).ok());
    ASSERT_TRUE(policies_.Upsert(L4(kSvcC), kPreserve).ok());
  }
  external_ = std::move(Reconciler::Create(&external_maps_).value());
  proxier_ = NewProxier();
  log_.clear();
  source_.ChangeExternal({}, View(kNodePort, {kE1}, kPreserve));
  SyncReport report = proxier_->SyncOnce();
  ASSERT_TRUE(report.full);
  EXPECT_EQ(report.failures, 0u);
  const size_t policy = Position(log_, "policy upsert 192.168.1.10:30080/TCP flags=preserve-source");
  const size_t master = Position(log_, Master(kNodePort));
  const size_t stale = Position(log_, MasterDeleted(kSvcC));
  const size_t prune = Position(log_, "policy prune kept=1 removed=10.96.0.3:80/TCP");
  EXPECT_LT(policy, master) << ::testing::PrintToString(log_);
  EXPECT_LT(stale, prune) << ::testing::PrintToString(log_);
  EXPECT_LT(prune, log_.size());
  EXPECT_TRUE(ExternalHolds(Desired({{kNodePort, {kE1}}})));
  EXPECT_EQ(policies_.memory().Applied(), (DesiredPolicies{{L4(kNodePort), kPreserve}}));
}

TEST_F(ProxierExternalTest, AFullSyncAfterARestartRewritesNoPolicyThatIsRight) {
  source_.ChangeExternal({}, View(kNodePort, {kE1}, kPreserve));
  source_.ChangeExternal({}, View(kLbIp, {kE2}, Ranges({"10.1.2.3/8"})));  // Canonical: 10.0.0.0/8.
  FirstSync();
  external_ = std::move(Reconciler::Create(&external_maps_).value());
  proxier_ = NewProxier();
  SyncReport report = proxier_->SyncOnce();
  ASSERT_TRUE(report.full);
  EXPECT_THAT(log_, ElementsAre("policy prune kept=2 removed=none"));
}

TEST_F(ProxierExternalTest, WithoutTheExternalTargetsTheExternalViewIsIgnored) {
  Proxier socket_only(&source_, socket_.get(), ProxierOptions{});
  socket_only.MarkSynced(Proxier::Resource::kServices);
  socket_only.MarkSynced(Proxier::Resource::kEndpointSlices);
  source_.ChangeExternal({}, View(kNodePort, {kE1}, kPreserve));
  source_.ChangeSocket({}, Desired({{kSvcA, {kE1}}}));
  SyncReport report = socket_only.SyncOnce();
  EXPECT_EQ(report.failures, 0u);
  source_.ChangeExternal(View(kNodePort, {kE1}, kPreserve), View(kNodePort, {kE2}, kPreserve));
  EXPECT_EQ(socket_only.SyncOnce().failures, 0u);
  EXPECT_THAT(log_, IsEmpty());
  EXPECT_TRUE(MapsHold(socket_maps_, Desired({{kSvcA, {kE1}}})));
}

TEST_F(ProxierExternalTest, BothViewsAreAppliedInOneSync) {
  FirstSync();
  source_.ChangeSocket({}, Desired({{kSvcA, {kE1, kE2}}}));
  source_.ChangeExternal({}, View(kNodePort, {kE1}, kPreserve));
  SyncReport report = proxier_->SyncOnce();
  EXPECT_EQ(report.services_changed, 2u);
  EXPECT_EQ(report.frontends_written, 2u);
  EXPECT_EQ(report.policies_written, 1u);
  EXPECT_TRUE(MapsHold(socket_maps_, Desired({{kSvcA, {kE1, kE2}}})));
  EXPECT_TRUE(ExternalHolds(Desired({{kNodePort, {kE1}}})));
}

}  // namespace
}  // namespace bpfproxy
