#include "e2e/apiserver/http_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include <boost/asio/ssl/stream.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "e2e/apiserver/http_connection.h"

namespace bpfproxy::e2e::apiserver {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

absl::StatusOr<ssl::context> TlsContext(const ServerOptions& options) {
  ssl::context context(ssl::context::tls_server);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                      ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  context.use_certificate_chain_file(options.tls_cert_file, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS certificate ", options.tls_cert_file, ": ", ec.message()));
  context.use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS key ", options.tls_key_file, ": ", ec.message()));
  return context;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const ServerOptions& options, Handler handler) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a key");
  }
  int stop_fd = ::eventfd(0, EFD_CLOEXEC);
  if (stop_fd < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(handler), stop_fd));
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<ssl::context> tls = TlsContext(options);
    if (!tls.ok()) return tls.status();
    server->tls_.emplace(*std::move(tls));
  }
  if (absl::Status listening = server->Listen(options); !listening.ok()) return listening;
  server->accept_thread_ = std::thread(&HttpServer::AcceptLoop, server.get());
  return server;
}

HttpServer::HttpServer(Handler handler, int stop_fd)
    : handler_(std::move(handler)), acceptor_(io_), stop_fd_(stop_fd) {}

HttpServer::~HttpServer() {
  Stop();
  ::close(stop_fd_);
}

absl::Status HttpServer::Listen(const ServerOptions& options) {
  boost::system::error_code ec;
  net::ip::address address = net::ip::make_address(options.address, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("listen address \"", options.address, "\": ", ec.message()));
  tcp::endpoint endpoint(address, options.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (!ec) acceptor_.non_blocking(true, ec);  // poll() says when to accept
  if (ec) {
    return absl::UnavailableError(absl::StrCat("listen on ", options.address, ":", options.port, ": ", ec.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  host_ = address.is_v6() ? absl::StrCat("[", address.to_string(), "]") : address.to_string();
  return absl::OkStatus();
}

std::string HttpServer::url() const { return absl::StrCat(tls_ ? "https://" : "http://", host_, ":", port_); }

void HttpServer::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{acceptor_.native_handle(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    tcp::socket socket(io_);
    boost::system::error_code ec;
    acceptor_.accept(socket, ec);
    ReapFinished();
    if (!ec) StartConnection(std::move(socket));
  }
}

void HttpServer::StartConnection(tcp::socket socket) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // watch events go out as they happen
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  uint64_t id = next_id_++;
  Connection& connection = connections_[id];
  connection.fd = socket.native_handle();
  connection.thread = std::thread(&HttpServer::RunConnection, this, id, std::move(socket));
}

void HttpServer::RunConnection(uint64_t id, tcp::socket socket) {
  ConnectionHooks hooks{&handler_, socket.native_handle(), [this, id](Watcher* w) { return SetWatch(id, w); }};
  std::optional<ssl::stream<tcp::socket>> tls_stream;
  if (tls_) {
    tls_stream.emplace(std::move(socket), *tls_);
    boost::system::error_code ec;
    tls_stream->handshake(ssl::stream_base::server, ec);
    if (!ec) ServeConnection(*tls_stream, hooks);
  } else {
    ServeConnection(socket, hooks);
  }
  {
    // Let go of the fd before closing it, so Stop() never shuts down a
    // descriptor number that has been reused.
    absl::MutexLock lock(&mu_);
    connections_[id].fd = -1;
    connections_[id].done = true;
  }
  tcp::socket& raw = tls_stream ? tls_stream->next_layer() : socket;
  boost::system::error_code ignored;
  raw.shutdown(tcp::socket::shutdown_both, ignored);
  raw.close(ignored);
}

bool HttpServer::SetWatch(uint64_t id, Watcher* watch) {
  absl::MutexLock lock(&mu_);
  connections_[id].watch = watch;
  return !stopping_;
}

void HttpServer::ReapFinished() {
  std::vector<std::thread> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (!it->second.done) {
        ++it;
        continue;
      }
      finished.push_back(std::move(it->second.thread));
      it = connections_.erase(it);
    }
  }
  for (std::thread& thread : finished) thread.join();
}

void HttpServer::Stop() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [id, connection] : connections_) {
      if (connection.fd >= 0) ::shutdown(connection.fd, SHUT_RDWR);
      if (connection.watch != nullptr) connection.watch->Cut();
    }
  }
  uint64_t one = 1;
  if (::write(stop_fd_, &one, sizeof(one)) < 0) { /* the loop also ends on a poll error */ }
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, connection] : connections_) threads.push_back(std::move(connection.thread));
  }
  for (std::thread& thread : threads) thread.join();
  {
    absl::MutexLock lock(&mu_);
    connections_.clear();
  }
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

}  // namespace bpfproxy::e2e::apiserver
