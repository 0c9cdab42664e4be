// ScriptedServer: a loopback HTTP(S) server for client tests whose every
// answer is written by the test, byte for byte when needed: chunks that
// split lines, streams held open, connections dropped mid-body. One request
// per connection ("Connection: close").
#ifndef BPFPROXY_TESTS_K8S_SCRIPTED_SERVER_H_
#define BPFPROXY_TESTS_K8S_SCRIPTED_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace bpfproxy::k8s::testing {

struct ServerRequest {
  std::string method;
  std::string target;                          // path?query, as sent
  std::map<std::string, std::string> headers;  // names lowercased
};

class ServerConnection {
 public:
  virtual ~ServerConnection() = default;
  // False once the client is gone.
  virtual bool Send(absl::string_view bytes) = 0;
  // Blocks until the client closes the connection or the server stops.
  virtual void WaitUntilClientCloses() = 0;

  bool SendResponse(int code, absl::string_view body);
  bool StartChunked(int code = 200);
  bool SendChunk(absl::string_view data);
  bool EndChunked();
};

struct ServerTls {
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;  // if set, clients must present a certificate it signed
};

class ScriptedServer {
 public:
  using Handler = std::function<void(const ServerRequest&, ServerConnection&)>;

  // Listens on 127.0.0.1, a free port. Handlers run on a thread per connection.
  static std::unique_ptr<ScriptedServer> Start(Handler handler, std::optional<ServerTls> tls = std::nullopt);
  ~ScriptedServer();  // unblocks handlers waiting for the client, joins

  std::string url() const;
  std::vector<ServerRequest> requests() const;

 private:
  ScriptedServer(Handler handler, void* ssl_ctx, int listen_fd, int port);
  void AcceptLoop();
  void Serve(int fd);

  const Handler handler_;
  void* const ssl_ctx_;  // SSL_CTX*, null for plain HTTP
  const int listen_fd_;
  const int port_;
  int wake_pipe_[2] = {-1, -1};
  std::thread accept_thread_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<int> open_fds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<ServerRequest> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bpfproxy::k8s::testing

#endif  // BPFPROXY_TESTS_K8S_SCRIPTED_SERVER_H_
