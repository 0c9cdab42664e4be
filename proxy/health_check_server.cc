#include "proxy/health_check_server.h"

#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "proxy/log.h"

namespace bpfproxy {
namespace {

std::string KeyOf(absl::string_view namespace_, absl::string_view name) { return absl::StrCat(namespace_, "/", name); }

}  // namespace

std::string HealthCheckBody(absl::string_view namespace_, absl::string_view name, size_t local_endpoints,
                            bool proxy_healthy) {
  // kube-proxy prints a dedented template: tabs, and no final newline.
  return absl::StrCat("{\n",                                                                  //
                      "\t\"service\": {\n",                                                   //
                      "\t\t\"namespace\": ", GoQuote(namespace_), ",\n",                      //
                      "\t\t\"name\": ", GoQuote(name), "\n",                                  //
                      "\t},\n",                                                               //
                      "\t\"localEndpoints\": ", local_endpoints, ",\n",                       //
                      "\t\"serviceProxyHealthy\": ", proxy_healthy ? "true" : "false", "\n",  //
                      "}");
}

HealthCheckServer::HealthCheckServer(http::HttpServer* http, const ProxyHealthChecker* proxy_health,
                                     HealthCheckServerOptions options)
    : http_(http), proxy_health_(proxy_health), options_(std::move(options)) {}

HealthCheckServer::~HealthCheckServer() { Sync({}); }

http::Response HealthCheckServer::Answer(const std::string& key, bool ipv6) const {
  std::string namespace_, name;
  size_t count = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = services_.find(key);
    if (it != services_.end()) {
      namespace_ = it->second.service.namespace_;
      name = it->second.service.name;
      count = it->second.service.LocalEndpointsFor(ipv6);
    } else {
      // The port is closing: tell the load balancer not to use this node.
      size_t slash = key.find('/');
      namespace_ = key.substr(0, slash);
      name = slash == std::string::npos ? "" : key.substr(slash + 1);
    }
  }
  bool healthy = proxy_health_->IsHealthy();
  return http::Response{.status = count != 0 && healthy ? 200 : 503,
                        .content_type = "application/json",
                        .headers = {{"X-Content-Type-Options", "nosniff"}},
                        .body = HealthCheckBody(namespace_, name, count, healthy)};
}

void HealthCheckServer::Sync(const std::vector<HealthCheckService>& services) {
  absl::MutexLock sync_lock(&sync_mu_);
  SyncLocked(services);
}

void HealthCheckServer::SetAddresses(std::vector<IpAddress> addresses) {
  absl::MutexLock sync_lock(&sync_mu_);
  if (addresses == options_.addresses) return;
  options_.addresses = std::move(addresses);
  // New addresses are bound before old ones close, and addresses that stay
  // keep their listeners: probes are never refused on the way.
  {
    absl::MutexLock lock(&mu_);
    for (auto& [key, instance] : services_) instance.reopen = true;
  }
  ReopenMoved();
}

void HealthCheckServer::ReopenMoved() {
  std::vector<std::pair<std::string, Instance>> moved;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, instance] : services_) {
      if (instance.reopen) moved.emplace_back(key, instance);
    }
  }
  for (auto& [key, instance] : moved) {
    absl::Status status = Open(key, instance);
    absl::MutexLock lock(&mu_);
    auto it = services_.find(key);
    if (it == services_.end()) continue;
    it->second.listeners = std::move(instance.listeners);
    it->second.reopen = !status.ok();
  }
}

void HealthCheckServer::SyncLocked(const std::vector<HealthCheckService>& services) {
  absl::btree_map<std::string, const HealthCheckService*> wanted;
  for (const HealthCheckService& service : services) {
    if (service.node_port != 0) wanted[KeyOf(service.namespace_, service.name)] = &service;
  }

  // Close what left or moved, outside mu_: a closing listener's requests in
  // flight still read the state.
  std::vector<std::pair<std::string, Instance>> closing;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = services_.begin(); it != services_.end();) {
      auto want = wanted.find(it->first);
      if (want == wanted.end() || want->second->node_port != it->second.port()) {
        closing.emplace_back(it->first, std::move(it->second));
        it = services_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [key, instance] : closing) {
    VLOG(2) << "Closing health check of Service " << key << " on port " << instance.port();
    CloseListeners(instance);
  }

  for (const auto& [key, service] : wanted) {
    {
      absl::MutexLock lock(&mu_);
      auto it = services_.find(key);
      if (it != services_.end()) {
        it->second.service = *service;
        continue;
      }
      services_[key] = Instance{*service, {}, false};
    }
    Instance opened{*service, {}, false};
    absl::Status status = Open(key, opened);
    absl::MutexLock lock(&mu_);
    if (status.ok()) {
      services_[key].listeners = std::move(opened.listeners);
    } else {
      services_.erase(key);  // Tried again on the next Sync().
    }
  }
  ReopenMoved();
  for (auto it = last_failure_.begin(); it != last_failure_.end();) {
    it = wanted.contains(it->first) ? std::next(it) : last_failure_.erase(it);
  }
}

absl::Status HealthCheckServer::Open(const std::string& key, Instance& instance) {
  std::vector<http::BindAddress> addresses;
  if (options_.addresses.empty()) {
    addresses.push_back(http::BindAddress{*IpAddress::Parse("0.0.0.0"), instance.port(), /*wildcard=*/true});
  }
  for (const IpAddress& ip : options_.addresses) addresses.push_back(http::BindAddress{ip, instance.port(), false});

  http::Routes routes;
  routes.fallback = [this, key](const http::Request& request) {
    return Answer(key, request.local_address.has_value() && !request.local_address->is_v4());
  };
  std::vector<IpAddress> opened;
  for (const http::BindAddress& address : addresses) {
    if (instance.listeners.contains(address.ip)) continue;  // Already there.
    absl::StatusOr<http::HttpServer::ListenerId> id = http_->Listen(address, routes);
    if (!id.ok()) {
      for (const IpAddress& ip : opened) {  // All or nothing: the next Sync() retries.
        http_->Close(instance.listeners.at(ip));
        instance.listeners.erase(ip);
      }
      ReportOpenFailure(key, instance.port(), id.status());
      return id.status();
    }
    instance.listeners.emplace(address.ip, *id);
    opened.push_back(address.ip);
  }
  // Then the addresses no longer configured.
  for (auto it = instance.listeners.begin(); it != instance.listeners.end();) {
    const bool wanted = absl::c_any_of(addresses, [&](const http::BindAddress& a) { return a.ip == it->first; });
    if (wanted) {
      ++it;
      continue;
    }
    http_->Close(it->second);
    it = instance.listeners.erase(it);
  }
  if (last_failure_.erase(key) > 0) {
    KLOG(INFO) << "Health check of Service " << key << " is now open on port " << instance.port();
  } else {
    VLOG(2) << "Opened health check of Service " << key << " on port " << instance.port();
  }
  return absl::OkStatus();
}

void HealthCheckServer::CloseListeners(Instance& instance) {
  for (const auto& [ip, id] : instance.listeners) http_->Close(id);
  instance.listeners.clear();
}

void HealthCheckServer::ReportOpenFailure(const std::string& key, uint16_t port, const absl::Status& status) {
  std::string what = absl::StrCat(port, ": ", status.message());
  auto [it, inserted] = last_failure_.try_emplace(key, what);
  if (inserted || it->second != what) {
    it->second = what;
    KLOG(ERROR) << "Failed to start health check of Service " << key << " on port " << port << ": " << status.message()
                << " (retried on every sync)";
  } else {
    VLOG(2) << "Health check of Service " << key << " on port " << port << " still fails: " << status.message();
  }
}

absl::btree_map<std::string, uint16_t> HealthCheckServer::OpenPorts() const {
  absl::MutexLock lock(&mu_);
  absl::btree_map<std::string, uint16_t> ports;
  for (const auto& [key, instance] : services_) {
    if (!instance.listeners.empty()) ports[key] = instance.port();
  }
  return ports;
}

}  // namespace bpfproxy
