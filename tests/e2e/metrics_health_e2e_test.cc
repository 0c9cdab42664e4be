// End to end, as an admin swapping kube-proxy out sees it: the real daemon
// in a node namespace, started from kubeadm's kube-proxy ConfigMap plus
// --hostname-override (what the DaemonSet passes), watching the API server
// emulator. Probes and scrapes go to the ports kube-proxy uses (10256 and
// 127.0.0.1:10249) inside the node namespace, and must answer what
// kube-proxy's would: /healthz and /livez follow syncs and the Node, and
// /metrics carries kube-proxy's families whose values move when Services
// change, plus bpfproxy's own map, reflector and connection counters.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "k8s/objects.h"
#include "tests/kernel/daemon_node_fixture.h"
#include "tests/metrics/exposition_parser.h"
#include "tests/proxy/http_test_client.h"
#include "yaml-cpp/yaml.h"

namespace bpfproxy {
namespace {

using e2e::Ready;
using e2e::ServiceObject;
using e2e::SliceObject;
using json = nlohmann::json;
using testing_util::HttpAnswer;
using testing_util::HttpGet;
using testing_util::ParsedExposition;
using ::testing::HasSubstr;

constexpr const char* kNode = DaemonNodeFixture::kNodeName;
constexpr uint16_t kHealthzPort = 10256;  // kube-proxy's defaults
constexpr uint16_t kMetricsPort = 10249;
const IpAddress kWebVip = Ip("10.96.0.10");

// "2024-05-01T10:00:00Z": the form EndpointSlice controllers write.
std::string Rfc3339Seconds(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()); }

json TaintedNode(bool tainted) {
  json node = e2e::NodeObject(kNode, "zone-a");
  if (tainted) {
    node["spec"]["taints"] = json::array({{{"key", k8s::kTaintToBeDeletedByClusterAutoscaler},
                                           {"value", "1714521600"},
                                           {"effect", "NoSchedule"}}});
  }
  return node;
}

class MetricsHealthE2eTest : public DaemonNodeFixture {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(SetUpDaemonNode({8080}, "metrics")); }

  // The daemon as the DaemonSet in manifests/ starts it: --config with
  // kubeadm's ConfigMap (config.conf), only its kubeconfig path pointed at
  // the emulator and |iptables_sync_period| set ("": kubeadm's 0s, which
  // kube-proxy defaults to 30s), plus --hostname-override and the test's
  // own bpffs and cgroup; then |extra|.
  void StartFromConfigMap(const std::string& iptables_sync_period, const std::vector<std::string>& extra = {}) {
    YAML::Node configmap = YAML::LoadFile(KUBEADM_CONFIGMAP);
    YAML::Node config = YAML::Load(configmap["data"]["config.conf"].as<std::string>());
    config["clientConnection"]["kubeconfig"] = kubeconfig_;
    if (!iptables_sync_period.empty()) config["iptables"]["syncPeriod"] = iptables_sync_period;
    const std::string path = dir_ + "/config.conf";
    {
      std::ofstream out(path);
      out << YAML::Dump(config) << "\n";
    }
    std::vector<std::string> args = {BPFPROXY_BINARY, "--config=" + path,
                                     std::string("--hostname-override=") + kNode, "--bpf-root=" + bpf_root(),
                                     "--cgroup-root=" + cgroup_->path(), "--v=2"};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_OK_AND_ASSIGN(daemon_, e2e::Process::Start(std::move(args), Log()));
  }

  static absl::StatusOr<HttpAnswer> Get(uint16_t port, const std::string& path) {
    return HttpGet("127.0.0.1", port, path);
  }

  // Polls until GET |path| answers |code|; the last answer (or error).
  static absl::StatusOr<HttpAnswer> EventuallyAnswers(uint16_t port, const std::string& path, int code,
                                                      absl::Duration timeout = absl::Seconds(20)) {
    absl::StatusOr<HttpAnswer> answer;
    for (absl::Time end = absl::Now() + timeout; absl::Now() < end; absl::SleepFor(absl::Milliseconds(100))) {
      answer = Get(port, path);
      if (answer.ok() && answer->status == code) return answer;
    }
    if (answer.ok()) {
      return absl::DeadlineExceededError(
          absl::StrCat("GET ", path, " still answers ", answer->status, ": ", answer->body));
    }
    return answer.status();
  }

  static ParsedExposition Scrape() {
    absl::StatusOr<HttpAnswer> answer = Get(kMetricsPort, "/metrics");
    if (!answer.ok() || answer->status != 200) {
      ADD_FAILURE() << "scrape: " << (answer.ok() ? answer->body : answer.status().ToString());
      return {};
    }
    absl::StatusOr<ParsedExposition> parsed = testing_util::ParseExposition(answer->body);
    if (!parsed.ok()) ADD_FAILURE() << "a Prometheus server would reject the scrape: " << parsed.status();
    return parsed.value_or(ParsedExposition{});
  }

  // The value of sample |name| (with its suffix) of |family| with |labels|;
  // -1 if there is none.
  static double Value(const ParsedExposition& e, const std::string& family, const std::string& name,
                      const std::map<std::string, std::string>& labels = {}) {
    auto it = e.find(family);
    if (it == e.end()) return -1;
    const testing_util::ParsedSample* sample = it->second.Find(name, labels);
    return sample == nullptr ? -1 : sample->value;
  }
  static double Value(const ParsedExposition& e, const std::string& name,
                      const std::map<std::string, std::string>& labels = {}) {
    return Value(e, name, name, labels);
  }

  // Scrapes until |ready| holds (the sync that took a change reports after
  // its writes, so a client may see them a moment before the metrics do).
  template <typename Ready>
  static ParsedExposition ScrapeUntil(Ready ready) {
    ParsedExposition e;
    for (absl::Time end = absl::Now() + absl::Seconds(20); absl::Now() < end; absl::SleepFor(absl::Milliseconds(100))) {
      e = Scrape();
      if (ready(e)) return e;
    }
    ADD_FAILURE() << "the metrics never showed what was expected";
    return e;
  }
};

TEST_F(MetricsHealthE2eTest, StartsFromKubeadmsConfigMapWithHostnameOverrideAndServesKubeProxysEndpoints) {
  ASSERT_NO_FATAL_FAILURE(StartFromConfigMap(""));
  // internalTrafficPolicy Local: only endpoints on the node named by
  // --hostname-override serve, which shows the flag applied over the file.
  json web = ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}});
  web["spec"]["internalTrafficPolicy"] = "Local";
  Apply(web);
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}},
                    {Ready(PodTopology::pod_ip4(0), kNode), Ready(PodTopology::pod_ip4(1), "node-b")}));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Pod(0)}));

  // kubeadm leaves healthzBindAddress and metricsBindAddress empty:
  // kube-proxy's defaults, 0.0.0.0:10256 and 127.0.0.1:10249.
  ASSERT_OK_AND_ASSIGN(HttpAnswer healthz, EventuallyAnswers(kHealthzPort, "/healthz", 200));
  EXPECT_EQ(healthz.header("content-type"), "application/json");
  EXPECT_THAT(healthz.body, HasSubstr("\"nodeEligible\": true"));
  ASSERT_OK_AND_ASSIGN(HttpAnswer livez, Get(kHealthzPort, "/livez"));
  EXPECT_EQ(livez.status, 200);
  EXPECT_THAT(livez.body, HasSubstr("\"lastUpdated\": "));
  ASSERT_OK_AND_ASSIGN(HttpAnswer mode, Get(kMetricsPort, "/proxyMode"));
  EXPECT_EQ(mode.status, 200);
  EXPECT_EQ(mode.body, "ebpf");
  ASSERT_OK_AND_ASSIGN(HttpAnswer metrics_healthz, Get(kMetricsPort, "/healthz"));
  EXPECT_EQ(metrics_healthz.status, 200);
  EXPECT_EQ(metrics_healthz.body, "ok");
  // Metrics are for this node only: not on the node's other addresses.
  EXPECT_FALSE(HttpGet(topology_->node_ip4().ToString(), kMetricsPort, "/metrics").ok());
  EXPECT_TRUE(HttpGet(topology_->node_ip4().ToString(), kHealthzPort, "/healthz").ok());

  EXPECT_THAT(e2e::ReadFile(Log()), HasSubstr(dir_ + "/config.conf"));
}

TEST_F(MetricsHealthE2eTest, MetricsHaveKubeProxysNamesAndTypesAndMoveWhenAServiceChanges) {
  const absl::Time started = absl::Now();
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--iptables-min-sync-period=0", "--v=2"}));
  ASSERT_OK(EventuallyAnswers(kHealthzPort, "/healthz", 200).status());
  const ParsedExposition before = ScrapeUntil([](const ParsedExposition& e) {
    return Value(e, "kubeproxy_sync_proxy_rules_duration_seconds", "kubeproxy_sync_proxy_rules_duration_seconds_count") >= 1;
  });
  const std::map<std::string, std::string> kTypes = {
      {"kubeproxy_sync_proxy_rules_duration_seconds", "histogram"},
      {"kubeproxy_sync_full_proxy_rules_duration_seconds", "histogram"},
      {"kubeproxy_sync_partial_proxy_rules_duration_seconds", "histogram"},
      {"kubeproxy_network_programming_duration_seconds", "histogram"},
      {"kubeproxy_sync_proxy_rules_last_timestamp_seconds", "gauge"},
      {"kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "gauge"},
      {"kubeproxy_sync_proxy_rules_service_changes_total", "counter"},
      {"kubeproxy_sync_proxy_rules_service_changes_pending", "gauge"},
      {"kubeproxy_sync_proxy_rules_endpoint_changes_total", "counter"},
      {"kubeproxy_sync_proxy_rules_endpoint_changes_pending", "gauge"},
      {"kubeproxy_sync_proxy_rules_no_local_endpoints_total", "gauge"},
      {"kubeproxy_proxy_healthz_total", "counter"},
      {"rest_client_requests_total", "counter"},
      {"rest_client_request_duration_seconds", "histogram"},
      {"process_resident_memory_bytes", "gauge"},
      {"bpfproxy_map_entries", "gauge"},
      {"bpfproxy_map_capacity", "gauge"},
      {"bpfproxy_map_write_failures_total", "counter"},
      {"bpfproxy_reflector_watch_events_total", "counter"},
      {"bpfproxy_reflector_relists_total", "counter"},
      {"bpfproxy_service_connections_total", "counter"},
  };
  // (kubeproxy_proxy_livez_total, like every labelled family, appears with
  // its first sample, as in kube-proxy: /livez has not been asked yet.)
  for (const auto& [name, type] : kTypes) {
    auto family = before.find(name);
    ASSERT_NE(family, before.end()) << name << " is not exported";
    EXPECT_EQ(family->second.type, type) << name;
  }
  // Nothing is programmed yet; the API client has listed and watched.
  EXPECT_EQ(Value(before, "bpfproxy_map_entries", {{"map", "bpfp_svc_v1"}}), 0);
  EXPECT_EQ(Value(before, "bpfproxy_map_capacity", {{"map", "bpfp_svc_v1"}}), 2097152);
  EXPECT_EQ(Value(before, "bpfproxy_map_capacity", {{"map", "bpfp_be_v1"}}), 1048576);
  for (const char* resource : {"services", "endpointslices", "nodes"}) {
    EXPECT_EQ(Value(before, "bpfproxy_reflector_relists_total", {{"resource", resource}}), 0) << resource;
    EXPECT_EQ(Value(before, "bpfproxy_reflector_decode_errors_total", {{"resource", resource}}), 0) << resource;
  }
  EXPECT_GE(Value(before, "rest_client_requests_total", {{"code", "200"}, {"method", "GET"}}), 3);

  // A Service with one endpoint whose controller stamped the change at
  // least a second before it is applied, in whole seconds, and after the
  // daemon started (earlier trigger times are not reported, as in
  // kube-proxy): 3 s after the start, the last whole second but one.
  absl::SleepFor(started + absl::Seconds(3) - absl::Now());
  const absl::Time trigger = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) - 1);
  absl::SleepFor(absl::Milliseconds(500));
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}}));
  json slice = SliceObject("web", "web-1", {{"http", 8080, "TCP"}}, {Ready(PodTopology::pod_ip4(0), kNode)});
  slice["metadata"]["annotations"][k8s::kAnnotationLastChangeTriggerTime] = Rfc3339Seconds(trigger);
  Apply(slice);
  ASSERT_TRUE(Eventually(kWebVip, 80, {Pod(0)}));  // 30 connections.

  const ParsedExposition after = ScrapeUntil([](const ParsedExposition& e) {
    return Value(e, "kubeproxy_network_programming_duration_seconds",
                 "kubeproxy_network_programming_duration_seconds_count") >= 1 &&
           Value(e, "bpfproxy_service_connections_total", {{"service", "web"}}) >= 30;
  });
  const std::string programming = "kubeproxy_network_programming_duration_seconds";
  EXPECT_EQ(Value(after, programming, programming + "_count"), 1);
  const double latency = Value(after, programming, programming + "_sum");
  EXPECT_GE(latency, 1.4) << "from the trigger time to the sync that programmed it";
  EXPECT_LT(latency, 20);
  EXPECT_GE(Value(after, "kubeproxy_sync_proxy_rules_service_changes_total") -
                Value(before, "kubeproxy_sync_proxy_rules_service_changes_total"),
            1);
  EXPECT_GE(Value(after, "kubeproxy_sync_proxy_rules_endpoint_changes_total") -
                Value(before, "kubeproxy_sync_proxy_rules_endpoint_changes_total"),
            1);
  EXPECT_EQ(Value(after, "kubeproxy_sync_proxy_rules_endpoint_changes_pending"), 0);
  const std::string sync = "kubeproxy_sync_proxy_rules_duration_seconds";
  EXPECT_GT(Value(after, sync, sync + "_count"), Value(before, sync, sync + "_count"));
  EXPECT_GT(Value(after, "kubeproxy_sync_proxy_rules_last_timestamp_seconds"),
            Value(before, "kubeproxy_sync_proxy_rules_last_timestamp_seconds"));
  EXPECT_GE(Value(after, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"),
            static_cast<double>(absl::ToUnixSeconds(trigger)));
  // One frontend with one backend: a master and a slot, one backend, one membership.
  EXPECT_EQ(Value(after, "bpfproxy_map_entries", {{"map", "bpfp_svc_v1"}}), 2);
  EXPECT_EQ(Value(after, "bpfproxy_map_entries", {{"map", "bpfp_be_v1"}}), 1);
  EXPECT_EQ(Value(after, "bpfproxy_map_entries", {{"map", "bpfp_memb_v1"}}), 1);
  EXPECT_GE(Value(after, "bpfproxy_reflector_watch_events_total", {{"resource", "services"}}), 1);
  EXPECT_GE(Value(after, "bpfproxy_reflector_watch_events_total", {{"resource", "endpointslices"}}), 1);
  EXPECT_EQ(Value(after, "bpfproxy_map_write_failures_total"), 0);
  // The connections Eventually() made, counted by the BPF program and
  // named by the Service that owns the frontend.
  EXPECT_GE(Value(after, "bpfproxy_service_connections_total",
                  {{"namespace", "default"}, {"service", "web"}, {"frontend", "10.96.0.10:80/TCP"}, {"path", "socket"}}),
            30);

  // History compacted while the watches are cut: every reflector must
  // reconnect, get 410 Gone and list again, and say so.
  ASSERT_TRUE(emulator_->WaitForOpenWatches(3, absl::Seconds(10)));
  emulator_->CutWatches();
  Apply(ServiceObject("other", "10.96.0.30", {{"http", 80, "TCP"}}));
  Apply(SliceObject("other", "other-1", {{"http", 8080, "TCP"}}, {}));
  emulator_->Compact();
  emulator_->CutWatches();
  const ParsedExposition relisted = ScrapeUntil([](const ParsedExposition& e) {
    return Value(e, "bpfproxy_reflector_relists_total", {{"resource", "services"}}) >= 1 &&
           Value(e, "bpfproxy_reflector_relists_total", {{"resource", "endpointslices"}}) >= 1 &&
           Value(e, "bpfproxy_map_entries", {{"map", "bpfp_svc_v1"}}) == 3;  // web's two, other's master
  });
  EXPECT_GE(Value(relisted, "bpfproxy_reflector_reconnects_total", {{"resource", "services"}}), 1);
}

TEST_F(MetricsHealthE2eTest, HealthzTurns503WhileWritesFailAndWhileTheNodeIsTaintedForDeletion) {
  // A 1 s sync period: unhealthy 2 s after a change that cannot be
  // applied. A services map of 8 entries cannot hold a Service with 10
  // endpoints (a master and 10 slots).
  ASSERT_NO_FATAL_FAILURE(StartFromConfigMap("1s", {"--bpf-lb-services-max=8"}));
  ASSERT_OK(EventuallyAnswers(kHealthzPort, "/healthz", 200).status());

  // The cluster autoscaler is about to delete the node: load balancers
  // must drain it, while the proxy itself is fine.
  Apply(TaintedNode(true));
  ASSERT_OK_AND_ASSIGN(HttpAnswer drained, EventuallyAnswers(kHealthzPort, "/healthz", 503));
  EXPECT_THAT(drained.body, HasSubstr("\"nodeEligible\": false"));
  ASSERT_OK_AND_ASSIGN(HttpAnswer livez, Get(kHealthzPort, "/livez"));
  EXPECT_EQ(livez.status, 200) << "liveness ignores the node";
  Apply(TaintedNode(false));
  ASSERT_OK(EventuallyAnswers(kHealthzPort, "/healthz", 200).status());

  // A change the datapath cannot take: syncs keep failing, nothing newer
  // than the change is applied, and after 2 sync periods the proxy is
  // unhealthy, /livez included.
  std::vector<e2e::EndpointSpec> ten;
  for (int i = 0; i < 10; ++i) ten.push_back(Ready(Ip(absl::StrCat("10.244.9.", i + 1).c_str()), kNode));
  Apply(ServiceObject("big", "10.96.0.20", {{"http", 80, "TCP"}}));
  Apply(SliceObject("big", "big-1", {{"http", 8080, "TCP"}}, ten));
  ASSERT_OK_AND_ASSIGN(HttpAnswer stale, EventuallyAnswers(kHealthzPort, "/healthz", 503));
  EXPECT_THAT(stale.body, HasSubstr("\"nodeEligible\": true"));
  ASSERT_OK_AND_ASSIGN(livez, Get(kHealthzPort, "/livez"));
  EXPECT_EQ(livez.status, 503);
  const ParsedExposition failing = Scrape();
  EXPECT_GE(Value(failing, "bpfproxy_map_write_failures_total"), 1);
  EXPECT_GE(Value(failing, "kubeproxy_proxy_healthz_total", {{"code", "503"}}), 2);
  EXPECT_GE(Value(failing, "kubeproxy_proxy_livez_total", {{"code", "503"}}), 1);
  EXPECT_THAT(e2e::ReadFile(Log()), HasSubstr("bpfp_svc_v1"));

  // Scaled down to what fits: the next sync applies it and health returns.
  Apply(SliceObject("big", "big-1", {{"http", 8080, "TCP"}}, {ten[0], ten[1]}));
  ASSERT_OK(EventuallyAnswers(kHealthzPort, "/healthz", 200).status());
  ASSERT_OK_AND_ASSIGN(livez, Get(kHealthzPort, "/livez"));
  EXPECT_EQ(livez.status, 200);
  EXPECT_EQ(Value(Scrape(), "bpfproxy_map_entries", {{"map", "bpfp_svc_v1"}}), 3);
}

TEST_F(MetricsHealthE2eTest, AnEditedConfigFileRestartsTheDaemonAsKubeProxyDoes) {
  ASSERT_NO_FATAL_FAILURE(StartFromConfigMap(""));
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}}));
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}}, {Ready(PodTopology::pod_ip4(0), kNode)}));
  ASSERT_TRUE(Eventually(kWebVip, 80, {Pod(0)}));
  ASSERT_EQ(daemon_->WaitFor(absl::Seconds(6)), std::nullopt) << "an unchanged file keeps the daemon running";

  // The admin edits the ConfigMap; the kubelet rewrites the file. The daemon
  // exits non-zero so that the kubelet restarts it with the new settings,
  // and the datapath it leaves pinned keeps serving meanwhile.
  {
    std::ofstream out(dir_ + "/config.conf", std::ios::app);
    out << "# edited\n";
  }
  EXPECT_EQ(daemon_->WaitFor(absl::Seconds(15)), 1);
  EXPECT_THAT(e2e::ReadFile(Log()), HasSubstr("changed; exiting so that the new configuration takes effect"));
  EXPECT_EQ(Reached(kWebVip, 80), (std::set<std::string>{Pod(0)}));
}

}  // namespace
}  // namespace bpfproxy
