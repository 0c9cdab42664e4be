// ProxyMetrics: kube-proxy's names, types, help texts, labels and buckets;
// the values after syncs, queued changes, health answers and API requests;
// bpfproxy's scrape-time families; and an exposition a Prometheus server
// accepts (every test parses what Render() produced).
#include "metrics/proxy_metrics.h"

#include <map>
#include <string>
#include <vector>

#include "bpfproxy/lb_abi.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/metrics/exposition_parser.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::metrics {
namespace {

using ::bpfproxy::testing_util::ParsedExposition;
using ::bpfproxy::testing_util::ParsedFamily;
using ::bpfproxy::testing_util::ParsedSample;
using ::bpfproxy::testing_util::ParseExposition;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

const absl::Time kT = absl::FromUnixSeconds(1714557600);

ParsedExposition Scrape(const ProxyMetrics& metrics) {
  absl::StatusOr<ParsedExposition> parsed = ParseExposition(metrics.Render());
  EXPECT_OK(parsed);
  return parsed.ok() ? *parsed : ParsedExposition{};
}

// The value of sample |name|{labels} in family |family|; -1 if absent.
double Value(const ParsedExposition& e, const std::string& family, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  auto it = e.find(family);
  if (it == e.end()) return -1;
  const ParsedSample* sample = it->second.Find(name, labels);
  return sample == nullptr ? -1 : sample->value;
}
double Value(const ParsedExposition& e, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  return Value(e, name, name, labels);
}

SyncStats Sync(absl::Duration duration, absl::Time finished) {
  SyncStats stats;
  stats.report.ran = true;
  stats.report.duration = duration;
  stats.finished = finished;
  return stats;
}

struct FamilyCase {
  std::string name, type, help;
};

TEST(ProxyMetricsTest, KubeProxyFamiliesHaveItsNamesTypesAndHelp) {
  ProxyMetrics metrics;
  // Families with labels appear once a series exists.
  metrics.CountProxyHealthAnswer("/healthz", 200);
  metrics.CountProxyHealthAnswer("/livez", 200);
  metrics.ObserveRequest("GET", "h:6443", 200, absl::Milliseconds(1));
  const std::vector<FamilyCase> cases = {
      {"kubeproxy_sync_proxy_rules_duration_seconds", "histogram", "[ALPHA] SyncProxyRules latency in seconds"},
      {"kubeproxy_sync_full_proxy_rules_duration_seconds", "histogram",
       "[ALPHA] SyncProxyRules latency in seconds for full resyncs"},
      {"kubeproxy_sync_partial_proxy_rules_duration_seconds", "histogram",
       "[ALPHA] SyncProxyRules latency in seconds for partial resyncs"},
      {"kubeproxy_network_programming_duration_seconds", "histogram",
       "[ALPHA] In Cluster Network Programming Latency in seconds"},
      {"kubeproxy_sync_proxy_rules_last_timestamp_seconds", "gauge",
       "[ALPHA] The last time proxy rules were successfully synced"},
      {"kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "gauge",
       "[ALPHA] The last time a sync of proxy rules was queued"},
      {"kubeproxy_sync_proxy_rules_endpoint_changes_total", "counter",
       "[ALPHA] Cumulative proxy rules Endpoint changes"},
      {"kubeproxy_sync_proxy_rules_endpoint_changes_pending", "gauge", "[ALPHA] Pending proxy rules Endpoint changes"},
      {"kubeproxy_sync_proxy_rules_service_changes_total", "counter", "[ALPHA] Cumulative proxy rules Service changes"},
      {"kubeproxy_sync_proxy_rules_service_changes_pending", "gauge", "[ALPHA] Pending proxy rules Service changes"},
      {"kubeproxy_sync_proxy_rules_no_local_endpoints_total", "gauge",
       "[ALPHA] Number of services with a Local traffic policy and no endpoints"},
      {"kubeproxy_proxy_healthz_total", "counter", "[ALPHA] Cumulative proxy healthz HTTP status"},
      {"kubeproxy_proxy_livez_total", "counter", "[ALPHA] Cumulative proxy livez HTTP status"},
      {"rest_client_requests_total", "counter",
       "[ALPHA] Number of HTTP requests, partitioned by status code, method, and host."},
      {"rest_client_request_duration_seconds", "histogram",
       "[ALPHA] Request latency in seconds. Broken down by verb, and host."},
      {"process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds."},
      {"process_resident_memory_bytes", "gauge", "Resident memory size in bytes."},
      {"process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds."},
      {"bpfproxy_map_write_failures_total", "counter", ""},
      {"bpfproxy_map_entries", "gauge", ""},
      {"bpfproxy_map_capacity", "gauge", ""},
      {"bpfproxy_reflector_relists_total", "counter", ""},
      {"bpfproxy_reflector_reconnects_total", "counter", ""},
      {"bpfproxy_reflector_list_errors_total", "counter", ""},
      {"bpfproxy_reflector_decode_errors_total", "counter", ""},
      {"bpfproxy_reflector_watch_events_total", "counter", ""},
      {"bpfproxy_service_connections_total", "counter", ""},
  };
  ParsedExposition e = Scrape(metrics);
  for (const FamilyCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto it = e.find(c.name);
    ASSERT_NE(it, e.end());
    EXPECT_EQ(it->second.type, c.type);
    if (c.help.empty()) {
      EXPECT_FALSE(it->second.help.empty());
    } else {
      EXPECT_EQ(it->second.help, c.help);
    }
  }
}

TEST(ProxyMetricsTest, BucketsAreKubeProxys) {
  ProxyMetrics metrics;
  metrics.ObserveRequest("GET", "h", 200, absl::Milliseconds(1));
  ParsedExposition e = Scrape(metrics);
  EXPECT_THAT(e["kubeproxy_sync_proxy_rules_duration_seconds"].BucketBounds(),
              ElementsAre("0.001", "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128", "0.256", "0.512",
                          "1.024", "2.048", "4.096", "8.192", "16.384", "+Inf"));
  EXPECT_EQ(e["kubeproxy_sync_full_proxy_rules_duration_seconds"].BucketBounds(),
            e["kubeproxy_sync_proxy_rules_duration_seconds"].BucketBounds());

  std::vector<std::string> programming = {"0", "0.25", "0.5"};
  for (int s = 1; s <= 59; ++s) programming.push_back(std::to_string(s));
  for (int s = 60; s <= 115; s += 5) programming.push_back(std::to_string(s));
  for (int s = 120; s <= 300; s += 30) programming.push_back(std::to_string(s));
  programming.push_back("+Inf");
  ASSERT_EQ(programming.size(), 1u + 2 + 59 + 12 + 7 + 1);
  EXPECT_THAT(e["kubeproxy_network_programming_duration_seconds"].BucketBounds(), ElementsAreArray(programming));

  EXPECT_THAT(e["rest_client_request_duration_seconds"].BucketBounds(),
              ElementsAre("0.005", "0.025", "0.1", "0.25", "0.5", "1", "2", "4", "8", "15", "30", "60", "+Inf"));
}

TEST(ProxyMetricsTest, ASyncIsObserved) {
  ProxyMetrics metrics;
  SyncStats stats = Sync(absl::Milliseconds(20), kT);
  stats.service_changes = 2;
  stats.endpoint_changes = 3;
  stats.trigger_times = {kT - absl::Milliseconds(1500), kT - absl::Seconds(30)};
  stats.no_local_endpoints_internal = 1;
  stats.no_local_endpoints_external = 2;
  metrics.OnSync(stats);

  ParsedExposition e = Scrape(metrics);
  const std::string sync = "kubeproxy_sync_proxy_rules_duration_seconds";
  EXPECT_EQ(Value(e, sync, sync + "_count"), 1);
  EXPECT_DOUBLE_EQ(Value(e, sync, sync + "_sum"), 0.02);
  EXPECT_EQ(Value(e, sync, sync + "_bucket", {{"le", "0.016"}}), 0);
  EXPECT_EQ(Value(e, sync, sync + "_bucket", {{"le", "0.032"}}), 1);
  const std::string partial = "kubeproxy_sync_partial_proxy_rules_duration_seconds";
  const std::string full = "kubeproxy_sync_full_proxy_rules_duration_seconds";
  EXPECT_EQ(Value(e, partial, partial + "_count"), 1);
  EXPECT_EQ(Value(e, full, full + "_count"), 0);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_service_changes_total"), 2);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_endpoint_changes_total"), 3);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_last_timestamp_seconds"), 1714557600);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_no_local_endpoints_total", {{"traffic_policy", "internal"}}), 1);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_no_local_endpoints_total", {{"traffic_policy", "external"}}), 2);
  const std::string np = "kubeproxy_network_programming_duration_seconds";
  EXPECT_EQ(Value(e, np, np + "_count"), 2);
  EXPECT_DOUBLE_EQ(Value(e, np, np + "_sum"), 31.5);
  EXPECT_EQ(Value(e, np, np + "_bucket", {{"le", "1"}}), 0);
  EXPECT_EQ(Value(e, np, np + "_bucket", {{"le", "2"}}), 1);
  EXPECT_EQ(Value(e, np, np + "_bucket", {{"le", "29"}}), 1);
  EXPECT_EQ(Value(e, np, np + "_bucket", {{"le", "30"}}), 2);
  EXPECT_EQ(Value(e, "bpfproxy_map_write_failures_total"), 0);

  // A full sync that failed writes: counted, but neither "successful" nor
  // programmed.
  SyncStats failed = Sync(absl::Milliseconds(3), kT + absl::Seconds(10));
  failed.report.full = true;
  failed.report.failures = 2;
  failed.endpoint_changes = 1;
  failed.trigger_times = {kT};
  metrics.OnSync(failed);
  e = Scrape(metrics);
  EXPECT_EQ(Value(e, full, full + "_count"), 1);
  EXPECT_EQ(Value(e, sync, sync + "_count"), 2);
  EXPECT_EQ(Value(e, "bpfproxy_map_write_failures_total"), 2);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_endpoint_changes_total"), 4);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_last_timestamp_seconds"), 1714557600);
  EXPECT_EQ(Value(e, np, np + "_count"), 2);

  // Before the first LISTs nothing syncs, and nothing is observed.
  SyncStats waiting = Sync(absl::Milliseconds(1), kT + absl::Seconds(20));
  waiting.report.ran = false;
  waiting.service_changes = 5;
  metrics.OnSync(waiting);
  e = Scrape(metrics);
  EXPECT_EQ(Value(e, sync, sync + "_count"), 2);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_service_changes_total"), 2);
}

TEST(ProxyMetricsTest, PendingChangesClearOnlyWhenASyncTookThem) {
  ProxyMetrics metrics;
  metrics.OnChangeQueued(kT, 4, 5);
  ParsedExposition e = Scrape(metrics);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_service_changes_pending"), 4);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_endpoint_changes_pending"), 5);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"), 1714557600);

  // This sync began before the change arrived: it is still pending.
  metrics.OnSync(Sync(absl::Seconds(2), kT + absl::Seconds(1)));
  e = Scrape(metrics);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_service_changes_pending"), 4);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_endpoint_changes_pending"), 5);

  // This one began after it: nothing is pending.
  metrics.OnSync(Sync(absl::Seconds(1), kT + absl::Seconds(3)));
  e = Scrape(metrics);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_service_changes_pending"), 0);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_endpoint_changes_pending"), 0);
  EXPECT_EQ(Value(e, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"), 1714557600);
}

TEST(ProxyMetricsTest, HealthAnswersAreCountedByCode) {
  ProxyMetrics metrics;
  metrics.CountProxyHealthAnswer("/healthz", 200);
  metrics.CountProxyHealthAnswer("/healthz", 200);
  metrics.CountProxyHealthAnswer("/healthz", 503);
  metrics.CountProxyHealthAnswer("/livez", 200);
  ParsedExposition e = Scrape(metrics);
  EXPECT_EQ(Value(e, "kubeproxy_proxy_healthz_total", {{"code", "200"}}), 2);
  EXPECT_EQ(Value(e, "kubeproxy_proxy_healthz_total", {{"code", "503"}}), 1);
  EXPECT_EQ(Value(e, "kubeproxy_proxy_livez_total", {{"code", "200"}}), 1);
  EXPECT_EQ(Value(e, "kubeproxy_proxy_livez_total", {{"code", "503"}}), -1);
  for (const ParsedSample& s : e["kubeproxy_proxy_healthz_total"].samples) {
    EXPECT_THAT(s.labels, ElementsAre(std::pair<const std::string, std::string>("code", s.labels.at("code"))));
  }
}

TEST(ProxyMetricsTest, RestClientRequestsAreCountedAndTimed) {
  ProxyMetrics metrics;
  k8s::RequestObserver observe = metrics.request_observer();
  observe("GET", "10.0.0.1:6443", 200, absl::Milliseconds(30));
  observe("GET", "10.0.0.1:6443", 200, absl::Milliseconds(10));
  observe("GET", "10.0.0.1:6443", 0, absl::Seconds(1));  // No answer.
  observe("GET", "10.0.0.1:6443", 410, absl::Milliseconds(3));
  ParsedExposition e = Scrape(metrics);
  const std::map<std::string, std::string> ok = {{"code", "200"}, {"host", "10.0.0.1:6443"}, {"method", "GET"}};
  EXPECT_EQ(Value(e, "rest_client_requests_total", ok), 2);
  EXPECT_EQ(Value(e, "rest_client_requests_total", {{"code", "<error>"}}), 1);
  EXPECT_EQ(Value(e, "rest_client_requests_total", {{"code", "410"}}), 1);
  for (const ParsedSample& s : e["rest_client_requests_total"].samples) EXPECT_EQ(s.labels.size(), 3u);
  const std::string d = "rest_client_request_duration_seconds";
  const std::map<std::string, std::string> series = {{"host", "10.0.0.1:6443"}, {"verb", "GET"}};
  EXPECT_EQ(Value(e, d, d + "_count", series), 4);
  EXPECT_DOUBLE_EQ(Value(e, d, d + "_sum", series), 1.043);
  EXPECT_EQ(Value(e, d, d + "_bucket", {{"le", "0.005"}}), 1);
  EXPECT_EQ(Value(e, d, d + "_bucket", {{"le", "0.025"}}), 2);
  EXPECT_EQ(Value(e, d, d + "_bucket", {{"le", "0.1"}}), 3);
}

TEST(ProxyMetricsTest, MapUsageAndReflectorsAreReadOnEachScrape) {
  ProxyMetrics metrics;
  ParsedExposition before = Scrape(metrics);
  EXPECT_THAT(before["bpfproxy_map_entries"].samples, IsEmpty());

  uint64_t entries = 10;
  metrics.SetMapUsageProvider([&] {
    return std::vector<MapUsage>{{"bpfp_svc_v1", entries, 65536}, {"bpfp_be_v1", 3, 1024}};
  });
  k8s::ReflectorStats services{.relists = 1, .reconnects = 2, .list_errors = 3, .decode_errors = 4, .events = 5};
  metrics.SetReflectorStatsProvider([&] {
    return std::vector<std::pair<std::string, k8s::ReflectorStats>>{{"services", services},
                                                                    {"endpointslices", k8s::ReflectorStats{}}};
  });
  ParsedExposition e = Scrape(metrics);
  EXPECT_EQ(Value(e, "bpfproxy_map_entries", {{"map", "bpfp_svc_v1"}}), 10);
  EXPECT_EQ(Value(e, "bpfproxy_map_capacity", {{"map", "bpfp_svc_v1"}}), 65536);
  EXPECT_EQ(Value(e, "bpfproxy_map_entries", {{"map", "bpfp_be_v1"}}), 3);
  EXPECT_EQ(Value(e, "bpfproxy_reflector_relists_total", {{"resource", "services"}}), 1);
  EXPECT_EQ(Value(e, "bpfproxy_reflector_reconnects_total", {{"resource", "services"}}), 2);
  EXPECT_EQ(Value(e, "bpfproxy_reflector_list_errors_total", {{"resource", "services"}}), 3);
  EXPECT_EQ(Value(e, "bpfproxy_reflector_decode_errors_total", {{"resource", "services"}}), 4);
  EXPECT_EQ(Value(e, "bpfproxy_reflector_watch_events_total", {{"resource", "services"}}), 5);
  EXPECT_EQ(Value(e, "bpfproxy_reflector_relists_total", {{"resource", "endpointslices"}}), 0);

  entries = 11;
  services.decode_errors = 9;
  e = Scrape(metrics);
  EXPECT_EQ(Value(e, "bpfproxy_map_entries", {{"map", "bpfp_svc_v1"}}), 11);
  EXPECT_EQ(Value(e, "bpfproxy_reflector_decode_errors_total", {{"resource", "services"}}), 9);
}

class FakeConnections : public ConnectionStatsSource {
 public:
  absl::StatusOr<std::vector<ConnectionCount>> Read() override { return result; }
  absl::StatusOr<std::vector<ConnectionCount>> result;
};

L4Address Frontend(const std::string& text) { return *L4Address::Parse(text); }

TEST(ProxyMetricsTest, ConnectionsAreNamedByTheServiceDirectory) {
  ProxyMetrics metrics;
  FakeConnections source;
  ServiceDirectory directory;
  directory.SetServiceId(LB_VIEW_SOCKET, 1, Frontend("10.96.0.10:53/UDP"));
  directory.SetServiceId(LB_VIEW_SOCKET, 2, Frontend("10.96.0.20:80/TCP"));
  directory.SetServiceId(LB_VIEW_EXTERNAL, 1, Frontend("192.168.1.5:30080/TCP"));
  directory.SetOwner(LB_VIEW_SOCKET, Frontend("10.96.0.10:53/UDP"), {"kube-system", "kube-dns"});
  directory.SetOwner(LB_VIEW_EXTERNAL, Frontend("192.168.1.5:30080/TCP"), {"web", "front"});
  source.result = std::vector<ConnectionCount>{
      {LB_VIEW_SOCKET, 1, 10}, {LB_VIEW_SOCKET, 2, 5}, {LB_VIEW_EXTERNAL, 1, 7}, {LB_VIEW_SOCKET, 99, 3}};
  metrics.SetConnectionSource(&source, &directory);

  ParsedExposition e = Scrape(metrics);
  const ParsedFamily& family = e["bpfproxy_service_connections_total"];
  ASSERT_EQ(family.samples.size(), 3u);  // ID 99 is unknown: not exported.
  EXPECT_EQ(Value(e, "bpfproxy_service_connections_total",
                  {{"namespace", "kube-system"},
                   {"service", "kube-dns"},
                   {"frontend", "10.96.0.10:53/UDP"},
                   {"path", "socket"}}),
            10);
  EXPECT_EQ(Value(e, "bpfproxy_service_connections_total",
                  {{"namespace", ""}, {"service", ""}, {"frontend", "10.96.0.20:80/TCP"}, {"path", "socket"}}),
            5);
  EXPECT_EQ(
      Value(e, "bpfproxy_service_connections_total",
            {{"namespace", "web"}, {"service", "front"}, {"frontend", "192.168.1.5:30080/TCP"}, {"path", "external"}}),
      7);

  // A failing read leaves the family empty; the scrape still succeeds.
  source.result = absl::InternalError("map gone");
  e = Scrape(metrics);
  EXPECT_THAT(e["bpfproxy_service_connections_total"].samples, IsEmpty());
  EXPECT_NE(e.find("kubeproxy_sync_proxy_rules_duration_seconds"), e.end());
}

TEST(ProxyMetricsTest, ProcessMetricsDescribeThisProcess) {
  ProxyMetrics metrics;
  ParsedExposition e = Scrape(metrics);
  EXPECT_GT(Value(e, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(Value(e, "process_virtual_memory_bytes"), Value(e, "process_resident_memory_bytes"));
  EXPECT_GT(Value(e, "process_open_fds"), 2);
  EXPECT_GT(Value(e, "process_max_fds"), Value(e, "process_open_fds"));
  double start = Value(e, "process_start_time_seconds");
  double now = absl::ToUnixSeconds(absl::Now());
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600);  // This test process started recently.
  EXPECT_GE(Value(e, "process_cpu_seconds_total"), 0);
}

TEST(ServiceDirectoryTest, JoinsIdsAndOwners) {
  ServiceDirectory directory;
  EXPECT_EQ(directory.Lookup(LB_VIEW_SOCKET, 1), std::nullopt);
  directory.SetServiceId(LB_VIEW_SOCKET, 1, Frontend("10.96.0.1:443/TCP"));
  EXPECT_EQ(directory.Lookup(LB_VIEW_SOCKET, 1), (ServiceDirectory::Entry{Frontend("10.96.0.1:443/TCP"), {}}));
  EXPECT_EQ(directory.Lookup(LB_VIEW_EXTERNAL, 1), std::nullopt);  // Views are separate.
  directory.SetOwner(LB_VIEW_SOCKET, Frontend("10.96.0.1:443/TCP"), {"default", "kubernetes"});
  EXPECT_EQ(directory.Lookup(LB_VIEW_SOCKET, 1)->service, (ServiceName{"default", "kubernetes"}));
  directory.SetOwner(LB_VIEW_SOCKET, Frontend("10.96.0.1:443/TCP"), {"default", "other"});
  EXPECT_EQ(directory.Lookup(LB_VIEW_SOCKET, 1)->service, (ServiceName{"default", "other"}));
  // The same address in the other view has an owner of its own.
  directory.SetServiceId(LB_VIEW_EXTERNAL, 1, Frontend("10.96.0.1:443/TCP"));
  directory.SetOwner(LB_VIEW_EXTERNAL, Frontend("10.96.0.1:443/TCP"), {"default", "external"});
  directory.RemoveOwner(LB_VIEW_EXTERNAL, Frontend("10.96.0.1:443/TCP"));
  EXPECT_EQ(directory.Lookup(LB_VIEW_EXTERNAL, 1)->service, ServiceName{});
  EXPECT_EQ(directory.Lookup(LB_VIEW_SOCKET, 1)->service, (ServiceName{"default", "other"}));
  directory.RemoveServiceId(LB_VIEW_EXTERNAL, 1);
  directory.RemoveOwner(LB_VIEW_SOCKET, Frontend("10.96.0.1:443/TCP"));
  EXPECT_EQ(directory.Lookup(LB_VIEW_SOCKET, 1)->service, ServiceName{});
  directory.RemoveServiceId(LB_VIEW_SOCKET, 1);
  EXPECT_EQ(directory.Lookup(LB_VIEW_SOCKET, 1), std::nullopt);
  EXPECT_EQ(directory.ids(), 0u);
}

TEST(ExpositionParserTest, RejectsWhatPrometheusWould) {
  EXPECT_OK(ParseExposition("# HELP a x\n# TYPE a counter\na 1\n"));
  EXPECT_FALSE(ParseExposition("# TYPE a counter\nb 1\n").ok());                   // Outside its family.
  EXPECT_FALSE(ParseExposition("# TYPE a counter\na{x=\"1\",x=\"2\"} 1\n").ok());  // Duplicate label.
  EXPECT_FALSE(ParseExposition("# TYPE a counter\na one\n").ok());                 // Bad value.
  EXPECT_FALSE(ParseExposition("# TYPE a counter\na 1").ok());                     // No final newline.
  EXPECT_FALSE(ParseExposition("# TYPE a histogram\na 1\n").ok());                 // Histogram samples have suffixes.
}

}  // namespace
}  // namespace bpfproxy::metrics
