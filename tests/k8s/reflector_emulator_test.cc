// The real client stack end to end: a kubeconfig loaded from disk,
// RestApiClient over HTTPS (pinned CA, bearer token) and the Reflector,
// against the in-process API server emulator (e2e/apiserver).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "k8s/kube_config.h"
#include "k8s/reflector.h"
#include "k8s/rest_api_client.h"
#include "tests/e2e/apiserver_test_util.h"
#include "tests/k8s/fake_api_client.h"

namespace bpfproxy::k8s {
namespace {

using e2e::apiserver::EmulatorConfig;
using e2e::apiserver::testing::EmulatorTest;
using e2e::apiserver::testing::Service;
using ::testing::ElementsAre;
using testing::RecordingHandler;

// The real clock, except that backoff sleeps wait until the test opens the
// gate: the test decides what happens while the reflector is disconnected.
class GatedClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  bool SleepFor(absl::Duration, absl::Notification& wake) override {
    absl::MutexLock lock(&mu_);
    ++sleeping_;
    while (!open_ && !wake.HasBeenNotified()) mu_.AwaitWithTimeout(absl::Condition(&open_), absl::Milliseconds(10));
    --sleeping_;
    return !wake.HasBeenNotified();
  }
  bool WaitUntilSleeping(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto sleeping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sleeping_ > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&sleeping), timeout);
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }

 private:
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  int sleeping_ ABSL_GUARDED_BY(mu_) = 0;
};

class ReflectorEmulatorTest : public EmulatorTest {
 protected:
  void StartAll(EmulatorConfig config = {}) {
    config.api.bookmark_interval = absl::Milliseconds(100);
    StartEmulator(std::move(config));
    absl::StatusOr<std::string> kubeconfig = pki().WriteKubeconfig(emulator().url());
    ASSERT_TRUE(kubeconfig.ok()) << kubeconfig.status();
    absl::StatusOr<ClientConfig> client_config = LoadKubeconfig(*kubeconfig);
    ASSERT_TRUE(client_config.ok()) << client_config.status();
    ASSERT_FALSE(client_config->ca_pem.empty());
    absl::StatusOr<std::unique_ptr<RestApiClient>> client = RestApiClient::Create(*client_config);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);

    ReflectorOptions options;
    options.page_size = 2;  // several pages from the real server
    options.clock = &clock_;
    reflector_ = std::make_unique<Reflector>(
        client_.get(), ResourceRequest{"/api/v1/services", "!service.kubernetes.io/headless", "", "services", nullptr},
        &handler_, options);
    reflector_->Start();
  }

  void TearDown() override {
    if (reflector_ != nullptr) reflector_->Stop();
  }

  // The next |count| deliveries, as "upsert ns/name@rv" etc.; fewer if they
  // do not come within |timeout|.
  std::vector<std::string> Next(size_t count, absl::Duration timeout = absl::Seconds(10)) {
    for (absl::Time deadline = absl::Now() + timeout; log_.size() < count && absl::Now() < deadline;) {
      std::vector<std::string> more = handler_.TakeLog();
      log_.insert(log_.end(), more.begin(), more.end());
      if (more.empty()) absl::SleepFor(absl::Milliseconds(2));
    }
    std::vector<std::string> next(log_.begin(), log_.begin() + std::min(count, log_.size()));
    log_.erase(log_.begin(), log_.begin() + next.size());
    return next;
  }

  std::string At(const std::string& ns, const std::string& name) {
    absl::StatusOr<nlohmann::json> object = emulator().store().Get(e2e::apiserver::Resource::kServices, ns, name);
    return object.ok() ? absl::StrCat(ns, "/", name, "@", (*object)["metadata"]["resourceVersion"].get<std::string>())
                       : "missing";
  }

  GatedClock clock_;
  RecordingHandler handler_;
  std::vector<std::string> log_;
  std::unique_ptr<RestApiClient> client_;
  std::unique_ptr<Reflector> reflector_;
};

TEST_F(ReflectorEmulatorTest, ListsInPagesThenFollowsChanges) {
  EmulatorConfig config;
  config.initial_objects = {Service("default", "a"), Service("default", "b"), Service("kube-system", "c"),
                            Service("default", "headless", {{"service.kubernetes.io/headless", ""}})};
  StartAll(std::move(config));

  EXPECT_THAT(Next(4), ElementsAre("upsert " + At("default", "a"), "upsert " + At("default", "b"),
                                   "upsert " + At("kube-system", "c"), "synced"));
  ASSERT_TRUE(emulator().WaitForOpenWatches(1, absl::Seconds(10)));
  ASSERT_TRUE(emulator().Apply(Service("default", "d")).ok());
  EXPECT_THAT(Next(1), ElementsAre("upsert " + At("default", "d")));
  ASSERT_TRUE(emulator().Apply(Service("default", "a", {{"version", "2"}})).ok());
  EXPECT_THAT(Next(1), ElementsAre("upsert " + At("default", "a")));
  absl::StatusOr<nlohmann::json> deleted = emulator().Delete("services", "default", "b");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_THAT(Next(1), ElementsAre(absl::StrCat("delete default/b@",
                                                (*deleted)["metadata"]["resourceVersion"].get<std::string>())));
  EXPECT_TRUE(reflector_->synced());
  EXPECT_EQ(reflector_->stats().decode_errors, 0);

  const absl::Time start = absl::Now();
  reflector_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_TRUE(emulator().WaitForOpenWatchesAtMost(0, absl::Seconds(5)));
}

// While the reflector is disconnected, objects change and the server
// compacts its history: the reflector's next watch gets 410 (as an ERROR
// event, or as the HTTP answer), it lists again, deletes what vanished and
// does not deliver unchanged objects twice.
class ReflectorEmulatorGoneTest : public ReflectorEmulatorTest, public ::testing::WithParamInterface<bool> {};

TEST_P(ReflectorEmulatorGoneTest, RelistsAfterCompactionWhileDisconnected) {
  EmulatorConfig config;
  config.api.expired_as_http_410 = GetParam();
  config.initial_objects = {Service("default", "a"), Service("default", "b"), Service("default", "c")};
  StartAll(std::move(config));
  EXPECT_THAT(Next(4), ElementsAre("upsert " + At("default", "a"), "upsert " + At("default", "b"),
                                   "upsert " + At("default", "c"), "synced"));
  ASSERT_TRUE(emulator().WaitForOpenWatches(1, absl::Seconds(10)));

  ASSERT_EQ(emulator().CutWatches(), 1);
  ASSERT_TRUE(clock_.WaitUntilSleeping(absl::Seconds(10))) << "no backoff after the cut";
  const std::string a_before = At("default", "a");
  ASSERT_TRUE(emulator().Delete("services", "default", "a").ok());
  ASSERT_TRUE(emulator().Apply(Service("default", "c", {{"version", "2"}})).ok());
  ASSERT_TRUE(emulator().Apply(Service("default", "d")).ok());
  emulator().Compact();
  clock_.Open();

  // b is unchanged: not delivered again. Upserts come before deletes, and a
  // delete found by a list carries the last state the reflector saw.
  EXPECT_THAT(Next(3),
              ElementsAre("upsert " + At("default", "c"), "upsert " + At("default", "d"), "delete " + a_before));
  EXPECT_TRUE(emulator().WaitForOpenWatches(1, absl::Seconds(10)));
  EXPECT_EQ(reflector_->stats().relists, 1);
  EXPECT_GE(reflector_->stats().reconnects, 1);
  EXPECT_THAT(Next(1, absl::Milliseconds(300)), ::testing::IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(ExpiredAs, ReflectorEmulatorGoneTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Http410" : "ErrorEvent";
                         });

TEST_F(ReflectorEmulatorTest, WrongTokenIsUnauthorized) {
  StartEmulator();
  absl::StatusOr<std::unique_ptr<RestApiClient>> client = RestApiClient::Create(
      ClientConfig{.server = emulator().url(), .ca_pem = "", .insecure_skip_tls_verify = true, .token = "wrong"});
  ASSERT_TRUE(client.ok()) << client.status();
  absl::Status status = (*client)->List(ResourceRequest{"/api/v1/services"}, 0, "").status();
  EXPECT_EQ(HttpCode(status), 401) << status;
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
}

// Shutting down in the daemon's order (stop reflectors, destroy the client)
// and exiting does not crash, even with a watch stream left open.
TEST_F(ReflectorEmulatorTest, ExitsCleanlyAfterShutdown) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        EmulatorConfig config;
        config.initial_objects = {Service("default", "a")};
        StartAll(std::move(config));
        if (Next(2).size() != 2) std::exit(2);
        std::unique_ptr<WatchStream> leftover =
            *client_->Watch(ResourceRequest{"/api/v1/services"}, "", absl::Minutes(5));
        reflector_->Stop();
        client_.reset();
        std::exit(leftover->Next().status().code() == absl::StatusCode::kCancelled ? 0 : 3);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace bpfproxy::k8s
