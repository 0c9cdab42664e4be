// ProxyHealthServer: kube-proxy's /healthz and /livez (--healthz-bind-address,
// default 0.0.0.0:10256), with its state machine and its exact answers.
//
// The proxy is healthy unless a change has been queued (a Service or
// EndpointSlice event arrived) and not been applied for at least
// |health_timeout| (kube-proxy: 2 × --iptables-sync-period). It is healthy
// while starting up and whenever nothing is pending. The node is eligible
// until its Node object says it is being deleted (deletionTimestamp) or
// carries the cluster autoscaler's ToBeDeletedByClusterAutoscaler taint;
// load balancers use /healthz to drain such nodes first.
//
//   /healthz  200 when healthy and eligible, else 503:
//             {"lastUpdated": "<time>","currentTime": "<time>", "nodeEligible": true}
//   /livez    200 when healthy (the node does not matter), else 503:
//             {"lastUpdated": "<time>","currentTime": "<time>"}
//
// Both with Content-Type application/json and X-Content-Type-Options nosniff.
// Times are printed as Go prints a time.Time ("2024-05-01 10:00:00.5 +0000
// UTC m=+12.000000001"); lastUpdated is the current time when healthy, as in
// kube-proxy, and the last successful sync otherwise. The spacing of the
// bodies is kube-proxy's, byte for byte.
#ifndef BPFPROXY_PROXY_HEALTHZ_H_
#define BPFPROXY_PROXY_HEALTHZ_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "k8s/clock.h"
#include "k8s/objects.h"
#include "proxy/http_server.h"

namespace bpfproxy {

// What the health check node ports need to know of the proxy's health.
class ProxyHealthChecker {
 public:
  virtual ~ProxyHealthChecker() = default;
  // kube-proxy's IsHealthy(): the proxy's state only, ignoring the node.
  virtual bool IsHealthy() const = 0;
};

struct ProxyHealthOptions {
  absl::Duration health_timeout = absl::Seconds(60);  // 2 × the sync period
  k8s::Clock* clock = nullptr;                        // nullptr: the real clock
  absl::TimeZone time_zone = absl::LocalTimeZone();   // Go's time.Local
  // Called for every answer: ("/healthz" or "/livez", 200 or 503), for
  // kubeproxy_proxy_healthz_total / kubeproxy_proxy_livez_total.
  std::function<void(absl::string_view path, int code)> on_answer;
};

class ProxyHealthServer : public ProxyHealthChecker {
 public:
  explicit ProxyHealthServer(ProxyHealthOptions options);

  // A change arrived at |when| and waits for a sync (kube-proxy's
  // QueuedUpdate): the oldest pending change is what can make us unhealthy.
  void QueuedUpdate(absl::Time when);

  // A sync that began at |started| applied everything it took, at
  // |finished| (kube-proxy's Updated). A change queued after |started| was
  // not part of it and stays pending, counted from |started|.
  void Updated(absl::Time started, absl::Time finished);

  // This node's Node object; nullopt: not seen yet (eligible, as kube-proxy
  // starts) or deleted after being seen (ineligible).
  void SyncNode(const std::optional<k8s::Node>& node);

  bool IsHealthy() const override;
  bool NodeEligible() const;

  http::Response Healthz();
  http::Response Livez();
  // "/healthz" and "/livez", for HttpServer::Listen.
  http::Routes routes();

 private:
  struct Health {
    bool healthy;
    std::optional<absl::Time> last_updated;
  };
  Health Evaluate(absl::Time now) const;
  http::Response Answer(absl::string_view path, bool healthy, std::string body);
  std::string TimeString(std::optional<absl::Time> time) const;

  const ProxyHealthOptions options_;
  k8s::Clock* const clock_;
  const absl::Time process_start_;  // Origin of Go's monotonic "m=+..." reading.

  mutable absl::Mutex mu_;
  std::optional<absl::Time> last_updated_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> oldest_pending_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> newest_queued_ ABSL_GUARDED_BY(mu_);
  bool node_seen_ ABSL_GUARDED_BY(mu_) = false;
  bool node_eligible_ ABSL_GUARDED_BY(mu_) = true;
};

// |time| the way Go's time.Time.String() prints it, in |zone|:
// "2006-01-02 15:04:05.999999999 -0700 MST", plus " m=+S.NNNNNNNNN" (the
// monotonic reading: |time| - |origin|) when |origin| is given. nullopt
// prints Go's zero time "0001-01-01 00:00:00 +0000 UTC".
std::string GoTimeString(std::optional<absl::Time> time, absl::TimeZone zone,
                         std::optional<absl::Time> origin = std::nullopt);

// |text| quoted as Go's %q does for the ASCII Kubernetes names use.
std::string GoQuote(absl::string_view text);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_HEALTHZ_H_
