// ProxyHealthServer: kube-proxy's state machine on a fake clock, its exact
// bodies, and /healthz and /livez over real HTTP on 127.0.0.1.
#include "proxy/healthz.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/http_server.h"
#include "tests/proxy/http_test_client.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {
namespace {

using ::bpfproxy::testing_util::HttpAnswer;
using ::bpfproxy::testing_util::HttpGet;

class FakeClock : public k8s::Clock {
 public:
  explicit FakeClock(absl::Time now) : now_(now) {}
  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  bool SleepFor(absl::Duration d, absl::Notification&) override {
    Advance(d);
    return true;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_;
};

const absl::Time kStart = absl::FromUnixSeconds(1714557600);  // 2024-05-01 10:00:00 UTC
constexpr absl::Duration kTimeout = absl::Seconds(60);        // 2 × 30s

k8s::Node NodeWith(bool deleting, std::vector<std::string> taints) {
  k8s::Node node;
  node.meta.name = "node-1";
  node.deletion_timestamp = deleting;
  node.taint_keys = std::move(taints);
  return node;
}

TEST(GoTimeStringTest, PrintsLikeGo) {
  absl::TimeZone utc = absl::UTCTimeZone();
  EXPECT_EQ(GoTimeString(kStart, utc), "2024-05-01 10:00:00 +0000 UTC");
  EXPECT_EQ(GoTimeString(kStart + absl::Milliseconds(500), utc), "2024-05-01 10:00:00.5 +0000 UTC");
  EXPECT_EQ(GoTimeString(kStart + absl::Nanoseconds(123456789), utc), "2024-05-01 10:00:00.123456789 +0000 UTC");
  EXPECT_EQ(GoTimeString(kStart + absl::Seconds(12) + absl::Nanoseconds(1), utc, kStart),
            "2024-05-01 10:00:12.000000001 +0000 UTC m=+12.000000001");
  EXPECT_EQ(GoTimeString(kStart, utc, kStart + absl::Milliseconds(1500)),
            "2024-05-01 10:00:00 +0000 UTC m=-1.500000000");
  EXPECT_EQ(GoTimeString(std::nullopt, utc, kStart), "0001-01-01 00:00:00 +0000 UTC");
  absl::TimeZone berlin;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  EXPECT_EQ(GoTimeString(kStart, berlin), "2024-05-01 12:00:00 +0200 CEST");
}

TEST(GoQuoteTest, EscapesLikeGo) {
  EXPECT_EQ(GoQuote("kube-system"), "\"kube-system\"");
  EXPECT_EQ(GoQuote("a\"b\\c\n\t\x01"), "\"a\\\"b\\\\c\\n\\t\\x01\"");
}

// One step of the table: what happens, then what both endpoints answer.
struct Step {
  std::string what;
  std::function<void(ProxyHealthServer&, FakeClock&)> action;
  bool healthy;
  bool eligible;
};

TEST(ProxyHealthServerTest, StateMachine) {
  const std::vector<Step> steps = {
      {"fresh: nothing queued, never synced", [](auto&, auto&) {}, true, true},
      {"a change is queued", [](auto& s, auto& c) { s.QueuedUpdate(c.Now()); }, true, true},
      {"queued but fresh: just under 2x the period", [](auto&, auto& c) { c.Advance(kTimeout - absl::Nanoseconds(1)); },
       true, true},
      {"stale: pending for 2x the period", [](auto&, auto& c) { c.Advance(absl::Nanoseconds(1)); }, false, true},
      {"a later change does not reset the oldest", [](auto& s, auto& c) { s.QueuedUpdate(c.Now()); }, false, true},
      {"updated again: a sync that began after the changes",
       [](auto& s, auto& c) {
         c.Advance(absl::Seconds(1));
         s.Updated(c.Now() - absl::Milliseconds(5), c.Now());
       },
       true, true},
      {"long after an update with nothing pending", [](auto&, auto& c) { c.Advance(absl::Hours(5)); }, true, true},
      {"a change arrives during a sync",
       [](auto& s, auto& c) {
         absl::Time started = c.Now();
         c.Advance(absl::Seconds(1));
         s.QueuedUpdate(c.Now());
         c.Advance(absl::Seconds(1));
         s.Updated(started, c.Now());
       },
       true, true},
      {"...and stays pending, counted from the sync's start",
       [](auto&, auto& c) { c.Advance(kTimeout - absl::Seconds(2)); }, false, true},
      {"the next sync applies it", [](auto& s, auto& c) { s.Updated(c.Now() - absl::Milliseconds(1), c.Now()); }, true,
       true},
      {"node is being deleted", [](auto& s, auto&) { s.SyncNode(NodeWith(true, {})); }, true, false},
      {"node is back", [](auto& s, auto&) { s.SyncNode(NodeWith(false, {"other-taint"})); }, true, true},
      {"node tainted by the autoscaler",
       [](auto& s, auto&) {
         s.SyncNode(NodeWith(false, {"a", "ToBeDeletedByClusterAutoscaler"}));
       },
       true, false},
      {"tainted and stale",
       [](auto& s, auto& c) {
         s.QueuedUpdate(c.Now());
         c.Advance(kTimeout);
       },
       false, false},
      {"taint removed, still stale", [](auto& s, auto&) { s.SyncNode(NodeWith(false, {})); }, false, true},
      {"synced", [](auto& s, auto& c) { s.Updated(c.Now(), c.Now()); }, true, true},
      {"node object deleted after being seen", [](auto& s, auto&) { s.SyncNode(std::nullopt); }, true, false},
  };
  FakeClock clock(kStart);
  ProxyHealthServer server(
      ProxyHealthOptions{.health_timeout = kTimeout, .clock = &clock, .time_zone = absl::UTCTimeZone()});
  for (const Step& step : steps) {
    SCOPED_TRACE(step.what);
    step.action(server, clock);
    EXPECT_EQ(server.IsHealthy(), step.healthy);
    EXPECT_EQ(server.NodeEligible(), step.eligible);
    EXPECT_EQ(server.Healthz().status, step.healthy && step.eligible ? 200 : 503);
    EXPECT_EQ(server.Livez().status, step.healthy ? 200 : 503);
  }
}

TEST(ProxyHealthServerTest, NodeNotSeenYetIsEligible) {
  FakeClock clock(kStart);
  ProxyHealthServer server(ProxyHealthOptions{.clock = &clock});
  server.SyncNode(std::nullopt);
  EXPECT_TRUE(server.NodeEligible());
  EXPECT_EQ(server.Healthz().status, 200);
}

TEST(ProxyHealthServerTest, BodiesAreKubeProxysByteForByte) {
  FakeClock clock(kStart);
  ProxyHealthServer server(
      ProxyHealthOptions{.health_timeout = kTimeout, .clock = &clock, .time_zone = absl::UTCTimeZone()});
  clock.Advance(absl::Seconds(2) + absl::Milliseconds(250));

  // Healthy: lastUpdated is the current time.
  http::Response healthz = server.Healthz();
  EXPECT_EQ(healthz.body,
            "{\"lastUpdated\": \"2024-05-01 10:00:02.25 +0000 UTC m=+2.250000000\","
            "\"currentTime\": \"2024-05-01 10:00:02.25 +0000 UTC m=+2.250000000\", \"nodeEligible\": true}");
  EXPECT_EQ(healthz.content_type, "application/json");
  EXPECT_THAT(healthz.headers,
              ::testing::Contains(std::pair<std::string, std::string>("X-Content-Type-Options", "nosniff")));
  EXPECT_EQ(server.Livez().body,
            "{\"lastUpdated\": \"2024-05-01 10:00:02.25 +0000 UTC m=+2.250000000\","
            "\"currentTime\": \"2024-05-01 10:00:02.25 +0000 UTC m=+2.250000000\"}");

  // Never synced and stale: Go's zero time.
  server.QueuedUpdate(clock.Now());
  clock.Advance(kTimeout);
  EXPECT_EQ(server.Livez().body,
            "{\"lastUpdated\": \"0001-01-01 00:00:00 +0000 UTC\","
            "\"currentTime\": \"2024-05-01 10:01:02.25 +0000 UTC m=+62.250000000\"}");

  // Stale after a sync: the last sync's time; the node ineligible.
  server.Updated(clock.Now(), clock.Now());
  absl::Time synced = clock.Now();
  server.QueuedUpdate(clock.Now());
  clock.Advance(kTimeout);
  server.SyncNode(NodeWith(true, {}));
  ASSERT_EQ(synced, kStart + absl::Seconds(62) + absl::Milliseconds(250));
  EXPECT_EQ(server.Healthz().body,
            "{\"lastUpdated\": \"2024-05-01 10:01:02.25 +0000 UTC m=+62.250000000\","
            "\"currentTime\": \"2024-05-01 10:02:02.25 +0000 UTC m=+122.250000000\", \"nodeEligible\": false}");
}

TEST(ProxyHealthServerTest, ServesOverHttpAndCountsAnswers) {
  FakeClock clock(kStart);
  absl::Mutex mu;
  std::vector<std::pair<std::string, int>> answers;
  ProxyHealthServer health(ProxyHealthOptions{
      .health_timeout = kTimeout,
      .clock = &clock,
      .time_zone = absl::UTCTimeZone(),
      .on_answer =
          [&](absl::string_view path, int code) {
            absl::MutexLock lock(&mu);
            answers.emplace_back(std::string(path), code);
          },
  });
  ASSERT_OK_AND_ASSIGN(auto http, http::HttpServer::Create());
  ASSERT_OK_AND_ASSIGN(auto id, http->Listen("127.0.0.1:0", health.routes()));
  uint16_t port = http->port(id);

  ASSERT_OK_AND_ASSIGN(HttpAnswer ok, HttpGet("127.0.0.1", port, "/healthz"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.header("content-type"), "application/json");
  EXPECT_EQ(ok.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(ok.body,
            "{\"lastUpdated\": \"2024-05-01 10:00:00 +0000 UTC m=+0.000000000\","
            "\"currentTime\": \"2024-05-01 10:00:00 +0000 UTC m=+0.000000000\", \"nodeEligible\": true}");

  health.SyncNode(NodeWith(false, {"ToBeDeletedByClusterAutoscaler"}));
  ASSERT_OK_AND_ASSIGN(HttpAnswer tainted, HttpGet("127.0.0.1", port, "/healthz"));
  EXPECT_EQ(tainted.status, 503);
  EXPECT_THAT(tainted.body, ::testing::HasSubstr("\"nodeEligible\": false}"));
  ASSERT_OK_AND_ASSIGN(HttpAnswer live, HttpGet("127.0.0.1", port, "/livez"));
  EXPECT_EQ(live.status, 200);  // /livez ignores the node.

  health.QueuedUpdate(clock.Now());
  clock.Advance(kTimeout);
  ASSERT_OK_AND_ASSIGN(HttpAnswer stale, HttpGet("127.0.0.1", port, "/livez"));
  EXPECT_EQ(stale.status, 503);
  ASSERT_OK_AND_ASSIGN(HttpAnswer other, HttpGet("127.0.0.1", port, "/other"));
  EXPECT_EQ(other.status, 404);

  absl::MutexLock lock(&mu);
  EXPECT_THAT(answers, ::testing::ElementsAre(
                           std::pair<std::string, int>("/healthz", 200), std::pair<std::string, int>("/healthz", 503),
                           std::pair<std::string, int>("/livez", 200), std::pair<std::string, int>("/livez", 503)));
}

}  // namespace
}  // namespace bpfproxy
