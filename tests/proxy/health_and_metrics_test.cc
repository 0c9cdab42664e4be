// HealthAndMetrics, the daemon's entry point, over real HTTP on 127.0.0.1:
// the metrics port's four paths, /healthz following the SyncObserver calls,
// health check ports opened by a sync, metrics moving with syncs and probes,
// and kube-proxy's bind rules (empty disables, retry, hard fail).
#include "proxy/health_and_metrics.h"

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/metrics/exposition_parser.h"
#include "tests/proxy/http_test_client.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {
namespace {

using ::bpfproxy::testing_util::FreePort;
using ::bpfproxy::testing_util::HttpAnswer;
using ::bpfproxy::testing_util::HttpGet;
using ::bpfproxy::testing_util::ParsedExposition;
using ::bpfproxy::testing_util::ParseExposition;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class FakeClock : public k8s::Clock {
 public:
  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  bool SleepFor(absl::Duration, absl::Notification&) override { return true; }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1714557600);
};

HealthAndMetricsConfig LoopbackConfig(FakeClock* clock) {
  return HealthAndMetricsConfig{.healthz_bind_address = "127.0.0.1:0",
                                .metrics_bind_address = "127.0.0.1:0",
                                .sync_period = absl::Seconds(30),
                                .node_port_addresses = {*IpAddress::Parse("127.0.0.1")},
                                .clock = clock,
                                .bind_retry = absl::Milliseconds(50)};
}

ParsedExposition ScrapeOver(uint16_t port) {
  absl::StatusOr<HttpAnswer> answer = HttpGet("127.0.0.1", port, "/metrics");
  EXPECT_OK(answer);
  if (!answer.ok()) return {};
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  absl::StatusOr<ParsedExposition> parsed = ParseExposition(answer->body);
  EXPECT_OK(parsed);
  return parsed.ok() ? *parsed : ParsedExposition{};
}

double Value(const ParsedExposition& e, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  auto it = e.find(name);
  if (it == e.end()) return -1;
  const auto* sample = it->second.Find(name, labels);
  return sample == nullptr ? -1 : sample->value;
}

TEST(HealthAndMetricsTest, MetricsPortServesKubeProxysPaths) {
  FakeClock clock;
  ASSERT_OK_AND_ASSIGN(auto hm, HealthAndMetrics::Start(LoopbackConfig(&clock)));
  uint16_t port = hm->metrics_port();
  ASSERT_NE(port, 0);
  ASSERT_OK_AND_ASSIGN(HttpAnswer healthz, HttpGet("127.0.0.1", port, "/healthz"));
  EXPECT_EQ(healthz.status, 200);
  EXPECT_EQ(healthz.body, "ok");
  EXPECT_EQ(healthz.header("content-type"), "text/plain; charset=utf-8");
  ASSERT_OK_AND_ASSIGN(HttpAnswer ping, HttpGet("127.0.0.1", port, "/healthz/ping"));
  EXPECT_EQ(ping.body, "ok");
  ASSERT_OK_AND_ASSIGN(HttpAnswer mode, HttpGet("127.0.0.1", port, "/proxyMode"));
  EXPECT_EQ(mode.status, 200);
  EXPECT_EQ(mode.body, "ebpf");
  ASSERT_OK_AND_ASSIGN(HttpAnswer other, HttpGet("127.0.0.1", port, "/livez"));
  EXPECT_EQ(other.status, 404);  // /livez is on the healthz port only.
  ParsedExposition e = ScrapeOver(port);
  EXPECT_EQ(e["kubeproxy_sync_proxy_rules_duration_seconds"].type, "histogram");
}

TEST(HealthAndMetricsTest, HealthzFollowsTheControlPlaneAndIsCounted) {
  FakeClock clock;
  ASSERT_OK_AND_ASSIGN(auto hm, HealthAndMetrics::Start(LoopbackConfig(&clock)));
  uint16_t healthz = hm->healthz_port();
  ASSERT_NE(healthz, 0);
  SyncObserver& observer = *hm;

  ASSERT_OK_AND_ASSIGN(HttpAnswer fresh, HttpGet("127.0.0.1", healthz, "/healthz"));
  EXPECT_EQ(fresh.status, 200);
  EXPECT_EQ(fresh.header("content-type"), "application/json");
  EXPECT_THAT(fresh.body, StartsWith("{\"lastUpdated\": \""));

  observer.OnChangeQueued(clock.Now(), 1, 2);
  clock.Advance(absl::Seconds(60));  // 2 × the 30s sync period.
  ASSERT_OK_AND_ASSIGN(HttpAnswer stale, HttpGet("127.0.0.1", healthz, "/healthz"));
  EXPECT_EQ(stale.status, 503);
  ASSERT_OK_AND_ASSIGN(HttpAnswer stale_live, HttpGet("127.0.0.1", healthz, "/livez"));
  EXPECT_EQ(stale_live.status, 503);
  EXPECT_FALSE(hm->proxy_health().IsHealthy());

  // A sync that failed a write does not make it healthy again.
  SyncStats failed;
  failed.report = SyncReport{.ran = true, .failures = 1, .duration = absl::Milliseconds(5)};
  failed.finished = clock.Now();
  observer.OnSync(failed);
  EXPECT_EQ(HttpGet("127.0.0.1", healthz, "/healthz")->status, 503);

  SyncStats ok;
  ok.report = SyncReport{.ran = true, .duration = absl::Milliseconds(5)};
  ok.finished = clock.Now();
  ok.endpoint_changes = 2;
  ok.service_changes = 1;
  observer.OnSync(ok);
  EXPECT_EQ(HttpGet("127.0.0.1", healthz, "/healthz")->status, 200);

  k8s::Node node;
  node.taint_keys = {"ToBeDeletedByClusterAutoscaler"};
  observer.OnNode(node);
  ASSERT_OK_AND_ASSIGN(HttpAnswer tainted, HttpGet("127.0.0.1", healthz, "/healthz"));
  EXPECT_EQ(tainted.status, 503);
  EXPECT_THAT(tainted.body, HasSubstr("\"nodeEligible\": false}"));
  EXPECT_EQ(HttpGet("127.0.0.1", healthz, "/livez")->status, 200);

  ParsedExposition e = ScrapeOver(hm->metrics_port());
  EXPECT_EQ(Value(e, "kubeproxy_proxy_healthz_total", {{"code", "200"}}), 2);
  EXPECT_EQ(Value(e, "kubeproxy_proxy_healthz_total", {{"code", "503"}}), 3);
  EXPECT_EQ(Value(e, "kubeproxy_proxy_livez_total", {{"code", "503"}}), 1);
  EXPECT_EQ(Value(e, "kubeproxy_proxy_livez_total", {{"code", "200"}}), 1);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_endpoint_changes_total"), 2);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_service_changes_total"), 1);
  EXPECT_EQ(Value(e, "bpfproxy_map_write_failures_total"), 1);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_endpoint_changes_pending"), 0);  // Queued before the syncs began.
}

TEST(HealthAndMetricsTest, SyncsOpenHealthCheckPorts) {
  FakeClock clock;
  ASSERT_OK_AND_ASSIGN(auto hm, HealthAndMetrics::Start(LoopbackConfig(&clock)));
  ASSERT_OK_AND_ASSIGN(uint16_t port, FreePort());
  SyncStats stats;
  stats.report = SyncReport{.ran = true};
  stats.finished = clock.Now();
  stats.health_checks = {{"ns", "lb", port, 1}};
  hm->OnSync(stats);
  ASSERT_OK_AND_ASSIGN(HttpAnswer up, HttpGet("127.0.0.1", port, "/"));
  EXPECT_EQ(up.status, 200);
  EXPECT_THAT(up.body, HasSubstr("\"localEndpoints\": 1,"));

  stats.health_checks = {{"ns", "lb", port, 0}};
  hm->OnSync(stats);
  EXPECT_EQ(HttpGet("127.0.0.1", port, "/")->status, 503);

  // Not synced yet (waiting for the first LISTs): the ports stay as they are.
  SyncStats waiting;
  hm->OnSync(waiting);
  EXPECT_EQ(HttpGet("127.0.0.1", port, "/")->status, 503);

  hm->Stop();
  EXPECT_FALSE(HttpGet("127.0.0.1", port, "/").ok());
  hm->OnSync(stats);  // After Stop(): ignored, nothing reopens.
  EXPECT_FALSE(HttpGet("127.0.0.1", port, "/").ok());
  hm->Stop();
}

TEST(HealthAndMetricsTest, EmptyAddressesDisableServers) {
  FakeClock clock;
  HealthAndMetricsConfig config = LoopbackConfig(&clock);
  config.healthz_bind_address = "";
  config.metrics_bind_address = "";
  ASSERT_OK_AND_ASSIGN(auto hm, HealthAndMetrics::Start(config));
  EXPECT_EQ(hm->healthz_port(), 0);
  EXPECT_EQ(hm->metrics_port(), 0);
}

TEST(HealthAndMetricsTest, MalformedAddressNamesTheFlag) {
  FakeClock clock;
  HealthAndMetricsConfig config = LoopbackConfig(&clock);
  config.metrics_bind_address = "localhost:10249";
  absl::StatusOr<std::unique_ptr<HealthAndMetrics>> hm = HealthAndMetrics::Start(config);
  ASSERT_FALSE(hm.ok());
  EXPECT_EQ(hm.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(hm.status().message()), HasSubstr("--metrics-bind-address"));
}

TEST(HealthAndMetricsTest, PortInUseIsRetriedUnlessHardFail) {
  FakeClock clock;
  ASSERT_OK_AND_ASSIGN(auto squatter, http::HttpServer::Create());
  ASSERT_OK_AND_ASSIGN(auto squat, squatter->Listen("127.0.0.1:0", http::Routes{}));
  const std::string taken = "127.0.0.1:" + std::to_string(squatter->port(squat));

  HealthAndMetricsConfig config = LoopbackConfig(&clock);
  config.healthz_bind_address = taken;
  config.bind_address_hard_fail = true;
  absl::StatusOr<std::unique_ptr<HealthAndMetrics>> hard = HealthAndMetrics::Start(config);
  ASSERT_FALSE(hard.ok());
  EXPECT_THAT(std::string(hard.status().message()), HasSubstr("healthz server"));
  EXPECT_THAT(std::string(hard.status().message()), HasSubstr(taken));

  config.bind_address_hard_fail = false;
  ASSERT_OK_AND_ASSIGN(auto soft, HealthAndMetrics::Start(config));
  EXPECT_EQ(soft->healthz_port(), 0);
  EXPECT_NE(soft->metrics_port(), 0);  // The other server is not held up.
  squatter->Close(squat);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (soft->healthz_port() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ("127.0.0.1:" + std::to_string(soft->healthz_port()), taken);
  EXPECT_EQ(HttpGet("127.0.0.1", soft->healthz_port(), "/livez")->status, 200);
}

}  // namespace
}  // namespace bpfproxy
