// HealthCheckServer: the per-Service health check node ports
// (spec.healthCheckNodePort of a LoadBalancer Service with
// externalTrafficPolicy: Local), as kube-proxy's ServiceHealthServer serves
// them. Cloud load balancers probe the port on every node and send traffic
// only to nodes that answer 200.
//
// Any path answers 200 when the Service has local endpoints on this node and
// the proxy is healthy, else 503, with kube-proxy's tab-indented body:
//
//   {
//   	"service": {
//   		"namespace": "ns",
//   		"name": "svc"
//   	},
//   	"localEndpoints": 1,
//   	"serviceProxyHealthy": true
//   }
//
// (Content-Type application/json, X-Content-Type-Options nosniff, no final
// newline.) Sync() follows the Services: ports of new Services are opened,
// ports of Services that left (or changed port) are closed, counts are
// updated in place. A port that cannot be bound (another process has it) is
// logged and tried again on the next Sync(); it never stops the daemon.
#ifndef BPFPROXY_PROXY_HEALTH_CHECK_SERVER_H_
#define BPFPROXY_PROXY_HEALTH_CHECK_SERVER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/synchronization/mutex.h"
#include "proxy/healthz.h"
#include "proxy/http_server.h"
#include "proxy/ip_address.h"
#include "proxy/sync_observer.h"

namespace bpfproxy {

struct HealthCheckServerOptions {
  // The node-port addresses to listen on (--nodeport-addresses resolved to
  // this node's IPs). Empty: every address, dual-stack — kube-proxy's choice
  // when --nodeport-addresses is unset.
  std::vector<IpAddress> addresses;
};

class HealthCheckServer {
 public:
  // |http| and |proxy_health| must outlive this object.
  HealthCheckServer(http::HttpServer* http, const ProxyHealthChecker* proxy_health,
                    HealthCheckServerOptions options = {});
  ~HealthCheckServer();  // Closes every port.
  HealthCheckServer(const HealthCheckServer&) = delete;
  HealthCheckServer& operator=(const HealthCheckServer&) = delete;

  // Makes the served set exactly |services| (every Service with a health
  // check node port and its local endpoint count). Called after each sync.
  void Sync(const std::vector<HealthCheckService>& services);

  // The node's NodePort addresses changed: every port listens on
  // |addresses| from now on (empty: every address).
  void SetAddresses(std::vector<IpAddress> addresses);

  // "ns/name" -> port, for the Services whose port is open (tests, logs).
  absl::btree_map<std::string, uint16_t> OpenPorts() const;

  // The answer for |key| ("ns/name") to a probe that arrived over IPv6
  // (|ipv6|) or IPv4, as the port serves it.
  http::Response Answer(const std::string& key, bool ipv6 = false) const;

 private:
  struct Instance {
    HealthCheckService service;
    // By the address bound (0.0.0.0 for the dual-stack wildcard).
    absl::btree_map<IpAddress, http::HttpServer::ListenerId> listeners;
    // The addresses changed and binding a new one failed: still on the
    // old ones, tried again at the next Sync().
    bool reopen = false;
    uint16_t port() const { return service.node_port; }
  };
  void SyncLocked(const std::vector<HealthCheckService>& services) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  // Moves the instances marked |reopen| to the configured addresses.
  void ReopenMoved() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  // Makes |instance| listen on exactly the configured addresses: binds the
  // ones it lacks, then closes the ones no longer configured. All or
  // nothing: if a bind fails, what this call opened is closed and the
  // listeners are as they were.
  absl::Status Open(const std::string& key, Instance& instance) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  void CloseListeners(Instance& instance);
  // Logs a bind failure once per (Service, port, error), then at V(2).
  void ReportOpenFailure(const std::string& key, uint16_t port, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);

  http::HttpServer* const http_;
  const ProxyHealthChecker* const proxy_health_;
  // Serialises Sync() (the proxier's thread) against SetAddresses() and
  // the destructor.
  absl::Mutex sync_mu_;
  HealthCheckServerOptions options_ ABSL_GUARDED_BY(sync_mu_);
  // Read by the HTTP threads: kept apart from sync_mu_ so that answers
  // never wait for a bind.
  mutable absl::Mutex mu_;
  absl::btree_map<std::string, Instance> services_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<std::string, std::string> last_failure_ ABSL_GUARDED_BY(sync_mu_);
};

// kube-proxy's body for one Service (see above).
std::string HealthCheckBody(absl::string_view namespace_, absl::string_view name, size_t local_endpoints,
                            bool proxy_healthy);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_HEALTH_CHECK_SERVER_H_
