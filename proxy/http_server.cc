#include "proxy/http_server.h"

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <exception>
#include <future>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "proxy/log.h"

namespace bpfproxy::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

using Strand = net::strand<net::io_context::executor_type>;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(absl::ToChronoNanoseconds(d));
}

net::ip::address ToAsio(const IpAddress& ip) {
  const auto& b = ip.bytes();
  if (ip.is_v4()) return net::ip::address_v4({b[12], b[13], b[14], b[15]});
  net::ip::address_v6::bytes_type bytes;
  std::copy(b.begin(), b.end(), bytes.begin());
  return net::ip::address_v6(bytes);
}

// IPv4 peers of a dual-stack socket show as v4-mapped IPv6; IpAddress
// keeps those as IPv4.
IpAddress FromAsio(const net::ip::address& address) {
  if (address.is_v4()) {
    const auto b = address.to_v4().to_bytes();
    std::array<uint8_t, 16> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, b[0], b[1], b[2], b[3]};
    return IpAddress::FromBytes(mapped);
  }
  const auto b = address.to_v6().to_bytes();
  std::array<uint8_t, 16> bytes;
  std::copy(b.begin(), b.end(), bytes.begin());
  return IpAddress::FromBytes(bytes);
}

std::optional<IpAddress> LocalAddressOf(tcp::socket& socket) {
  boost::system::error_code ec;
  tcp::endpoint local = socket.local_endpoint(ec);
  if (ec) return std::nullopt;
  return FromAsio(local.address());
}

std::string HttpDate() { return absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::Now(), absl::UTCTimeZone()); }

Response Dispatch(const Routes& routes, const Request& request) {
  auto it = routes.exact.find(request.path);
  const Handler* handler = it != routes.exact.end() ? &it->second : (routes.fallback ? &routes.fallback : nullptr);
  if (handler == nullptr) return NotFound();
  try {
    return (*handler)(request);
  } catch (const std::exception& e) {
    KLOG(ERROR) << "HTTP handler for " << request.path << " failed: " << e.what();
  } catch (...) {
    KLOG(ERROR) << "HTTP handler for " << request.path << " failed";
  }
  return Response{.status = 500, .body = "internal server error\n"};
}

class Listener;

// One accepted connection: read a request, answer it, and again while the
// client keeps the connection alive. Everything runs on the connection's
// strand; Shutdown() may be called from any thread.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Listener> listener, const ServerOptions& options)
      : stream_(std::move(socket)), listener_(std::move(listener)), options_(options) {}
  ~Session();

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }
  void Shutdown() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->CloseSocket(); });
  }

 private:
  void Read();
  void OnRead(beast::error_code ec);
  void Write(Response response, bool head, bool keep_alive, unsigned version);
  void OnWrite(beast::error_code ec, bool keep_alive);
  void CloseSocket() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<Listener> listener_;
  const ServerOptions& options_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<bhttp::response<bhttp::string_body>> response_;
};

// One listening socket with its routes and its open connections.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& io, Routes routes, const ServerOptions& options)
      : io_(io),
        strand_(net::make_strand(io)),
        acceptor_(strand_),
        retry_(strand_),
        routes_(std::move(routes)),
        options_(options) {}

  absl::Status Bind(const BindAddress& address);
  void StartAccepting() {
    net::dispatch(strand_, [self = shared_from_this()] { self->Accept(); });
  }

  // Closes the acceptor (on its strand, waiting for it) and every connection.
  void Close();

  uint16_t port() const { return port_; }
  const Routes& routes() const { return routes_; }
  void Forget(Session* session) {
    absl::MutexLock lock(&mu_);
    sessions_.erase(session);
  }

 private:
  absl::Status Open(const tcp::endpoint& endpoint, bool dual_stack);
  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);

  net::io_context& io_;
  Strand strand_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;  // After an accept error such as EMFILE.
  const Routes routes_;
  const ServerOptions& options_;
  uint16_t port_ = 0;
  std::string name_;
  bool closed_ = false;  // On the strand.

  absl::Mutex mu_;
  absl::flat_hash_map<Session*, std::weak_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
};

Session::~Session() { listener_->Forget(this); }

void Session::Read() {
  parser_.emplace();
  parser_->header_limit(options_.max_header_bytes);
  parser_->body_limit(options_.max_body_bytes);
  stream_.expires_after(ToChrono(options_.io_timeout));
  bhttp::async_read(stream_, buffer_, *parser_,
                    [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
}

void Session::OnRead(beast::error_code ec) {
  if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted) {
    CloseSocket();
    return;
  }
  if (ec) {
    // A malformed or oversized request: answer like Go does, then hang up.
    Write(Response{.status = 400, .body = "400 Bad Request"}, false, false, 11);
    return;
  }
  const auto& message = parser_->get();
  Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  request.path = request.target.substr(0, request.target.find('?'));
  request.local_address = LocalAddressOf(stream_.socket());
  Response response = Dispatch(listener_->routes(), request);
  Write(std::move(response), message.method() == bhttp::verb::head, message.keep_alive(), message.version());
}

void Session::Write(Response response, bool head, bool keep_alive, unsigned version) {
  response_ =
      std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(response.status), version);
  auto& message = *response_;
  message.set(bhttp::field::date, HttpDate());
  message.set(bhttp::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) message.set(name, value);
  message.keep_alive(keep_alive);
  if (head) {
    message.content_length(response.body.size());  // Body left out.
  } else {
    message.body() = std::move(response.body);
    message.prepare_payload();
  }
  stream_.expires_after(ToChrono(options_.io_timeout));
  bhttp::async_write(stream_, message, [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
    self->OnWrite(ec, keep_alive);
  });
}

void Session::OnWrite(beast::error_code ec, bool keep_alive) {
  if (ec || !keep_alive) {
    CloseSocket();
    return;
  }
  response_.reset();
  Read();
}

absl::Status Listener::Open(const tcp::endpoint& endpoint, bool dual_stack) {
  beast::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  // kUnimplemented: the kernel has no such address family.
  if (ec) return absl::UnimplementedError(ec.message());
  if (dual_stack) acceptor_.set_option(net::ip::v6_only(false), ec);
  // As Go does: a restarted daemon can bind while old connections linger.
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return absl::UnavailableError(ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  return absl::OkStatus();
}

absl::Status Listener::Bind(const BindAddress& address) {
  name_ = address.ToString();
  absl::Status status;
  if (address.wildcard) {
    // Go listens dual-stack on a wildcard address; so do we, unless the
    // kernel has no IPv6 (only then: a port taken on IPv6 is an error).
    status = Open(tcp::endpoint(net::ip::address_v6::any(), address.port), /*dual_stack=*/true);
    if (absl::IsUnimplemented(status)) status = Open(tcp::endpoint(net::ip::address_v4::any(), address.port), false);
  } else {
    status = Open(tcp::endpoint(ToAsio(address.ip), address.port), false);
  }
  if (!status.ok()) return absl::UnavailableError(absl::StrCat("listen on ", name_, ": ", status.message()));
  return absl::OkStatus();
}

void Listener::Accept() {
  if (closed_) return;
  acceptor_.async_accept(net::make_strand(io_), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    self->OnAccept(ec, std::move(socket));
  });
}

void Listener::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (closed_ || ec == net::error::operation_aborted) return;
  if (ec) {
    // E.g. out of file descriptors: try again shortly rather than spin.
    KLOG(WARNING) << "HTTP server on " << name_ << ": accept: " << ec.message();
    retry_.expires_after(std::chrono::milliseconds(100));
    retry_.async_wait([self = shared_from_this()](beast::error_code) { self->Accept(); });
    return;
  }
  std::shared_ptr<Session> session;
  {
    absl::MutexLock lock(&mu_);
    if (sessions_.size() < options_.max_connections_per_listener) {
      session = std::make_shared<Session>(std::move(socket), shared_from_this(), options_);
      sessions_.emplace(session.get(), session);
    }
  }
  if (session) {
    session->Start();
  } else {
    VLOG(2) << "HTTP server on " << name_ << ": too many connections, closing a new one";
  }
  Accept();
}

void Listener::Close() {
  std::promise<void> closed;
  net::post(strand_, [this, &closed] {
    closed_ = true;
    beast::error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  std::vector<std::shared_ptr<Session>> open;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [ptr, weak] : sessions_) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
  }
  for (auto& session : open) session->Shutdown();
}

}  // namespace

Response NotFound() {
  return Response{.status = 404, .headers = {{"X-Content-Type-Options", "nosniff"}}, .body = "404 page not found\n"};
}

std::string BindAddress::ToString() const {
  std::string host = ip.ToString();
  if (!ip.is_v4()) host = absl::StrCat("[", host, "]");
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<BindAddress> ParseBindAddress(absl::string_view text, uint16_t default_port) {
  auto error = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bind address \"", text, "\": ", why));
  };
  absl::string_view host = text;
  std::optional<absl::string_view> port_text;
  if (absl::ConsumePrefix(&host, "[")) {
    size_t close = host.find(']');
    if (close == absl::string_view::npos) return error("missing ']'");
    absl::string_view rest = host.substr(close + 1);
    host = host.substr(0, close);
    if (!rest.empty()) {
      if (!absl::ConsumePrefix(&rest, ":")) return error("expected ':' after ']'");
      port_text = rest;
    }
  } else if (size_t colon = host.rfind(':'); colon != absl::string_view::npos && host.find(':') == colon) {
    // One colon: IPv4 or empty host with a port. More: a bare IPv6 address.
    port_text = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  BindAddress address;
  if (host.empty()) {
    address.ip = *IpAddress::Parse("0.0.0.0");
  } else {
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(host);
    if (!ip.ok()) return error("not an IP address");
    address.ip = *ip;
  }
  address.wildcard = address.ip == *IpAddress::Parse("0.0.0.0") || address.ip == *IpAddress::Parse("::");
  address.port = default_port;
  if (port_text.has_value()) {
    uint32_t port = 0;
    if (port_text->empty() || !absl::SimpleAtoi(*port_text, &port) || port > 65535 ||
        port_text->find_first_not_of("0123456789") != absl::string_view::npos) {
      return error("bad port");
    }
    address.port = static_cast<uint16_t>(port);
  }
  return address;
}

class HttpServer::Impl {
 public:
  explicit Impl(const ServerOptions& options) : options_(options), work_(net::make_work_guard(io_)) {
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
  }
  ~Impl() { Stop(); }

  absl::StatusOr<ListenerId> Listen(const BindAddress& address, Routes routes) {
    auto listener = std::make_shared<Listener>(io_, std::move(routes), options_);
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::FailedPreconditionError("HTTP server stopped");
    if (absl::Status status = listener->Bind(address); !status.ok()) return status;
    listener->StartAccepting();
    ListenerId id = ++next_id_;
    listeners_.emplace(id, std::move(listener));
    return id;
  }

  void Close(ListenerId id) {
    std::shared_ptr<Listener> listener;
    {
      absl::MutexLock lock(&mu_);
      auto it = listeners_.find(id);
      if (it == listeners_.end()) return;
      listener = std::move(it->second);
      listeners_.erase(it);
    }
    listener->Close();
  }

  uint16_t port(ListenerId id) const {
    absl::MutexLock lock(&mu_);
    auto it = listeners_.find(id);
    return it == listeners_.end() ? 0 : it->second->port();
  }

  void Stop() {
    absl::flat_hash_map<ListenerId, std::shared_ptr<Listener>> listeners;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      stopped_ = true;
      listeners.swap(listeners_);
    }
    for (auto& [id, listener] : listeners) listener->Close();
    listeners.clear();
    // Every connection is closed and starts nothing new: run() returns once
    // their last handlers have completed.
    work_.reset();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  const ServerOptions options_;
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::vector<std::thread> threads_;

  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  ListenerId next_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<ListenerId, std::shared_ptr<Listener>> listeners_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(const ServerOptions& options) {
  if (options.threads < 1) return absl::InvalidArgumentError("HTTP server: threads must be at least 1");
  return std::unique_ptr<HttpServer>(new HttpServer(std::make_unique<Impl>(options)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<HttpServer::ListenerId> HttpServer::Listen(const BindAddress& address, Routes routes) {
  return impl_->Listen(address, std::move(routes));
}

absl::StatusOr<HttpServer::ListenerId> HttpServer::Listen(absl::string_view address, Routes routes) {
  absl::StatusOr<BindAddress> parsed = ParseBindAddress(address, 0);
  if (!parsed.ok()) return parsed.status();
  return Listen(*parsed, std::move(routes));
}

void HttpServer::Close(ListenerId id) { impl_->Close(id); }
uint16_t HttpServer::port(ListenerId id) const { return impl_->port(id); }
void HttpServer::Stop() { impl_->Stop(); }

}  // namespace bpfproxy::http
