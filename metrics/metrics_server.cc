#include "metrics/metrics_server.h"

#include <utility>

namespace bpfproxy::metrics {
namespace {

http::Response PlainText(std::string body) {
  return http::Response{.content_type = "text/plain; charset=utf-8",
                        .headers = {{"X-Content-Type-Options", "nosniff"}},
                        .body = std::move(body)};
}

}  // namespace

http::Routes MetricsRoutes(const ProxyMetrics* metrics, std::string proxy_mode) {
  http::Routes routes;
  routes.exact["/metrics"] = [metrics](const http::Request&) {
    return http::Response{.content_type = kExpositionContentType, .body = metrics->Render()};
  };
  // kube-proxy's healthz.InstallHandler: the process is up and serving.
  routes.exact["/healthz"] = [](const http::Request&) { return PlainText("ok"); };
  routes.exact["/healthz/ping"] = [](const http::Request&) { return PlainText("ok"); };
  routes.exact["/proxyMode"] = [mode = std::move(proxy_mode)](const http::Request&) { return PlainText(mode); };
  return routes;
}

}  // namespace bpfproxy::metrics
