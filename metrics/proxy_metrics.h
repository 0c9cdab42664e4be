// Every metric bpfproxy exports, defined in one place (proxy_metrics.cc).
//
// kube-proxy's own, with its names, types, labels, help texts and buckets,
// so that dashboards and alerts written for kube-proxy keep working:
//   kubeproxy_sync_proxy_rules_duration_seconds           histogram
//   kubeproxy_sync_full_proxy_rules_duration_seconds      histogram
//   kubeproxy_sync_partial_proxy_rules_duration_seconds   histogram
//   kubeproxy_network_programming_duration_seconds        histogram
//   kubeproxy_sync_proxy_rules_last_timestamp_seconds     gauge
//   kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds gauge
//   kubeproxy_sync_proxy_rules_{endpoint,service}_changes_total   counter
//   kubeproxy_sync_proxy_rules_{endpoint,service}_changes_pending gauge
//   kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy} gauge
//   kubeproxy_proxy_healthz_total{code}, kubeproxy_proxy_livez_total{code} counter
//   rest_client_requests_total{code,host,method}          counter
//   rest_client_request_duration_seconds{host,verb}       histogram
//   process_* (cpu, memory, fds, start time), as Go's process collector
// and bpfproxy's own, prefixed bpfproxy_:
//   bpfproxy_map_entries{map}, bpfproxy_map_capacity{map}  gauge
//   bpfproxy_map_write_failures_total                      counter
//   bpfproxy_reflector_{relists,reconnects,list_errors,decode_errors,watch_events}_total{resource} counter
//   bpfproxy_service_connections_total{namespace,service,frontend,path} counter
// The bpfproxy_map_*, bpfproxy_reflector_* and bpfproxy_service_connections_*
// values are read when scraped, from sources the daemon plugs in; nothing
// walks the load-balancing maps on a scrape.
#ifndef BPFPROXY_METRICS_PROXY_METRICS_H_
#define BPFPROXY_METRICS_PROXY_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "k8s/api_client.h"
#include "k8s/reflector.h"
#include "metrics/connection_stats.h"
#include "metrics/service_directory.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "proxy/sync_observer.h"

namespace bpfproxy::metrics {

// One BPF map's fill, as the daemon's reconcilers count it.
struct MapUsage {
  std::string map;  // e.g. "bpfp_svc_v1"
  uint64_t entries = 0;
  uint64_t capacity = 0;  // max_entries
};
// Called on every scrape, from an HTTP thread: must be cheap and thread-safe.
using MapUsageProvider = std::function<std::vector<MapUsage>()>;
// Resource name ("services", "endpointslices", "nodes") -> its reflector's counters.
using ReflectorStatsProvider = std::function<std::vector<std::pair<std::string, k8s::ReflectorStats>>()>;

// Buckets, exactly kube-proxy's.
std::vector<double> SyncDurationBuckets();        // 0.001 * 2^n, n = 0..14
std::vector<double> NetworkProgrammingBuckets();  // 0, 0.25, 0.5, 1..59, 60..115 by 5, 120..300 by 30
std::vector<double> RestClientDurationBuckets();  // client-go's

class ProxyMetrics : public prometheus::Collectable {
 public:
  ProxyMetrics();
  ~ProxyMetrics() override;

  // --- Fed by the control plane (SyncObserver calls) ---
  void OnChangeQueued(absl::Time when, size_t pending_service_changes, size_t pending_endpoint_changes);
  void OnSync(const SyncStats& stats);

  // --- Fed by the servers and the API client ---
  // (path "/healthz" or "/livez", HTTP code).
  void CountProxyHealthAnswer(absl::string_view path, int code);
  // k8s::RequestObserver: code 0 (no answer) counts as "<error>", as client-go does.
  void ObserveRequest(absl::string_view method, absl::string_view host, int code, absl::Duration duration);
  k8s::RequestObserver request_observer();

  // --- Read on every scrape; each optional, settable at any time ---
  void SetMapUsageProvider(MapUsageProvider provider);
  void SetReflectorStatsProvider(ReflectorStatsProvider provider);
  // Both must outlive this object (or be replaced first).
  void SetConnectionSource(ConnectionStatsSource* source, const ServiceDirectory* directory);

  // Every family, the registered ones and those read at scrape time.
  std::vector<prometheus::MetricFamily> Collect() const override;
  // The text exposition format (version 0.0.4), for /metrics.
  std::string Render() const;

 private:
  void CollectMapUsage(std::vector<prometheus::MetricFamily>& out) const;
  void CollectReflectors(std::vector<prometheus::MetricFamily>& out) const;
  void CollectConnections(std::vector<prometheus::MetricFamily>& out) const;

  std::shared_ptr<prometheus::Registry> registry_;
  // kube-proxy's.
  prometheus::Histogram* sync_duration_;
  prometheus::Histogram* sync_full_duration_;
  prometheus::Histogram* sync_partial_duration_;
  prometheus::Histogram* network_programming_;
  prometheus::Gauge* last_sync_timestamp_;
  prometheus::Gauge* last_queued_timestamp_;
  prometheus::Counter* endpoint_changes_total_;
  prometheus::Gauge* endpoint_changes_pending_;
  prometheus::Counter* service_changes_total_;
  prometheus::Gauge* service_changes_pending_;
  prometheus::Gauge* no_local_internal_;
  prometheus::Gauge* no_local_external_;
  prometheus::Family<prometheus::Counter>* healthz_total_;
  prometheus::Family<prometheus::Counter>* livez_total_;
  prometheus::Family<prometheus::Counter>* rest_requests_;
  prometheus::Family<prometheus::Histogram>* rest_duration_;
  // bpfproxy's.
  prometheus::Counter* map_write_failures_;

  mutable absl::Mutex mu_;
  // The newest change queued, to tell whether a sync took everything pending.
  absl::Time last_queued_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  MapUsageProvider map_usage_ ABSL_GUARDED_BY(mu_);
  ReflectorStatsProvider reflector_stats_ ABSL_GUARDED_BY(mu_);
  ConnectionStatsSource* connections_ ABSL_GUARDED_BY(mu_) = nullptr;
  const ServiceDirectory* directory_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// The process_* families Go's process collector exports, from /proc/self.
std::vector<prometheus::MetricFamily> CollectProcessMetrics();

}  // namespace bpfproxy::metrics

#endif  // BPFPROXY_METRICS_PROXY_METRICS_H_
