// The emulator's WATCH over HTTPS: ordering and resourceVersions, start
// semantics, selector transitions, bookmarks, timeouts, expiry (as an ERROR
// event and as HTTP 410), cut watches, disconnects.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/apiserver_test_util.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::e2e::apiserver::testing {
namespace {

using ::testing::ElementsAre;
using State = WatchStream::State;

class ApiServerWatchTest : public EmulatorTest {
 protected:
  void SetUp() override {
    EmulatorConfig config;
    config.api.bookmark_interval = absl::Milliseconds(100);
    StartEmulator(std::move(config));
  }

  std::unique_ptr<WatchStream> Watch(const std::string& target) {
    absl::StatusOr<std::unique_ptr<WatchStream>> stream = Client().Watch(target);
    EXPECT_TRUE(stream.ok()) << stream.status();
    return stream.ok() ? *std::move(stream) : nullptr;
  }

  std::string Now() { return absl::StrCat(emulator().ResourceVersion()); }
};

TEST_F(ApiServerWatchTest, EachChangeIsStreamedAsItHappensInOrder) {
  std::unique_ptr<WatchStream> stream = Watch("/api/v1/services?watch=1&resourceVersion=" + Now());
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(stream->head().code, 200);
  EXPECT_EQ(stream->head().headers.at("content-type"), "application/json");
  EXPECT_EQ(stream->head().headers.at("transfer-encoding"), "chunked");
  // Each event must arrive before the next change is made: the body streams.
  std::vector<nlohmann::json> events;
  ASSERT_OK(emulator().Apply(Service("default", "a")).status());
  events.push_back(ReadEvents(*stream, 1).at(0));
  ASSERT_OK(emulator().Apply(Service("default", "a", {{"v", "2"}})).status());
  events.push_back(ReadEvents(*stream, 1).at(0));
  ASSERT_OK(emulator().Apply(EndpointSlice("default", "a-1", "a", "10.0.0.1")).status());  // not a service
  ASSERT_OK(emulator().Apply(Service("other", "b")).status());
  events.push_back(ReadEvents(*stream, 1).at(0));
  ASSERT_OK_AND_ASSIGN(nlohmann::json deleted, emulator().Delete("services", "default", "a"));
  events.push_back(ReadEvents(*stream, 1).at(0));
  EXPECT_THAT(Summaries(events), ElementsAre("ADDED a", "MODIFIED a", "ADDED b", "DELETED a"));
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i]["object"]["kind"], "Service");
    EXPECT_EQ(events[i]["object"]["apiVersion"], "v1");
    if (i > 0) {
      EXPECT_GT(RvOf(events[i]["object"]), RvOf(events[i - 1]["object"]));
    }
  }
  EXPECT_EQ(RvOf(events[3]["object"]), emulator().ResourceVersion()) << "a deletion has its own version";
  EXPECT_EQ(events[3]["object"], deleted);
  EXPECT_EQ(events[3]["object"]["metadata"]["labels"]["v"], "2") << "DELETED carries the last state";
}

TEST_F(ApiServerWatchTest, WatchFromAVersionReplaysOnlyLaterChanges) {
  ASSERT_OK(emulator().Apply(Service("default", "before")).status());
  std::string from = Now();
  ASSERT_OK(emulator().Apply(Service("default", "after-1")).status());
  ASSERT_OK(emulator().Apply(Service("default", "before", {{"x", "y"}})).status());
  std::unique_ptr<WatchStream> stream = Watch("/api/v1/services?watch=true&resourceVersion=" + from);
  ASSERT_NE(stream, nullptr);
  ASSERT_OK(emulator().Apply(Service("default", "after-2")).status());
  EXPECT_THAT(Summaries(ReadEvents(*stream, 3)), ElementsAre("ADDED after-1", "MODIFIED before", "ADDED after-2"));
}

TEST_F(ApiServerWatchTest, WatchWithoutVersionOrFromZeroStartsWithCurrentObjectsAsAdded) {
  ASSERT_OK(emulator().ApplyAll({Service("ns", "b"), Service("ns", "a"), Node("n")}).status());
  for (std::string query : {"watch=1", "watch=1&resourceVersion=0"}) {
    std::unique_ptr<WatchStream> stream = Watch("/api/v1/services?" + query);
    ASSERT_NE(stream, nullptr);
    EXPECT_THAT(Summaries(ReadEvents(*stream, 2)), ElementsAre("ADDED a", "ADDED b")) << query;
    ASSERT_OK(emulator().Apply(Service("ns", "a", {{"n", query}})).status());
    EXPECT_THAT(Summaries(ReadEvents(*stream, 1)), ElementsAre("MODIFIED a")) << query;
  }
}

TEST_F(ApiServerWatchTest, ObjectsEnteringOrLeavingTheSelectorAreAddedOrDeleted) {
  std::string selector = UrlEncode("app=web,!service.kubernetes.io/headless");
  std::unique_ptr<WatchStream> stream =
      Watch("/api/v1/services?watch=1&labelSelector=" + selector + "&resourceVersion=" + Now());
  ASSERT_NE(stream, nullptr);
  ASSERT_OK(emulator().Apply(Service("default", "s")).status());                                     // not selected
  ASSERT_OK(emulator().Apply(Service("default", "s", {{"app", "web"}})).status());                   // enters
  ASSERT_OK(emulator().Apply(Service("default", "s", {{"app", "web"}}, "10.96.0.2")).status());      // stays
  ASSERT_OK_AND_ASSIGN(nlohmann::json left,
                       emulator().Apply(Service("default", "s", {{"app", "web"}, {"service.kubernetes.io/headless", ""}},
                                                "10.96.0.2")));                                      // leaves
  ASSERT_OK(emulator().Delete("services", "default", "s").status());                                 // not selected
  ASSERT_OK(emulator().Apply(Service("default", "sentinel", {{"app", "web"}})).status());
  std::vector<nlohmann::json> events = ReadEvents(*stream, 4);
  EXPECT_THAT(Summaries(events), ElementsAre("ADDED s", "MODIFIED s", "DELETED s", "ADDED sentinel"));
  const nlohmann::json& deleted = events[2]["object"];
  EXPECT_EQ(RvOf(deleted), RvOf(left)) << "DELETED at the version of the change that deselected it";
  EXPECT_FALSE(deleted["metadata"]["labels"].contains("service.kubernetes.io/headless"))
      << "with the content it had while it still matched";
  EXPECT_EQ(deleted["spec"]["clusterIP"], "10.96.0.2");
}

TEST_F(ApiServerWatchTest, FieldAndNamespaceScopedWatchesSeeOnlyTheirObjects) {
  std::unique_ptr<WatchStream> node =
      Watch("/api/v1/nodes?watch=1&fieldSelector=" + UrlEncode("metadata.name=node-1") + "&resourceVersion=" + Now());
  std::unique_ptr<WatchStream> slices =
      Watch("/apis/discovery.k8s.io/v1/namespaces/ns1/endpointslices?watch=1&resourceVersion=" + Now());
  std::unique_ptr<WatchStream> legacy = Watch("/api/v1/watch/nodes/node-2?resourceVersion=" + Now());
  ASSERT_TRUE(node && slices && legacy);
  ASSERT_OK(emulator().ApplyAll({Node("node-2"), Node("node-1"), EndpointSlice("ns2", "x", "web", "10.0.0.2"),
                                 EndpointSlice("ns1", "y", "web", "10.0.0.1")})
                .status());
  EXPECT_THAT(Summaries(ReadEvents(*node, 1)), ElementsAre("ADDED node-1"));
  EXPECT_THAT(Summaries(ReadEvents(*slices, 1)), ElementsAre("ADDED y"));
  EXPECT_THAT(Summaries(ReadEvents(*legacy, 1)), ElementsAre("ADDED node-2"));
  ASSERT_OK(emulator().Delete("nodes", "", "node-1").status());
  nlohmann::json deleted = ReadEvents(*node, 1).at(0);
  EXPECT_EQ(deleted["type"], "DELETED");
  EXPECT_EQ(deleted["object"]["kind"], "Node");
}

TEST_F(ApiServerWatchTest, BookmarksCarryOnlyKindApiVersionAndTheLatestVersion) {
  std::unique_ptr<WatchStream> stream =
      Watch("/api/v1/services?watch=1&allowWatchBookmarks=true&resourceVersion=" + Now());
  ASSERT_NE(stream, nullptr);
  // A change to another resource moves the version the bookmark reports.
  ASSERT_OK(emulator().Apply(Node("node-1")).status());
  nlohmann::json bookmark;
  for (int i = 0; i < 20; ++i) {
    bookmark = ReadEvents(*stream, 1).at(0);
    ASSERT_EQ(bookmark["type"], "BOOKMARK");
    if (RvOf(bookmark["object"]) == emulator().ResourceVersion()) break;
  }
  EXPECT_EQ(bookmark["object"], nlohmann::json::parse(absl::StrCat(
                                    R"({"kind":"Service","apiVersion":"v1","metadata":{"resourceVersion":")", Now(),
                                    R"("}})")));
}

TEST_F(ApiServerWatchTest, NoBookmarksUnlessAllowedAndTimeoutSecondsEndsTheStreamCleanly) {
  absl::Time start = absl::Now();
  std::unique_ptr<WatchStream> stream = Watch("/api/v1/services?watch=1&timeoutSeconds=1&resourceVersion=" + Now());
  ASSERT_NE(stream, nullptr);
  State end;
  std::vector<nlohmann::json> events = stream->ReadAll(&end, absl::Seconds(3));
  absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(end, State::kCleanEnd);
  EXPECT_THAT(events, ::testing::IsEmpty()) << "no BOOKMARKs without allowWatchBookmarks";
  EXPECT_GE(elapsed, absl::Seconds(1));
  EXPECT_LT(elapsed, absl::Seconds(2));
  EXPECT_TRUE(emulator().WaitForOpenWatchesAtMost(0, absl::Seconds(1)));
}

TEST_F(ApiServerWatchTest, WatchFromACompactedVersionGetsAnExpiredErrorEvent) {
  ASSERT_OK(emulator().Apply(Service("default", "a")).status());
  std::string old = Now();
  ASSERT_OK(emulator().Apply(Service("default", "b")).status());
  std::string compacted = absl::StrCat(emulator().Compact());
  std::unique_ptr<WatchStream> stream = Watch("/api/v1/services?watch=1&allowWatchBookmarks=true&resourceVersion=" + old);
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(stream->head().code, 200);
  State end;
  std::vector<nlohmann::json> events = stream->ReadAll(&end);
  EXPECT_EQ(end, State::kCleanEnd);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], nlohmann::json::parse(absl::StrCat(
                           R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},)",
                           R"("status":"Failure","message":"too old resource version: )", old, " (", compacted,
                           R"x()","reason":"Expired","code":410}})x")));
  // The compacted version itself is still a valid start.
  std::unique_ptr<WatchStream> fresh = Watch("/api/v1/services?watch=1&resourceVersion=" + compacted);
  ASSERT_OK(emulator().Apply(Service("default", "c")).status());
  EXPECT_THAT(Summaries(ReadEvents(*fresh, 1)), ElementsAre("ADDED c"));
}

TEST_F(ApiServerWatchTest, HistoryLimitExpiresVersionsBeyondTheRetainedChanges) {
  EmulatorConfig config;
  config.store.history_limit = 3;
  StartEmulator(std::move(config));
  std::vector<std::string> rvs;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(emulator().Apply(Service("default", absl::StrCat("s", i))).status());
    rvs.push_back(Now());
  }
  // Retained: the changes to s2, s3, s4. A watch from s1's version needs only those.
  std::unique_ptr<WatchStream> ok = Watch("/api/v1/services?watch=1&resourceVersion=" + rvs[1]);
  EXPECT_THAT(Summaries(ReadEvents(*ok, 3)), ElementsAre("ADDED s2", "ADDED s3", "ADDED s4"));
  std::unique_ptr<WatchStream> expired = Watch("/api/v1/services?watch=1&resourceVersion=" + rvs[0]);
  EXPECT_EQ(ReadEvents(*expired, 1).at(0)["object"]["code"], 410);
}

TEST_F(ApiServerWatchTest, ExpiredAsHttp410ModeAnswersWithAStatus) {
  EmulatorConfig config;
  config.api.expired_as_http_410 = true;
  StartEmulator(std::move(config));
  ASSERT_OK(emulator().Apply(Service("default", "a")).status());
  std::string old = Now();
  ASSERT_OK(emulator().Apply(Service("default", "b")).status());
  emulator().Compact();
  std::unique_ptr<WatchStream> stream = Watch("/api/v1/services?watch=1&resourceVersion=" + old);
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(stream->head().code, 410);
  nlohmann::json status = stream->head().Json();
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["reason"], "Expired");
  EXPECT_EQ(status["code"], 410);
  EXPECT_EQ(status["message"], absl::StrCat("too old resource version: ", old, " (", Now(), ")"));
}

TEST_F(ApiServerWatchTest, CutWatchesDropsEveryStreamMidBody) {
  std::unique_ptr<WatchStream> services = Watch("/api/v1/services?watch=1&resourceVersion=" + Now());
  std::unique_ptr<WatchStream> nodes = Watch("/api/v1/nodes?watch=1&resourceVersion=" + Now());
  ASSERT_TRUE(services && nodes);
  ASSERT_OK(emulator().Apply(Service("default", "a")).status());
  EXPECT_THAT(Summaries(ReadEvents(*services, 1)), ElementsAre("ADDED a"));
  ASSERT_TRUE(emulator().WaitForOpenWatches(2, absl::Seconds(2)));
  EXPECT_EQ(emulator().CutWatches(), 2);
  EXPECT_EQ(emulator().OpenWatches(), 0u);
  for (WatchStream* stream : {services.get(), nodes.get()}) {
    State end;
    stream->ReadAll(&end);
    EXPECT_EQ(end, State::kAbruptEnd) << "no terminating chunk after a cut";
  }
  // The same over HTTP, and new watches work afterwards.
  std::unique_ptr<WatchStream> again = Watch("/api/v1/services?watch=1&resourceVersion=" + Now());
  ASSERT_OK_AND_ASSIGN(Response cut, Client().Request("POST", "/emulator/cut-watches"));
  EXPECT_EQ(cut.Json()["cutWatches"], 1);
  State end;
  again->ReadAll(&end);
  EXPECT_EQ(end, State::kAbruptEnd);
}

TEST_F(ApiServerWatchTest, AClientThatDisconnectsClosesItsWatch) {
  std::unique_ptr<WatchStream> stream = Watch("/api/v1/services?watch=1");
  ASSERT_TRUE(emulator().WaitForOpenWatches(1, absl::Seconds(2)));
  stream.reset();
  EXPECT_TRUE(emulator().WaitForOpenWatchesAtMost(0, absl::Seconds(2)));
}

TEST_F(ApiServerWatchTest, StoppingTheServerEndsWatchesAbruptly) {
  std::unique_ptr<WatchStream> stream = Watch("/api/v1/services?watch=1");
  ASSERT_TRUE(emulator().WaitForOpenWatches(1, absl::Seconds(2)));
  StartEmulator();  // replaces (and stops) the running one
  State end;
  stream->ReadAll(&end);
  EXPECT_EQ(end, State::kAbruptEnd);
}

TEST_F(ApiServerWatchTest, SendInitialEventsEndsTheInitialObjectsWithAnAnnotatedBookmark) {
  ASSERT_OK(emulator().ApplyAll({Service("ns", "a"), Service("ns", "b")}).status());
  std::unique_ptr<WatchStream> stream = Watch(
      "/api/v1/services?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true");
  std::vector<nlohmann::json> events = ReadEvents(*stream, 3);
  EXPECT_THAT(Summaries(events), ElementsAre("ADDED a", "ADDED b", "BOOKMARK "));
  EXPECT_EQ(events[2]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
  EXPECT_EQ(RvOf(events[2]["object"]), emulator().ResourceVersion());
  // sendInitialEvents=false: only what changes from now on.
  std::unique_ptr<WatchStream> changes = Watch(
      "/api/v1/services?watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true");
  ASSERT_OK(emulator().Apply(Service("ns", "c")).status());
  EXPECT_THAT(Summaries(ReadEvents(*changes, 1)), ElementsAre("ADDED c"));
}

TEST_F(ApiServerWatchTest, InvalidWatchParametersAreRejected) {
  struct Case {
    std::string query;
    int code;
  };
  for (const Case& c : {Case{"resourceVersion=abc", 400}, Case{"resourceVersionMatch=NotOlderThan", 422},
                        Case{"sendInitialEvents=true", 422}, Case{"sendInitialEvents=false", 422},
                        Case{"sendInitialEvents=true&resourceVersionMatch=NotOlderThan", 422},
                        Case{"timeoutSeconds=-1", 400},
                        Case{"labelSelector=a%20in", 400}}) {
    ASSERT_OK_AND_ASSIGN(Response response, Client().Get("/api/v1/services?watch=1&" + c.query));
    EXPECT_EQ(response.code, c.code) << c.query << ": " << response.body;
    EXPECT_EQ(response.Json()["kind"], "Status") << c.query;
  }
}

}  // namespace
}  // namespace bpfproxy::e2e::apiserver::testing
