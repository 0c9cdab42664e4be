#include "tests/e2e/apiserver_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace bpfproxy::e2e::apiserver::testing {

// One TCP (+TLS) connection with a receive buffer and deadlines. Plain
// sockets and OpenSSL without read-ahead, so that "nothing buffered in
// OpenSSL and nothing readable on the socket" really means no data yet.
class Connection {
 public:
  enum class Read { kOk, kEof, kTimeout };

  ~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (context_ != nullptr) SSL_CTX_free(context_);
    if (fd_ >= 0) close(fd_);
  }

  absl::Status Open(const ClientOptions& options) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(options.port);
    if (inet_pton(AF_INET, options.host.c_str(), &address.sin_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("not an IPv4 address: ", options.host));
    }
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      return absl::UnavailableError(absl::StrCat("connect: ", strerror(errno)));
    }
    return options.ca_file.empty() ? absl::OkStatus() : StartTls(options);
  }

  absl::Status Write(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ssl_ != nullptr ? SSL_write(ssl_, data.data() + done, static_cast<int>(data.size() - done))
                                  : send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return absl::UnavailableError("write failed");
      done += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  // Appends what arrives before |deadline| to buffer().
  Read ReadMore(absl::Time deadline) {
    if (ssl_ == nullptr || !SSL_has_pending(ssl_)) {
      pollfd pfd{fd_, POLLIN, 0};
      int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
      if (poll(&pfd, 1, static_cast<int>(ms)) == 0) return Read::kTimeout;
    }
    char chunk[16384];
    ssize_t n = ssl_ != nullptr ? SSL_read(ssl_, chunk, sizeof(chunk)) : recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return Read::kOk;
    }
    if (ssl_ != nullptr && SSL_get_error(ssl_, static_cast<int>(n)) == SSL_ERROR_WANT_READ) return Read::kOk;
    return Read::kEof;  // closed, reset, or TLS without close_notify: all an end of the stream
  }

  std::string& buffer() { return buffer_; }

 private:
  absl::Status StartTls(const ClientOptions& options) {
    context_ = SSL_CTX_new(TLS_client_method());
    if (context_ == nullptr || SSL_CTX_load_verify_locations(context_, options.ca_file.c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("cannot load CA ", options.ca_file));
    }
    SSL_CTX_set_verify(context_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(context_);
    // Verify the server certificate's IP SAN, as a Kubernetes client does.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), options.host.c_str());
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
      return absl::UnavailableError(absl::StrCat("TLS handshake: ", ERR_reason_error_string(ERR_get_error())));
    }
    return absl::OkStatus();
  }

  int fd_ = -1;
  SSL_CTX* context_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buffer_;
};

namespace {

enum class Chunk { kData, kLast, kIncomplete, kMalformed };

// Takes one complete chunk off the front of |in|, if there is one.
Chunk TakeChunk(std::string& in, std::string* payload) {
  size_t eol = in.find("\r\n");
  if (eol == std::string::npos) return Chunk::kIncomplete;
  absl::string_view size_text = absl::string_view(in).substr(0, eol);
  size_text = size_text.substr(0, size_text.find(';'));
  size_t size = 0;
  if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &size)) return Chunk::kMalformed;
  if (in.size() < eol + 2 + size + 2) return Chunk::kIncomplete;
  if (in.compare(eol + 2 + size, 2, "\r\n") != 0) return Chunk::kMalformed;
  *payload = in.substr(eol + 2, size);
  in.erase(0, eol + 2 + size + 2);
  return size == 0 ? Chunk::kLast : Chunk::kData;
}

absl::StatusOr<Response> ReadHead(Connection& connection, absl::Time deadline) {
  std::string& in = connection.buffer();
  size_t end;
  while ((end = in.find("\r\n\r\n")) == std::string::npos) {
    if (connection.ReadMore(deadline) != Connection::Read::kOk) return absl::UnavailableError("no response head");
  }
  std::vector<std::string> lines = absl::StrSplit(in.substr(0, end), "\r\n");
  in.erase(0, end + 4);
  Response response;
  std::vector<std::string> status = absl::StrSplit(lines[0], ' ');
  if (status.size() < 2 || !absl::SimpleAtoi(status[1], &response.code)) {
    return absl::DataLossError(absl::StrCat("bad status line: ", lines[0]));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    std::pair<std::string, std::string> header = absl::StrSplit(lines[i], absl::MaxSplits(':', 1));
    response.headers[absl::AsciiStrToLower(header.first)] = std::string(absl::StripAsciiWhitespace(header.second));
  }
  return response;
}

absl::Status ReadBody(Connection& connection, Response& response, absl::Time deadline) {
  std::string& in = connection.buffer();
  if (response.headers["transfer-encoding"] == "chunked") {
    while (true) {
      std::string payload;
      Chunk chunk = TakeChunk(in, &payload);
      if (chunk == Chunk::kLast) return absl::OkStatus();
      if (chunk == Chunk::kMalformed) return absl::DataLossError("malformed chunk");
      if (chunk == Chunk::kData) response.body += payload;
      if (chunk == Chunk::kIncomplete && connection.ReadMore(deadline) != Connection::Read::kOk) {
        return absl::DataLossError("chunked body ended early");
      }
    }
  }
  size_t length = 0;
  if (!absl::SimpleAtoi(response.headers["content-length"], &length)) return absl::DataLossError("no length");
  while (in.size() < length) {
    if (connection.ReadMore(deadline) != Connection::Read::kOk) return absl::DataLossError("body ended early");
  }
  response.body = in.substr(0, length);
  return absl::OkStatus();
}

}  // namespace

WatchStream::WatchStream(std::unique_ptr<Connection> connection, Response head)
    : connection_(std::move(connection)), head_(std::move(head)) {}

WatchStream::~WatchStream() = default;

bool WatchStream::NextChunk(absl::Time deadline, State* failure) {
  while (true) {
    std::string payload;
    switch (TakeChunk(connection_->buffer(), &payload)) {
      case Chunk::kData: lines_ += payload; return true;
      case Chunk::kLast: ended_ = true; return true;
      case Chunk::kMalformed: *failure = State::kAbruptEnd; return false;
      case Chunk::kIncomplete: break;
    }
    Connection::Read read = connection_->ReadMore(deadline);
    if (read == Connection::Read::kTimeout) { *failure = State::kTimeout; return false; }
    if (read == Connection::Read::kEof) { *failure = State::kAbruptEnd; return false; }
  }
}

WatchStream::Next WatchStream::Read(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (size_t eol = lines_.find('\n'); eol != std::string::npos) {
      nlohmann::json event = nlohmann::json::parse(lines_.substr(0, eol), nullptr, false);
      lines_.erase(0, eol + 1);
      return {State::kEvent, std::move(event)};
    }
    if (ended_) return {lines_.empty() ? State::kCleanEnd : State::kAbruptEnd, {}};
    State failure;
    if (!NextChunk(deadline, &failure)) return {failure, {}};
  }
}

std::vector<nlohmann::json> WatchStream::ReadAll(State* end, absl::Duration timeout) {
  std::vector<nlohmann::json> events;
  while (true) {
    Next next = Read(timeout);
    if (next.state != State::kEvent) {
      *end = next.state;
      return events;
    }
    events.push_back(std::move(next.event));
  }
}

absl::StatusOr<std::unique_ptr<Connection>> TestClient::Send(const std::string& method, const std::string& target,
                                                             const std::string& body) const {
  auto connection = std::make_unique<Connection>();
  if (absl::Status opened = connection->Open(options_); !opened.ok()) return opened;
  std::string request = absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: ", options_.host, "\r\n",
                                     "Connection: close\r\nAccept: application/json\r\n");
  if (!options_.token.empty()) absl::StrAppend(&request, "Authorization: Bearer ", options_.token, "\r\n");
  absl::StrAppend(&request, "Content-Length: ", body.size(), "\r\n\r\n", body);
  if (absl::Status written = connection->Write(request); !written.ok()) return written;
  return connection;
}

absl::StatusOr<Response> TestClient::Request(const std::string& method, const std::string& target,
                                             const std::string& body) const {
  absl::StatusOr<std::unique_ptr<Connection>> connection = Send(method, target, body);
  if (!connection.ok()) return connection.status();
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  absl::StatusOr<Response> response = ReadHead(**connection, deadline);
  if (!response.ok()) return response.status();
  if (absl::Status read = ReadBody(**connection, *response, deadline); !read.ok()) return read;
  return response;
}

absl::StatusOr<std::unique_ptr<WatchStream>> TestClient::Watch(const std::string& target) const {
  absl::StatusOr<std::unique_ptr<Connection>> connection = Send("GET", target, "");
  if (!connection.ok()) return connection.status();
  absl::StatusOr<Response> head = ReadHead(**connection, absl::Now() + absl::Seconds(10));
  if (!head.ok()) return head.status();
  if (head->headers["transfer-encoding"] != "chunked") {
    // Not a stream (e.g. an HTTP 410): read the whole body into the head.
    if (absl::Status read = ReadBody(**connection, *head, absl::Now() + absl::Seconds(10)); !read.ok()) return read;
  }
  return std::make_unique<WatchStream>(*std::move(connection), *std::move(head));
}

TestClient TestClient::WithToken(std::string token) const {
  ClientOptions options = options_;
  options.token = std::move(token);
  return TestClient(options);
}

}  // namespace bpfproxy::e2e::apiserver::testing
