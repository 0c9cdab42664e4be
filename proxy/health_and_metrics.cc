#include "proxy/health_and_metrics.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "metrics/metrics_server.h"
#include "proxy/log.h"

namespace bpfproxy {
namespace {

absl::StatusOr<std::optional<http::BindAddress>> ParseOptional(const std::string& text, uint16_t default_port,
                                                               absl::string_view flag) {
  if (text.empty()) return std::optional<http::BindAddress>();
  absl::StatusOr<http::BindAddress> address = http::ParseBindAddress(text, default_port);
  if (!address.ok()) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", address.status().message()));
  return std::optional<http::BindAddress>(*address);
}

}  // namespace

HealthAndMetrics::HealthAndMetrics(HealthAndMetricsConfig config) : config_(std::move(config)) {}

absl::StatusOr<std::unique_ptr<HealthAndMetrics>> HealthAndMetrics::Start(HealthAndMetricsConfig config) {
  absl::StatusOr<std::optional<http::BindAddress>> healthz =
      ParseOptional(config.healthz_bind_address, kDefaultHealthzPort, "healthz-bind-address");
  if (!healthz.ok()) return healthz.status();
  absl::StatusOr<std::optional<http::BindAddress>> metrics =
      ParseOptional(config.metrics_bind_address, kDefaultMetricsPort, "metrics-bind-address");
  if (!metrics.ok()) return metrics.status();

  std::unique_ptr<HealthAndMetrics> self(new HealthAndMetrics(std::move(config)));
  const HealthAndMetricsConfig& c = self->config_;
  absl::StatusOr<std::unique_ptr<http::HttpServer>> http = http::HttpServer::Create({.threads = c.http_threads});
  if (!http.ok()) return http.status();
  self->http_ = *std::move(http);

  metrics::ProxyMetrics* proxy_metrics = &self->metrics_;
  self->proxy_health_ = std::make_unique<ProxyHealthServer>(
      ProxyHealthOptions{.health_timeout = 2 * c.sync_period,
                         .clock = c.clock,
                         .on_answer = [proxy_metrics](absl::string_view path, int code) {
                           proxy_metrics->CountProxyHealthAnswer(path, code);
                         }});
  self->health_checks_ = std::make_unique<HealthCheckServer>(
      self->http_.get(), self->proxy_health_.get(), HealthCheckServerOptions{.addresses = c.node_port_addresses});
  if (!c.stats_map_pin.empty()) {
    self->connection_stats_ = metrics::BpfConnectionStats::FromPin(c.stats_map_pin);
    self->metrics_.SetConnectionSource(self->connection_stats_.get(), &self->directory_);
  }
  {
    absl::MutexLock lock(&self->mu_);
    self->healthz_ = Endpoint{"healthz", *healthz, self->proxy_health_->routes(), std::nullopt};
    self->metrics_endpoint_ =
        Endpoint{"metrics", *metrics, metrics::MetricsRoutes(&self->metrics_, c.proxy_mode), std::nullopt};
  }
  if (absl::Status status = self->BindPending(); !status.ok()) {
    if (c.bind_address_hard_fail) return status;
    self->retry_thread_ = std::thread([raw = self.get()] { raw->RetryLoop(); });
  }
  return self;
}

HealthAndMetrics::~HealthAndMetrics() { Stop(); }

absl::Status HealthAndMetrics::BindPending() {
  absl::Status first;
  absl::MutexLock lock(&mu_);
  for (Endpoint* endpoint : {&healthz_, &metrics_endpoint_}) {
    if (!endpoint->address.has_value() || endpoint->listener.has_value()) continue;
    absl::StatusOr<http::HttpServer::ListenerId> id = http_->Listen(*endpoint->address, endpoint->routes);
    if (id.ok()) {
      endpoint->listener = *id;
      KLOG(INFO) << "Serving " << endpoint->what << " on " << endpoint->address->ToString() << " (port "
                 << http_->port(*id) << ")";
    } else {
      KLOG(ERROR) << "Failed to start the " << endpoint->what << " server: " << id.status().message()
                  << (config_.bind_address_hard_fail ? "" : "; retrying");
      first.Update(absl::Status(id.status().code(), absl::StrCat(endpoint->what, " server: ", id.status().message())));
    }
  }
  return first;
}

void HealthAndMetrics::RetryLoop() {
  while (!stop_.WaitForNotificationWithTimeout(config_.bind_retry)) {
    if (BindPending().ok()) return;
  }
}

void HealthAndMetrics::OnChangeQueued(absl::Time when, size_t pending_service_changes,
                                      size_t pending_endpoint_changes) {
  proxy_health_->QueuedUpdate(when);
  metrics_.OnChangeQueued(when, pending_service_changes, pending_endpoint_changes);
}

void HealthAndMetrics::SetNodePortAddresses(std::vector<IpAddress> addresses) {
  if (health_checks_ != nullptr && !stopped_.load()) health_checks_->SetAddresses(std::move(addresses));
}

void HealthAndMetrics::SetMapUsageSource(metrics::MapUsageProvider source) {
  {
    absl::MutexLock lock(&usage_mu_);
    map_usage_source_ = std::move(source);
    map_usage_ = map_usage_source_ ? map_usage_source_() : std::vector<metrics::MapUsage>{};
  }
  metrics_.SetMapUsageProvider([this] {
    absl::MutexLock lock(&usage_mu_);
    return map_usage_;
  });
}

void HealthAndMetrics::OnSync(const SyncStats& stats) {
  for (const FrontendOwnerChange& change : stats.owner_changes) {
    if (change.name.empty()) {
      directory_.RemoveOwner(change.view, change.frontend);
    } else {
      directory_.SetOwner(change.view, change.frontend, {change.namespace_, change.name});
    }
  }
  {
    absl::MutexLock lock(&usage_mu_);
    if (map_usage_source_) map_usage_ = map_usage_source_();
  }
  metrics_.OnSync(stats);
  if (!stats.report.ran || stopped_.load()) return;
  // Like kube-proxy, only a sync that applied everything makes the proxy
  // healthy again: a write that keeps failing turns /healthz 503.
  if (stats.report.failures == 0) proxy_health_->Updated(stats.finished - stats.report.duration, stats.finished);
  health_checks_->Sync(stats.health_checks);
}

void HealthAndMetrics::OnNode(const std::optional<k8s::Node>& node) { proxy_health_->SyncNode(node); }

uint16_t HealthAndMetrics::PortOf(const Endpoint& endpoint) const {
  return endpoint.listener.has_value() ? http_->port(*endpoint.listener) : 0;
}

uint16_t HealthAndMetrics::healthz_port() const {
  absl::MutexLock lock(&mu_);
  return PortOf(healthz_);
}

uint16_t HealthAndMetrics::metrics_port() const {
  absl::MutexLock lock(&mu_);
  return PortOf(metrics_endpoint_);
}

void HealthAndMetrics::Stop() {
  if (stopped_.exchange(true)) return;
  stop_.Notify();
  if (retry_thread_.joinable()) retry_thread_.join();
  if (health_checks_) health_checks_->Sync({});
  if (http_) http_->Stop();
}

}  // namespace bpfproxy
