// The Reflector against a scripted ApiClient and a clock that does not
// sleep: what the handler receives, which calls reach the server, and how
// long the reflector would have slept between them.
#include "k8s/reflector.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/k8s/fake_api_client.h"

namespace bpfproxy::k8s {
namespace {

using testing::Bookmark;
using ::testing::ElementsAre;
using testing::ErrorEvent;
using testing::Event;
using testing::FakeApiClient;
using testing::FakeClock;
using ::testing::IsEmpty;
using testing::Object;
using testing::RecordingHandler;
using testing::WatchScript;

constexpr auto kAdded = WatchEventType::kAdded;
constexpr auto kModified = WatchEventType::kModified;
constexpr auto kDeleted = WatchEventType::kDeleted;

ListPage Page(std::vector<nlohmann::json> items, std::string rv, std::string continue_token = "") {
  return ListPage{std::move(items), std::move(rv), std::move(continue_token)};
}

absl::StatusOr<std::optional<WatchEvent>> Step(WatchEvent event) { return std::optional<WatchEvent>(std::move(event)); }

class ReflectorTest : public ::testing::Test {
 protected:
  // Starts a reflector for services whose random source always returns |r|.
  void Start(double r = 0.5) {
    ReflectorOptions options;
    options.clock = &clock_;
    options.random = [r] { return r; };
    reflector_ = std::make_unique<Reflector>(&client_, ResourceRequest{"/api/v1/services", "", "", "services"},
                                             &handler_, options);
    reflector_->Start();
  }

  // Waits until every script is consumed, stops, returns what was delivered.
  std::vector<std::string> RunUntilIdle() {
    EXPECT_TRUE(client_.WaitUntilIdle()) << "the reflector did not consume every script";
    reflector_->Stop();
    return handler_.TakeLog();
  }

  std::vector<std::string> WatchVersions() const {
    std::vector<std::string> versions;
    for (const auto& call : client_.watch_calls()) versions.push_back(call.resource_version);
    return versions;
  }
  std::vector<std::string> ContinueTokens() const {
    std::vector<std::string> tokens;
    for (const auto& call : client_.list_calls()) tokens.push_back(call.continue_token);
    return tokens;
  }

  FakeApiClient client_;
  FakeClock clock_;
  RecordingHandler handler_;
  std::unique_ptr<Reflector> reflector_;
};

TEST_F(ReflectorTest, ListsAllPagesThenSyncsAndWatchesFromTheListVersion) {
  client_.AddListPage(Page({Object("default", "a", "1"), Object("default", "b", "2")}, "", "c1"));
  client_.AddListPage(Page({Object("default", "c", "3")}, "", "c2"));
  client_.AddListPage(Page({Object("kube-system", "d", "4")}, "10"));
  Start(/*r=*/0.25);

  EXPECT_THAT(RunUntilIdle(), ElementsAre("upsert default/a@1", "upsert default/b@2", "upsert default/c@3",
                                          "upsert kube-system/d@4", "synced"));
  EXPECT_THAT(ContinueTokens(), ElementsAre("", "c1", "c2"));
  for (const auto& call : client_.list_calls()) EXPECT_EQ(call.limit, 500);
  EXPECT_THAT(WatchVersions(), ElementsAre("10"));
  // Server-side timeout: min (5 min) * (1 + r).
  EXPECT_EQ(client_.watch_calls()[0].timeout, absl::Seconds(375));
  EXPECT_TRUE(reflector_->synced());
  EXPECT_THAT(clock_.sleeps(), IsEmpty());
}

TEST_F(ReflectorTest, BookmarkVersionIsUsedForTheNextWatch) {
  client_.AddListPage(Page({Object("default", "a", "1")}, "5"));
  client_.AddWatch({.steps = {Step(Event(kAdded, Object("default", "b", "6"))), Step(Bookmark("20"))}});
  Start();

  EXPECT_THAT(RunUntilIdle(), ElementsAre("upsert default/a@1", "synced", "upsert default/b@6"));
  // The watch ended normally (server timeout): rewatched at once from the bookmark.
  EXPECT_THAT(WatchVersions(), ElementsAre("5", "20"));
  EXPECT_THAT(clock_.sleeps(), IsEmpty());
  EXPECT_EQ(reflector_->stats().events, 2);
}

TEST_F(ReflectorTest, GoneErrorEventRelistsAndDeletesWhatVanished) {
  client_.AddListPage(
      Page({Object("default", "a", "1"), Object("default", "b", "1"), Object("default", "c", "1")}, "1"));
  client_.AddWatch({.steps = {Step(Event(kModified, Object("default", "a", "5"))), Step(ErrorEvent(410, "Expired"))}});
  // While the reflector was away: c was deleted, d added; a and b unchanged.
  client_.AddListPage(
      Page({Object("default", "a", "5"), Object("default", "b", "1"), Object("default", "d", "7")}, "8"));
  Start();

  EXPECT_THAT(RunUntilIdle(), ElementsAre("upsert default/a@1", "upsert default/b@1", "upsert default/c@1", "synced",
                                          "upsert default/a@5", "upsert default/d@7", "delete default/c@1"));
  EXPECT_THAT(WatchVersions(), ElementsAre("1", "8"));
  EXPECT_EQ(reflector_->stats().relists, 1);
  // The watch was healthy, so the 410 is answered by listing at once.
  EXPECT_THAT(clock_.sleeps(), IsEmpty());
}

TEST_F(ReflectorTest, GoneHttpAnswerToTheWatchRelists) {
  client_.AddListPage(Page({Object("default", "a", "1"), Object("default", "b", "1")}, "1"));
  client_.AddWatch({.open_error = ApiError(410, "Expired", "too old resource version: 1 (9)")});
  client_.AddListPage(Page({Object("default", "b", "2")}, "9"));
  Start(/*r=*/0.5);

  EXPECT_THAT(RunUntilIdle(), ElementsAre("upsert default/a@1", "upsert default/b@1", "synced", "upsert default/b@2",
                                          "delete default/a@1"));
  EXPECT_THAT(WatchVersions(), ElementsAre("1", "9"));
  EXPECT_EQ(reflector_->stats().relists, 1);
  // A watch refused at once is not healthy: the relist waits the first backoff.
  EXPECT_THAT(clock_.sleeps(), ElementsAre(absl::Milliseconds(1200)));
}

TEST_F(ReflectorTest, ExpiredContinueTokenRestartsTheList) {
  client_.AddListPage(Page({Object("default", "a", "1")}, "", "c1"));
  client_.AddListPage(ApiError(410, "Expired", "The provided continue parameter is too old"));
  client_.AddListPage(Page({Object("default", "a", "2")}, "", "c2"));
  client_.AddListPage(Page({Object("default", "b", "3")}, "9"));
  Start();

  // Nothing from the abandoned attempt is delivered.
  EXPECT_THAT(RunUntilIdle(), ElementsAre("upsert default/a@2", "upsert default/b@3", "synced"));
  EXPECT_THAT(ContinueTokens(), ElementsAre("", "c1", "", "c2"));
  EXPECT_THAT(WatchVersions(), ElementsAre("9"));
  EXPECT_EQ(reflector_->stats().relists, 1);
  EXPECT_THAT(clock_.sleeps(), IsEmpty());
}

TEST_F(ReflectorTest, ReconnectBackoffDoublesUpToTheCap) {
  client_.AddListPage(Page({}, "1"));
  for (int i = 0; i < 9; ++i) client_.AddWatch({.open_error = absl::UnavailableError("connection refused")});
  Start(/*r=*/0.0);

  RunUntilIdle();
  EXPECT_THAT(clock_.sleeps(),
              ElementsAre(absl::Milliseconds(800), absl::Milliseconds(1600), absl::Milliseconds(3200),
                          absl::Milliseconds(6400), absl::Milliseconds(12800), absl::Milliseconds(25600),
                          absl::Seconds(30), absl::Seconds(30), absl::Seconds(30)));
  EXPECT_EQ(reflector_->stats().reconnects, 9);
  EXPECT_THAT(WatchVersions(), ElementsAre("1", "1", "1", "1", "1", "1", "1", "1", "1", "1"));
}

TEST_F(ReflectorTest, BackoffIsJitteredAndResetsAfterAHealthyWatch) {
  client_.AddListPage(Page({}, "1"));
  for (int i = 0; i < 3; ++i) client_.AddWatch({.open_error = absl::UnavailableError("connection refused")});
  // A healthy watch (it delivered an event), then the connection drops.
  client_.AddWatch({.steps = {Step(Event(kAdded, Object("default", "a", "2"))),
                              absl::UnavailableError("connection reset by peer")}});
  client_.AddWatch({.open_error = absl::UnavailableError("connection refused")});
  Start(/*r=*/0.5);

  EXPECT_THAT(RunUntilIdle(), ElementsAre("synced", "upsert default/a@2"));
  // delay = base * (1 + 1.0 * 0.5); the drop after the healthy watch starts over.
  EXPECT_THAT(clock_.sleeps(), ElementsAre(absl::Milliseconds(1200), absl::Milliseconds(2400), absl::Milliseconds(4800),
                                           absl::Milliseconds(1200), absl::Milliseconds(2400)));
  EXPECT_THAT(WatchVersions(), ElementsAre("1", "1", "1", "1", "2", "2"));
  EXPECT_EQ(reflector_->stats().reconnects, 5);
}

TEST_F(ReflectorTest, FailedListIsRetriedAfterTheBackoff) {
  client_.AddListPage(absl::UnavailableError("connection refused"));
  client_.AddListPage(ApiError(403, "Forbidden", "services is forbidden"));
  client_.AddListPage(Page({Object("default", "a", "1")}, "3"));
  Start(/*r=*/0.5);

  EXPECT_THAT(RunUntilIdle(), ElementsAre("upsert default/a@1", "synced"));
  EXPECT_THAT(clock_.sleeps(), ElementsAre(absl::Milliseconds(1200), absl::Milliseconds(2400)));
  EXPECT_EQ(reflector_->stats().list_errors, 2);
  EXPECT_EQ(reflector_->stats().relists, 0);
}

TEST_F(ReflectorTest, MalformedObjectsAreSkippedAndCountedAndLaterEventsApply) {
  client_.AddListPage(Page({Object("default", "a", "1"), {{"metadata", {{"name", "no-rv"}}}}, "not an object"}, "1"));
  client_.AddWatch(
      {.steps = {
           Step(Event(kAdded, "a string")),
           Step(Event(kAdded, {{"metadata", {{"resourceVersion", "3"}}}})),  // no name
           Step(Event(kModified, {{"metadata", {{"name", "x"}}}})),          // no RV
           Step(Event(kAdded, {{"metadata", {{"name", "x"}, {"namespace", 5}, {"resourceVersion", "3"}}}})),
           absl::DataLossError("invalid JSON: {\"type\":"),  // a broken line
           Step(Event(WatchEventType::kBookmark, {{"metadata", nlohmann::json::object()}})),
           Step(Event(kAdded, Object("default", "b", "4"))),
       }});
  Start();

  EXPECT_THAT(RunUntilIdle(), ElementsAre("upsert default/a@1", "synced", "upsert default/b@4"));
  EXPECT_EQ(reflector_->stats().decode_errors, 2 + 6);
  EXPECT_EQ(reflector_->stats().events, 7);
  EXPECT_THAT(WatchVersions(), ElementsAre("1", "4"));
}

TEST_F(ReflectorTest, EachStateIsDeliveredOnce) {
  client_.AddListPage(Page({Object("default", "a", "1")}, "1"));
  client_.AddWatch({.steps = {
                        Step(Event(kAdded, Object("default", "a", "1"))),  // what the list had
                        Step(Event(kModified, Object("default", "a", "2"))),
                        Step(Event(kDeleted, Object("default", "a", "3"))),
                        Step(Event(kDeleted, Object("default", "never-seen", "4"))),
                    }});
  Start();

  EXPECT_THAT(RunUntilIdle(), ElementsAre("upsert default/a@1", "synced", "upsert default/a@2", "delete default/a@3"));
  EXPECT_THAT(WatchVersions(), ElementsAre("1", "4"));
}

TEST_F(ReflectorTest, ClusterScopedObjectsAreKeyedByName) {
  client_.AddListPage(Page({Object("", "node-1", "1")}, "1"));
  client_.AddWatch({.steps = {Step(Event(kDeleted, Object("", "node-1", "2")))}});
  Start();

  EXPECT_THAT(RunUntilIdle(), ElementsAre("upsert node-1@1", "synced", "delete node-1@2"));
}

TEST_F(ReflectorTest, HandlerExceptionIsContained) {
  handler_.ThrowFor("bad");
  client_.AddListPage(Page({Object("default", "bad", "1"), Object("default", "good", "1")}, "1"));
  client_.AddWatch({.steps = {Step(Event(kAdded, Object("default", "c", "2")))}});
  Start();

  EXPECT_THAT(RunUntilIdle(), ElementsAre("upsert default/good@1", "synced", "upsert default/c@2"));
  EXPECT_EQ(reflector_->stats().decode_errors, 1);
}

TEST_F(ReflectorTest, WatchClosedAtOnceWithoutEventsBacksOff) {
  client_.AddListPage(Page({}, "1"));
  client_.AddWatch({});  // ends at once, nothing delivered
  Start(/*r=*/0.5);

  RunUntilIdle();
  EXPECT_THAT(clock_.sleeps(), ElementsAre(absl::Milliseconds(1200)));
  EXPECT_EQ(reflector_->stats().reconnects, 1);
}

TEST_F(ReflectorTest, NonGoneErrorEventRewatchesFromTheLastVersion) {
  client_.AddListPage(Page({}, "1"));
  client_.AddWatch(
      {.steps = {Step(Event(kAdded, Object("default", "a", "2"))), Step(ErrorEvent(500, "InternalError"))}});
  Start(/*r=*/0.5);

  EXPECT_THAT(RunUntilIdle(), ElementsAre("synced", "upsert default/a@2"));
  EXPECT_THAT(WatchVersions(), ElementsAre("1", "2"));
  EXPECT_EQ(reflector_->stats().relists, 0);
  EXPECT_EQ(reflector_->stats().reconnects, 1);
  EXPECT_THAT(clock_.sleeps(), ElementsAre(absl::Milliseconds(1200)));
}

// Stop() is prompt wherever the reflector is blocked.
class ReflectorStopTest : public ReflectorTest {
 protected:
  void ExpectPromptStop() {
    ASSERT_TRUE(client_.WaitUntilBlocked());
    const absl::Time start = absl::Now();
    reflector_->Stop();
    EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  }
};

TEST_F(ReflectorStopTest, DuringABlockedWatch) {
  client_.AddListPage(Page({}, "1"));
  client_.AddWatch({.steps = {Step(Event(kAdded, Object("default", "a", "2")))}, .block_at_end = true});
  Start();
  ExpectPromptStop();
  EXPECT_THAT(handler_.TakeLog(), ElementsAre("synced", "upsert default/a@2"));
}

TEST_F(ReflectorStopTest, WhileAWatchIsOpening) {
  client_.AddListPage(Page({}, "1"));
  client_.AddWatch({.block_open = true});
  Start();
  ExpectPromptStop();
}

TEST_F(ReflectorStopTest, DuringABlockedList) {
  Start();  // no page scripted: the LIST blocks
  ExpectPromptStop();
  EXPECT_FALSE(reflector_->synced());
  EXPECT_THAT(handler_.TakeLog(), IsEmpty());
}

TEST(ReflectorRealClockTest, StopWakesABackoffSleep) {
  FakeApiClient client;
  RecordingHandler handler;
  client.AddListPage(absl::UnavailableError("connection refused"));
  ReflectorOptions options;
  options.backoff.initial = absl::Hours(1);
  Reflector reflector(&client, ResourceRequest{"/api/v1/services", "", "", "services"}, &handler, options);
  reflector.Start();
  while (reflector.stats().list_errors == 0) absl::SleepFor(absl::Milliseconds(1));
  const absl::Time start = absl::Now();
  reflector.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(ObjectKeyTest, NamespacedClusterScopedAndMalformed) {
  EXPECT_EQ(ObjectKey(Object("ns", "a", "1")), "ns/a");
  EXPECT_EQ(ObjectKey(Object("", "a", "1")), "a");
  EXPECT_EQ(ObjectKey(nlohmann::json::array()), std::nullopt);
  EXPECT_EQ(ObjectKey({{"metadata", {{"name", ""}}}}), std::nullopt);
  EXPECT_EQ(ObjectKey({{"metadata", {{"name", 3}}}}), std::nullopt);
  EXPECT_EQ(ObjectKey({{"metadata", "x"}}), std::nullopt);
  EXPECT_EQ(ObjectResourceVersion({{"metadata", {{"resourceVersion", 7}}}}), std::nullopt);
  EXPECT_EQ(ObjectResourceVersion(Object("ns", "a", "7")), "7");
}

}  // namespace
}  // namespace bpfproxy::k8s
