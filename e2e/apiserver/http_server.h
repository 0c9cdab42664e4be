// A small HTTP/1.1 server (Boost.Beast, optionally TLS through asio::ssl)
// that hands each request to a Handler and streams watch responses with
// chunked encoding, one chunk per event, written as soon as it is queued.
//
// One thread per connection, blocking I/O: connections are few (tests, a
// demo), and a blocked read or write can always be ended from outside by
// shutting the socket down, which is how Stop() and cut watches work.
// It listens only on the address it is given.
#ifndef BPFPROXY_E2E_APISERVER_HTTP_SERVER_H_
#define BPFPROXY_E2E_APISERVER_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "e2e/apiserver/handler.h"

namespace bpfproxy::e2e::apiserver {

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: the kernel picks one; see HttpServer::port()
  // PEM files; both empty: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const ServerOptions& options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Closes the listener and every connection (open watches end abruptly)
  // and joins all threads. Idempotent.
  void Stop();

  uint16_t port() const { return port_; }
  // "https://127.0.0.1:PORT" ("http://..." without TLS; IPv6 in brackets).
  std::string url() const;

 private:
  struct Connection {
    int fd = -1;  // -1 once the connection thread has let go of the socket
    std::thread thread;
    bool done = false;
    Watcher* watch = nullptr;  // the watch being streamed, to cut on Stop
  };
  HttpServer(Handler handler, int stop_fd);
  absl::Status Listen(const ServerOptions& options);
  void AcceptLoop();
  void StartConnection(boost::asio::ip::tcp::socket socket);
  void RunConnection(uint64_t id, boost::asio::ip::tcp::socket socket);
  void ReapFinished();
  // Registers the watch a connection streams; false when stopping.
  bool SetWatch(uint64_t id, Watcher* watch);

  Handler handler_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::optional<boost::asio::ssl::context> tls_;
  uint16_t port_ = 0;
  std::string host_;
  const int stop_fd_;  // eventfd: wakes the accept loop
  std::thread accept_thread_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::btree_map<uint64_t, Connection> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_HTTP_SERVER_H_
