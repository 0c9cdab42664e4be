// HttpServer: the small embedded HTTP/1.1 server behind /healthz, /metrics
// and the per-Service health check node ports.
//
// Why Boost.Asio/Beast (and not civetweb through prometheus-cpp-pull, nor
// cpprestsdk's http_listener): the daemon runs for months and these ports are
// probed by load balancers, kubelets and Prometheus, so the server must
//   - open and close listeners at run time (health check node ports follow
//     the Services), which civetweb only allows by restarting the server;
//   - bound every connection: a read/write deadline (a client that opens a
//     socket and says nothing is dropped: no slowloris), a header size limit,
//     a per-listener connection limit;
//   - run every listener on one small, fixed pool of threads, whatever the
//     number of Services with a health check port (not a thread per port);
//   - bind exactly the address given (IPv4, IPv6, wildcard dual-stack).
// Beast is header-only in Boost 1.74, already used by the API server
// emulator, and gives all of that with asynchronous I/O on one io_context.
//
// Semantics mirror Go's net/http as kube-proxy uses it: any method is handed
// to the handler (HEAD answers without a body), an unknown path answers 404
// "404 page not found\n", keep-alive is honoured, and a wildcard address
// (0.0.0.0 or ::) listens dual-stack, as Go's net.Listen("tcp", ...) does.
#ifndef BPFPROXY_PROXY_HTTP_SERVER_H_
#define BPFPROXY_PROXY_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <optional>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proxy/ip_address.h"

namespace bpfproxy::http {

struct Request {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // As sent: "/healthz?verbose=1".
  std::string path;    // The target without its query: "/healthz".
  // The address the client connected to (an IPv4 client of a dual-stack
  // listener shows as IPv4); nullopt if the socket could not tell.
  std::optional<IpAddress> local_address;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  // Extra headers, e.g. {"X-Content-Type-Options", "nosniff"}.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Called on one of the server's threads; may run concurrently with itself.
using Handler = std::function<Response(const Request&)>;

// Exact path -> handler (Go ServeMux patterns without a trailing slash); any
// other path goes to |fallback|, or answers 404 when there is none.
struct Routes {
  absl::btree_map<std::string, Handler> exact;
  Handler fallback;
};

// Go's 404 for a path no route serves.
Response NotFound();

struct ServerOptions {
  int threads = 1;
  // A connection must deliver a whole request (or take a written answer)
  // within this; an idle keep-alive connection is closed after it.
  absl::Duration io_timeout = absl::Seconds(30);
  // Connections beyond this, per listener, are closed at once.
  size_t max_connections_per_listener = 512;
  uint32_t max_header_bytes = 16 * 1024;
  uint64_t max_body_bytes = 64 * 1024;
};

// "IP:port" / "[IPv6]:port" / ":port" (all addresses) / a bare IP (then
// |default_port|); port 0 lets the kernel pick one. kube-proxy's forms of
// --healthz-bind-address and --metrics-bind-address.
struct BindAddress {
  IpAddress ip;  // Unspecified (0.0.0.0 or ::): every address.
  uint16_t port = 0;
  bool wildcard = false;
  std::string ToString() const;  // "0.0.0.0:10256", "[::1]:0"
};
absl::StatusOr<BindAddress> ParseBindAddress(absl::string_view text, uint16_t default_port);

class HttpServer {
 public:
  using ListenerId = uint64_t;

  // Starts the worker threads; listeners are added with Listen().
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(const ServerOptions& options = {});
  ~HttpServer();  // Stop()s.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds |address| and serves |routes| on it. A wildcard address listens on
  // IPv6 and IPv4 ([::] with IPV6_V6ONLY off), or on 0.0.0.0 where the
  // kernel has no IPv6. Errors name the address (e.g. "address in use").
  absl::StatusOr<ListenerId> Listen(const BindAddress& address, Routes routes);
  absl::StatusOr<ListenerId> Listen(absl::string_view address, Routes routes);

  // Stops accepting on |id| and closes its open connections; requests being
  // handled finish first. Unknown IDs are ignored. Returns once the listening
  // socket is closed, so the port can be bound again right away.
  void Close(ListenerId id);

  // The port |id| listens on (the kernel's choice for port 0); 0 if unknown.
  uint16_t port(ListenerId id) const;

  // Closes every listener and connection and joins the threads. Idempotent.
  void Stop();

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bpfproxy::http

#endif  // BPFPROXY_PROXY_HTTP_SERVER_H_
