#include "tests/proxy/http_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bpfproxy::testing_util {
namespace {

constexpr int kIoTimeoutMs = 10000;

absl::Status Errno(absl::string_view what) { return absl::UnavailableError(absl::StrCat(what, ": ", strerror(errno))); }

// Fills |storage| for |host|:|port|; returns the address length.
absl::StatusOr<socklen_t> SockAddr(const std::string& host, uint16_t port, sockaddr_storage& storage) {
  memset(&storage, 0, sizeof(storage));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return sizeof(sockaddr_in6);
  }
  return absl::InvalidArgumentError(absl::StrCat("not an IP: ", host));
}

}  // namespace

absl::StatusOr<TestConnection> TestConnection::Connect(const std::string& host, uint16_t port) {
  sockaddr_storage addr;
  absl::StatusOr<socklen_t> len = SockAddr(host, port, addr);
  if (!len.ok()) return len.status();
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  TestConnection connection(fd);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), *len) != 0) {
    return Errno(absl::StrCat("connect ", host, ":", port));
  }
  return connection;
}

TestConnection::~TestConnection() {
  if (fd_ >= 0) close(fd_);
}

absl::Status TestConnection::Send(absl::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) return Errno("send");
    bytes.remove_prefix(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TestConnection::ReadUntil(absl::string_view marker) {
  char chunk[4096];
  while (buffered_.find(marker.data(), 0, marker.size()) == std::string::npos) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, kIoTimeoutMs) != 1) return absl::DeadlineExceededError("no answer");
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n < 0) return Errno("recv");
    if (n == 0) return absl::UnavailableError(absl::StrCat("connection closed; got: ", buffered_));
    buffered_.append(chunk, n);
  }
  size_t end = buffered_.find(marker.data(), 0, marker.size()) + marker.size();
  std::string out = buffered_.substr(0, end);
  buffered_.erase(0, end);
  return out;
}

absl::StatusOr<std::string> TestConnection::ReadExactly(size_t n) {
  char chunk[4096];
  while (buffered_.size() < n) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, kIoTimeoutMs) != 1) return absl::DeadlineExceededError("body incomplete");
    ssize_t got = recv(fd_, chunk, sizeof(chunk), 0);
    if (got <= 0) return absl::UnavailableError("connection closed in the body");
    buffered_.append(chunk, got);
  }
  std::string out = buffered_.substr(0, n);
  buffered_.erase(0, n);
  return out;
}

absl::StatusOr<HttpAnswer> TestConnection::ReadAnswer(bool head) {
  absl::StatusOr<std::string> header_block = ReadUntil("\r\n\r\n");
  if (!header_block.ok()) return header_block.status();
  std::vector<std::string> lines = absl::StrSplit(*header_block, "\r\n", absl::SkipEmpty());
  if (lines.empty()) return absl::DataLossError("empty answer");
  HttpAnswer answer;
  std::vector<absl::string_view> status_line = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &answer.status)) {
    return absl::DataLossError(absl::StrCat("bad status line: ", lines[0]));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) return absl::DataLossError(absl::StrCat("bad header: ", lines[i]));
    answer.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  size_t length = 0;
  if (!head && !answer.header("content-length").empty()) {
    if (!absl::SimpleAtoi(answer.header("content-length"), &length)) return absl::DataLossError("bad length");
    absl::StatusOr<std::string> body = ReadExactly(length);
    if (!body.ok()) return body.status();
    answer.body = *std::move(body);
  }
  return answer;
}

bool TestConnection::ClosedByPeerWithin(absl::Duration timeout) {
  pollfd pfd{fd_, POLLIN, 0};
  if (poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) != 1) return false;
  char c;
  return recv(fd_, &c, 1, 0) <= 0;
}

absl::StatusOr<HttpAnswer> HttpRequest(const std::string& host, uint16_t port, const std::string& method,
                                       const std::string& target) {
  absl::StatusOr<TestConnection> connection = TestConnection::Connect(host, port);
  if (!connection.ok()) return connection.status();
  std::string host_header = host.find(':') == std::string::npos ? host : absl::StrCat("[", host, "]");
  absl::Status sent = connection->Send(absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: ", host_header, ":", port,
                                                    "\r\nConnection: close\r\n\r\n"));
  if (!sent.ok()) return sent;
  return connection->ReadAnswer(method == "HEAD");
}

absl::StatusOr<uint16_t> FreePort(const std::string& host) {
  sockaddr_storage addr;
  absl::StatusOr<socklen_t> len = SockAddr(host, 0, addr);
  if (!len.ok()) return len.status();
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), *len) != 0) {
    close(fd);
    return Errno("bind");
  }
  socklen_t got = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &got);
  close(fd);
  return ntohs(addr.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

}  // namespace bpfproxy::testing_util
