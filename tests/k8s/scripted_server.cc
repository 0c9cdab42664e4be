#include "tests/k8s/scripted_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace bpfproxy::k8s::testing {
namespace {

// Test helper: a failure here is a broken test environment.
void Check(bool ok, const char* what) {
  if (!ok) {
    perror(what);
    std::abort();
  }
}

const char* Reason(int code) {
  switch (code) {
    case 200: return "OK";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 410: return "Gone";
    case 500: return "Internal Server Error";
    default: return "Status";
  }
}

// Reads/writes one accepted socket, through TLS if |ssl| is set.
class SocketConnection : public ServerConnection {
 public:
  SocketConnection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  bool Send(absl::string_view bytes) override {
    while (!bytes.empty()) {
      ssize_t n = ssl_ != nullptr ? SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()))
                                  : send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(n);
    }
    return true;
  }
  // Some bytes, or 0 at the end / on error.
  ssize_t Read(char* buffer, size_t size) {
    ssize_t n = ssl_ != nullptr ? SSL_read(ssl_, buffer, static_cast<int>(size)) : recv(fd_, buffer, size, 0);
    return std::max<ssize_t>(n, 0);
  }
  void WaitUntilClientCloses() override {
    char buffer[4096];
    while (Read(buffer, sizeof(buffer)) > 0) {
    }
  }
  // The request head; nullopt if the client went away first.
  std::optional<ServerRequest> ReadRequest();

 private:
  int fd_;
  SSL* ssl_;
};

std::optional<ServerRequest> SocketConnection::ReadRequest() {
  std::string head;
  char buffer[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = Read(buffer, sizeof(buffer));
    if (n == 0 || head.size() > (1 << 20)) return std::nullopt;
    head.append(buffer, n);
  }
  head.resize(head.find("\r\n\r\n"));
  std::vector<std::string> lines = absl::StrSplit(head, "\r\n");
  std::vector<std::string> request_line = absl::StrSplit(lines[0], ' ');
  if (request_line.size() < 2) return std::nullopt;
  ServerRequest request{request_line[0], request_line[1], {}};
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    request.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  return request;
}

SSL_CTX* NewServerContext(const ServerTls& tls) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  Check(ctx != nullptr, "SSL_CTX_new");
  BIO* cert_bio = BIO_new_mem_buf(tls.cert_pem.data(), static_cast<int>(tls.cert_pem.size()));
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO* key_bio = BIO_new_mem_buf(tls.key_pem.data(), static_cast<int>(tls.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  Check(cert != nullptr && key != nullptr, "PEM");
  Check(SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1, "SSL_CTX_use");
  X509_free(cert);
  EVP_PKEY_free(key);
  BIO_free(cert_bio);
  BIO_free(key_bio);
  if (!tls.client_ca_pem.empty()) {
    BIO* ca_bio = BIO_new_mem_buf(tls.client_ca_pem.data(), static_cast<int>(tls.client_ca_pem.size()));
    X509* ca = PEM_read_bio_X509(ca_bio, nullptr, nullptr, nullptr);
    Check(ca != nullptr, "client CA");
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
    X509_free(ca);
    BIO_free(ca_bio);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

}  // namespace

bool ServerConnection::SendResponse(int code, absl::string_view body) {
  return Send(absl::StrCat("HTTP/1.1 ", code, " ", Reason(code), "\r\nContent-Type: application/json\r\n",
                           "Content-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body));
}

bool ServerConnection::StartChunked(int code) {
  return Send(absl::StrCat("HTTP/1.1 ", code, " ", Reason(code), "\r\nContent-Type: application/json\r\n",
                           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));
}

bool ServerConnection::SendChunk(absl::string_view data) {
  return Send(absl::StrCat(absl::Hex(data.size()), "\r\n", data, "\r\n"));
}

bool ServerConnection::EndChunked() { return Send("0\r\n\r\n"); }

std::unique_ptr<ScriptedServer> ScriptedServer::Start(Handler handler, std::optional<ServerTls> tls) {
  // A client that hangs up while we write must not kill the test.
  signal(SIGPIPE, SIG_IGN);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Check(fd >= 0, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Check(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0, "bind");
  Check(listen(fd, 16) == 0, "listen");
  socklen_t len = sizeof(addr);
  Check(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0, "getsockname");
  void* ctx = tls.has_value() ? NewServerContext(*tls) : nullptr;
  auto server = std::unique_ptr<ScriptedServer>(new ScriptedServer(std::move(handler), ctx, fd, ntohs(addr.sin_port)));
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

ScriptedServer::ScriptedServer(Handler handler, void* ssl_ctx, int listen_fd, int port)
    : handler_(std::move(handler)), ssl_ctx_(ssl_ctx), listen_fd_(listen_fd), port_(port) {
  Check(pipe2(wake_pipe_, O_CLOEXEC) == 0, "pipe2");
}

ScriptedServer::~ScriptedServer() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);  // unblocks reads in handlers
  }
  (void)!write(wake_pipe_[1], "x", 1);
  accept_thread_.join();
  {
    absl::MutexLock lock(&mu_);
    threads = std::move(threads_);
  }
  for (std::thread& thread : threads) thread.join();
  close(listen_fd_);
  close(wake_pipe_[0]);
  close(wake_pipe_[1]);
  SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
}

std::string ScriptedServer::url() const {
  return absl::StrCat(ssl_ctx_ != nullptr ? "https" : "http", "://127.0.0.1:", port_);
}

std::vector<ServerRequest> ScriptedServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void ScriptedServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 || (fds[1].revents & POLLIN)) return;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      close(fd);
      return;
    }
    open_fds_.push_back(fd);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void ScriptedServer::Serve(int fd) {
  SSL* ssl = nullptr;
  bool ok = true;
  if (ssl_ctx_ != nullptr) {
    ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
    SSL_set_fd(ssl, fd);
    ok = SSL_accept(ssl) == 1;  // fails for clients that reject our certificate
  }
  if (ok) {
    SocketConnection connection(fd, ssl);
    if (std::optional<ServerRequest> request = connection.ReadRequest(); request.has_value()) {
      {
        absl::MutexLock lock(&mu_);
        requests_.push_back(*request);
      }
      handler_(*request, connection);
    }
  }
  if (ssl != nullptr) {
    SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  absl::MutexLock lock(&mu_);
  open_fds_.erase(std::find(open_fds_.begin(), open_fds_.end(), fd));
  shutdown(fd, SHUT_RDWR);
  close(fd);
}

}  // namespace bpfproxy::k8s::testing
