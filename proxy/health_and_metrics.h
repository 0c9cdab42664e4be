// HealthAndMetrics: the daemon's one entry point to health and metrics.
// Start() brings up, on one small HTTP thread pool:
//   - kube-proxy's /healthz and /livez on --healthz-bind-address (healthz.h);
//   - the per-Service health check node ports (health_check_server.h);
//   - /metrics, /healthz, /proxyMode on --metrics-bind-address
//     (metrics/metrics_server.h, every metric in metrics/proxy_metrics.h).
// It is the SyncObserver the control plane calls, and hands out the API
// client's RequestObserver and the ServiceDirectory that names the
// datapath's connection counters.
//
// Binding follows kube-proxy: an empty address disables that server; a
// port that cannot be bound is logged and tried again every 5 seconds,
// unless bind_address_hard_fail (--bind-address-hard-fail) makes it fatal.
#ifndef BPFPROXY_PROXY_HEALTH_AND_METRICS_H_
#define BPFPROXY_PROXY_HEALTH_AND_METRICS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "k8s/api_client.h"
#include "k8s/clock.h"
#include "metrics/connection_stats.h"
#include "metrics/proxy_metrics.h"
#include "metrics/service_directory.h"
#include "proxy/health_check_server.h"
#include "proxy/healthz.h"
#include "proxy/http_server.h"
#include "proxy/ip_address.h"
#include "proxy/sync_observer.h"

namespace bpfproxy {

inline constexpr uint16_t kDefaultHealthzPort = 10256;
inline constexpr uint16_t kDefaultMetricsPort = 10249;

struct HealthAndMetricsConfig {
  std::string healthz_bind_address = "0.0.0.0:10256";    // "" disables /healthz and /livez
  std::string metrics_bind_address = "127.0.0.1:10249";  // "" disables /metrics
  bool bind_address_hard_fail = false;                   // A bind failure fails Start().
  absl::Duration sync_period = absl::Seconds(30);        // Unhealthy after 2x this pending.
  // Where health check node ports listen (this node's IPs matching
  // --nodeport-addresses); empty: every address.
  std::vector<IpAddress> node_port_addresses;
  // The pinned connection counters (<bpf-root>/maps/bpfp_stat_v1); "": none.
  std::string stats_map_pin;
  std::string proxy_mode = "ebpf";  // /proxyMode
  k8s::Clock* clock = nullptr;      // nullptr: the real clock
  absl::Duration bind_retry = absl::Seconds(5);
  int http_threads = 2;  // A slow scrape never delays a probe.
};

class HealthAndMetrics : public SyncObserver {
 public:
  // Errors: a malformed bind address; a bind failure with hard fail.
  static absl::StatusOr<std::unique_ptr<HealthAndMetrics>> Start(HealthAndMetricsConfig config);
  ~HealthAndMetrics() override;  // Stop()s.

  // SyncObserver.
  void OnChangeQueued(absl::Time when, size_t pending_service_changes, size_t pending_endpoint_changes) override;
  void OnSync(const SyncStats& stats) override;
  void OnNode(const std::optional<k8s::Node>& node) override;

  // The node's NodePort addresses changed: the health check node ports
  // move to |addresses| (only when --nodeport-addresses narrowed them;
  // empty means every address).
  void SetNodePortAddresses(std::vector<IpAddress> addresses);

  // For RestApiOptions::observer (rest_client_* metrics).
  k8s::RequestObserver request_observer() { return metrics_.request_observer(); }
  // The control plane records which Service each datapath ID stands for.
  metrics::ServiceDirectory& service_directory() { return directory_; }
  // To plug in reflector counters once they exist.
  metrics::ProxyMetrics& metrics() { return metrics_; }
  // What bpfproxy_map_entries/_capacity show. |source| is read at once and
  // then after every sync, on the sync thread, so it may read the writers
  // without locks; scrapes get the last reading and never touch them. It
  // must stay callable until the syncs stop.
  void SetMapUsageSource(metrics::MapUsageProvider source);
  const ProxyHealthServer& proxy_health() const { return *proxy_health_; }

  // The ports bound (the kernel's choice for port 0); 0: disabled or not
  // bound yet.
  uint16_t healthz_port() const;
  uint16_t metrics_port() const;

  // Closes every port and stops retrying. Idempotent.
  void Stop();

 private:
  struct Endpoint {
    const char* what;                          // "healthz", "metrics"
    std::optional<http::BindAddress> address;  // nullopt: disabled
    http::Routes routes;
    std::optional<http::HttpServer::ListenerId> listener;
  };
  explicit HealthAndMetrics(HealthAndMetricsConfig config);
  // Binds what is not bound yet; the first error, if any.
  absl::Status BindPending();
  void RetryLoop();
  uint16_t PortOf(const Endpoint& endpoint) const;

  const HealthAndMetricsConfig config_;
  metrics::ProxyMetrics metrics_;
  metrics::ServiceDirectory directory_;
  std::unique_ptr<metrics::BpfConnectionStats> connection_stats_;
  std::unique_ptr<ProxyHealthServer> proxy_health_;
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<HealthCheckServer> health_checks_;

  mutable absl::Mutex mu_;
  Endpoint healthz_ ABSL_GUARDED_BY(mu_);
  Endpoint metrics_endpoint_ ABSL_GUARDED_BY(mu_);
  absl::Mutex usage_mu_;
  metrics::MapUsageProvider map_usage_source_ ABSL_GUARDED_BY(usage_mu_);
  std::vector<metrics::MapUsage> map_usage_ ABSL_GUARDED_BY(usage_mu_);
  std::atomic<bool> stopped_{false};
  absl::Notification stop_;
  std::thread retry_thread_;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_HEALTH_AND_METRICS_H_
