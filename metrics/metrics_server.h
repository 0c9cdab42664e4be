// The routes kube-proxy serves on --metrics-bind-address (default
// 127.0.0.1:10249), for HttpServer::Listen:
//   /metrics      every metric (proxy_metrics.h), text exposition format 0.0.4
//   /healthz      "ok" (also /healthz/ping): the process serves HTTP
//   /proxyMode    the proxy mode as text: "ebpf" (kube-proxy answers
//                 "iptables", "ipvs" or "nftables"; tools that read it to
//                 tell the datapath learn that bpfproxy's is eBPF)
#ifndef BPFPROXY_METRICS_METRICS_SERVER_H_
#define BPFPROXY_METRICS_METRICS_SERVER_H_

#include <string>

#include "metrics/proxy_metrics.h"
#include "proxy/http_server.h"

namespace bpfproxy::metrics {

inline constexpr char kProxyMode[] = "ebpf";
inline constexpr char kExpositionContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// |metrics| must outlive the listener the routes are served on.
http::Routes MetricsRoutes(const ProxyMetrics* metrics, std::string proxy_mode = kProxyMode);

}  // namespace bpfproxy::metrics

#endif  // BPFPROXY_METRICS_METRICS_SERVER_H_
