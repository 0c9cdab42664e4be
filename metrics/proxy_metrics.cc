#include "metrics/proxy_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "absl/container/btree_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bpfproxy/lb_abi.h"
#include "prometheus/text_serializer.h"
#include "proxy/log.h"

namespace bpfproxy::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Kubernetes' component-base prefixes the help of every ALPHA metric; the
// kube-proxy and client-go metrics below all are.
std::string Alpha(absl::string_view help) { return absl::StrCat("[ALPHA] ", help); }

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }
double UnixSeconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

template <typename T>
prometheus::Family<T>& Register(prometheus::detail::Builder<T> builder, absl::string_view name, absl::string_view help,
                                prometheus::Registry& registry) {
  return builder.Name(std::string(name)).Help(std::string(help)).Register(registry);
}

MetricFamily Family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

ClientMetric Sample(std::vector<ClientMetric::Label> labels, double value, MetricType type) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return metric;
}

// A scrape-time read that fails is logged when its message changes, not on
// every scrape.
void LogScrapeError(absl::string_view what, const absl::Status& status) {
  static absl::Mutex mu(absl::kConstInit);
  static std::string* last = new std::string;
  std::string message = absl::StrCat(what, ": ", status.ToString());
  absl::MutexLock lock(&mu);
  if (*last == message) return;
  *last = message;
  KLOG(WARNING) << "metrics: " << message;
}

}  // namespace

std::vector<double> SyncDurationBuckets() {
  std::vector<double> buckets;
  for (int n = 0; n < 15; ++n) buckets.push_back(0.001 * std::pow(2.0, n));
  return buckets;
}

std::vector<double> NetworkProgrammingBuckets() {
  // kube-proxy merges linear series onto a leading 0.
  std::vector<double> buckets = {0, 0.25, 0.5};
  for (int s = 1; s <= 59; ++s) buckets.push_back(s);
  for (int s = 60; s <= 115; s += 5) buckets.push_back(s);
  for (int s = 120; s <= 300; s += 30) buckets.push_back(s);
  return buckets;
}

std::vector<double> RestClientDurationBuckets() {
  return {0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0};
}

ProxyMetrics::ProxyMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  auto histogram = [&](absl::string_view name, absl::string_view help, const std::vector<double>& buckets) {
    return &Register(prometheus::BuildHistogram(), name, Alpha(help), r).Add({}, buckets);
  };
  auto gauge = [&](absl::string_view name, absl::string_view help) {
    return &Register(prometheus::BuildGauge(), name, Alpha(help), r).Add({});
  };
  auto counter = [&](absl::string_view name, absl::string_view help) {
    return &Register(prometheus::BuildCounter(), name, Alpha(help), r).Add({});
  };

  sync_duration_ = histogram("kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds",
                             SyncDurationBuckets());
  sync_full_duration_ = histogram("kubeproxy_sync_full_proxy_rules_duration_seconds",
                                  "SyncProxyRules latency in seconds for full resyncs", SyncDurationBuckets());
  sync_partial_duration_ = histogram("kubeproxy_sync_partial_proxy_rules_duration_seconds",
                                     "SyncProxyRules latency in seconds for partial resyncs", SyncDurationBuckets());
  network_programming_ = histogram("kubeproxy_network_programming_duration_seconds",
                                   "In Cluster Network Programming Latency in seconds", NetworkProgrammingBuckets());
  last_sync_timestamp_ =
      gauge("kubeproxy_sync_proxy_rules_last_timestamp_seconds", "The last time proxy rules were successfully synced");
  last_queued_timestamp_ = gauge("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
                                 "The last time a sync of proxy rules was queued");
  endpoint_changes_total_ =
      counter("kubeproxy_sync_proxy_rules_endpoint_changes_total", "Cumulative proxy rules Endpoint changes");
  endpoint_changes_pending_ =
      gauge("kubeproxy_sync_proxy_rules_endpoint_changes_pending", "Pending proxy rules Endpoint changes");
  service_changes_total_ =
      counter("kubeproxy_sync_proxy_rules_service_changes_total", "Cumulative proxy rules Service changes");
  service_changes_pending_ =
      gauge("kubeproxy_sync_proxy_rules_service_changes_pending", "Pending proxy rules Service changes");
  auto& no_local = Register(prometheus::BuildGauge(), "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
                            Alpha("Number of services with a Local traffic policy and no endpoints"), r);
  no_local_internal_ = &no_local.Add({{"traffic_policy", "internal"}});
  no_local_external_ = &no_local.Add({{"traffic_policy", "external"}});
  healthz_total_ = &Register(prometheus::BuildCounter(), "kubeproxy_proxy_healthz_total",
                             Alpha("Cumulative proxy healthz HTTP status"), r);
  livez_total_ = &Register(prometheus::BuildCounter(), "kubeproxy_proxy_livez_total",
                           Alpha("Cumulative proxy livez HTTP status"), r);
  rest_requests_ = &Register(prometheus::BuildCounter(), "rest_client_requests_total",
                             Alpha("Number of HTTP requests, partitioned by status code, method, and host."), r);
  rest_duration_ = &Register(prometheus::BuildHistogram(), "rest_client_request_duration_seconds",
                             Alpha("Request latency in seconds. Broken down by verb, and host."), r);

  map_write_failures_ = &Register(prometheus::BuildCounter(), "bpfproxy_map_write_failures_total",
                                  "BPF map writes (updates and deletes) that failed; each is retried by a full sync", r)
                             .Add({});
}

ProxyMetrics::~ProxyMetrics() = default;

void ProxyMetrics::OnChangeQueued(absl::Time when, size_t pending_service_changes, size_t pending_endpoint_changes) {
  // Under mu_, so that OnSync() clearing the pending counts cannot
  // interleave with setting them.
  absl::MutexLock lock(&mu_);
  if (when > last_queued_) last_queued_ = when;
  last_queued_timestamp_->Set(UnixSeconds(when));
  service_changes_pending_->Set(static_cast<double>(pending_service_changes));
  endpoint_changes_pending_->Set(static_cast<double>(pending_endpoint_changes));
}

void ProxyMetrics::OnSync(const SyncStats& stats) {
  const SyncReport& report = stats.report;
  if (!report.ran) return;  // Waiting for the first LISTs: nothing was synced.
  sync_duration_->Observe(Seconds(report.duration));
  (report.full ? sync_full_duration_ : sync_partial_duration_)->Observe(Seconds(report.duration));
  service_changes_total_->Increment(static_cast<double>(stats.service_changes));
  endpoint_changes_total_->Increment(static_cast<double>(stats.endpoint_changes));
  no_local_internal_->Set(static_cast<double>(stats.no_local_endpoints_internal));
  no_local_external_->Set(static_cast<double>(stats.no_local_endpoints_external));
  map_write_failures_->Increment(static_cast<double>(report.failures));
  {
    // The sync took what was pending when it began; a change queued after
    // that is still pending.
    absl::MutexLock lock(&mu_);
    if (last_queued_ <= stats.finished - report.duration) {
      service_changes_pending_->Set(0);
      endpoint_changes_pending_->Set(0);
    }
  }
  if (report.failures != 0) return;
  // Only a sync that applied everything is "successful" (kube-proxy's
  // last_timestamp), and only then are its changes in the datapath.
  last_sync_timestamp_->Set(UnixSeconds(stats.finished));
  for (absl::Time trigger : stats.trigger_times) network_programming_->Observe(Seconds(stats.finished - trigger));
}

void ProxyMetrics::CountProxyHealthAnswer(absl::string_view path, int code) {
  auto* family = path == "/livez" ? livez_total_ : healthz_total_;
  family->Add({{"code", absl::StrCat(code)}}).Increment();
}

void ProxyMetrics::ObserveRequest(absl::string_view method, absl::string_view host, int code, absl::Duration duration) {
  std::string code_label = code == 0 ? "<error>" : absl::StrCat(code);
  rest_requests_->Add({{"code", code_label}, {"host", std::string(host)}, {"method", std::string(method)}}).Increment();
  rest_duration_->Add({{"host", std::string(host)}, {"verb", std::string(method)}}, RestClientDurationBuckets())
      .Observe(Seconds(duration));
}

k8s::RequestObserver ProxyMetrics::request_observer() {
  return [this](absl::string_view method, absl::string_view host, int code, absl::Duration duration) {
    ObserveRequest(method, host, code, duration);
  };
}

void ProxyMetrics::SetMapUsageProvider(MapUsageProvider provider) {
  absl::MutexLock lock(&mu_);
  map_usage_ = std::move(provider);
}

void ProxyMetrics::SetReflectorStatsProvider(ReflectorStatsProvider provider) {
  absl::MutexLock lock(&mu_);
  reflector_stats_ = std::move(provider);
}

void ProxyMetrics::SetConnectionSource(ConnectionStatsSource* source, const ServiceDirectory* directory) {
  absl::MutexLock lock(&mu_);
  connections_ = source;
  directory_ = directory;
}

void ProxyMetrics::CollectMapUsage(std::vector<MetricFamily>& out) const {
  MapUsageProvider provider;
  {
    absl::MutexLock lock(&mu_);
    provider = map_usage_;
  }
  MetricFamily entries =
      Family("bpfproxy_map_entries", "Entries in a BPF map, as the daemon accounts for them", MetricType::Gauge);
  MetricFamily capacity = Family("bpfproxy_map_capacity", "Maximum entries of a BPF map", MetricType::Gauge);
  if (provider) {
    for (const MapUsage& usage : provider()) {
      entries.metric.push_back(Sample({{"map", usage.map}}, static_cast<double>(usage.entries), MetricType::Gauge));
      capacity.metric.push_back(Sample({{"map", usage.map}}, static_cast<double>(usage.capacity), MetricType::Gauge));
    }
  }
  out.push_back(std::move(entries));
  out.push_back(std::move(capacity));
}

void ProxyMetrics::CollectReflectors(std::vector<MetricFamily>& out) const {
  ReflectorStatsProvider provider;
  {
    absl::MutexLock lock(&mu_);
    provider = reflector_stats_;
  }
  struct Counter {
    const char* name;
    const char* help;
    int64_t k8s::ReflectorStats::*field;
  };
  static constexpr Counter kCounters[] = {
      {"bpfproxy_reflector_relists_total", "LISTs started over because the watch's resourceVersion expired (410)",
       &k8s::ReflectorStats::relists},
      {"bpfproxy_reflector_reconnects_total", "WATCHes restarted after an error or a dropped connection",
       &k8s::ReflectorStats::reconnects},
      {"bpfproxy_reflector_list_errors_total", "LISTs that failed and were retried after a backoff",
       &k8s::ReflectorStats::list_errors},
      {"bpfproxy_reflector_decode_errors_total", "Objects and watch events skipped because they could not be decoded",
       &k8s::ReflectorStats::decode_errors},
      {"bpfproxy_reflector_watch_events_total", "Watch events received", &k8s::ReflectorStats::events},
  };
  std::vector<std::pair<std::string, k8s::ReflectorStats>> stats;
  if (provider) stats = provider();
  for (const Counter& counter : kCounters) {
    MetricFamily family = Family(counter.name, counter.help, MetricType::Counter);
    for (const auto& [resource, values] : stats) {
      family.metric.push_back(
          Sample({{"resource", resource}}, static_cast<double>(values.*counter.field), MetricType::Counter));
    }
    out.push_back(std::move(family));
  }
}

void ProxyMetrics::CollectConnections(std::vector<MetricFamily>& out) const {
  ConnectionStatsSource* source;
  const ServiceDirectory* directory;
  {
    absl::MutexLock lock(&mu_);
    source = connections_;
    directory = directory_;
  }
  MetricFamily family = Family("bpfproxy_service_connections_total",
                               "Connections (TCP connects, new UDP flows) to a Service frontend, counted in the "
                               "datapath; path is socket (cgroup hooks) or external (per-packet, from outside)",
                               MetricType::Counter);
  if (source != nullptr && directory != nullptr) {
    absl::StatusOr<std::vector<ConnectionCount>> counts = source->Read();
    if (!counts.ok()) {
      LogScrapeError("reading connection counters", counts.status());
    } else {
      // Several IDs can name one frontend only in passing; add them up so
      // that every label set appears once.
      using Key = std::tuple<std::string, std::string, std::string, std::string>;
      absl::btree_map<Key, uint64_t> sums;
      for (const ConnectionCount& count : *counts) {
        std::optional<ServiceDirectory::Entry> entry = directory->Lookup(count.view, count.service_id);
        if (!entry.has_value()) continue;  // A frontend removed since: its counter ages out of the LRU map.
        const char* path = count.view == LB_VIEW_EXTERNAL ? "external" : "socket";
        sums[{entry->service.namespace_, entry->service.name, entry->frontend.ToString(), path}] += count.connections;
      }
      for (const auto& [key, sum] : sums) {
        const auto& [ns, name, frontend, path] = key;
        family.metric.push_back(Sample({{"namespace", ns}, {"service", name}, {"frontend", frontend}, {"path", path}},
                                       static_cast<double>(sum), MetricType::Counter));
      }
    }
  }
  out.push_back(std::move(family));
}

std::vector<MetricFamily> ProxyMetrics::Collect() const {
  std::vector<MetricFamily> families = registry_->Collect();
  CollectMapUsage(families);
  CollectReflectors(families);
  CollectConnections(families);
  for (MetricFamily& family : CollectProcessMetrics()) families.push_back(std::move(family));
  return families;
}

std::string ProxyMetrics::Render() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, Collect());
  return out.str();
}

std::vector<MetricFamily> CollectProcessMetrics() {
  std::vector<MetricFamily> out;
  auto add = [&](const char* name, const char* help, MetricType type, double value) {
    MetricFamily family = Family(name, help, type);
    family.metric.push_back(Sample({}, value, type));
    out.push_back(std::move(family));
  };
  // /proc/self/stat: fields after "(comm)" start at field 3 (state).
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  std::vector<std::string> fields;
  if (size_t paren = stat.rfind(')'); paren != std::string::npos) {
    fields = absl::StrSplit(stat.substr(paren + 2), ' ', absl::SkipEmpty());
  }
  auto field = [&](int number) -> double {  // |number| as in proc(5), 1-based.
    double value = 0;
    size_t index = number - 3;
    return index < fields.size() && absl::SimpleAtod(fields[index], &value) ? value : 0;
  };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::Counter,
      (field(14) + field(15)) / ticks);
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge, field(23));
  add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
      field(24) * static_cast<double>(sysconf(_SC_PAGESIZE)));

  double boot_time = 0;
  std::ifstream proc_stat("/proc/stat");
  for (std::string line; std::getline(proc_stat, line);) {
    if (absl::StartsWith(line, "btime ")) absl::SimpleAtod(absl::string_view(line).substr(6), &boot_time);
  }
  add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
      boot_time + field(22) / ticks);

  std::error_code ec;
  double open_fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::end(it);
       it.increment(ec)) {
    ++open_fds;
  }
  add("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, open_fds);
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  add("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
      static_cast<double>(limit.rlim_cur));
  return out;
}

}  // namespace bpfproxy::metrics
