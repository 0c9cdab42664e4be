// A deliberately plain HTTP/1.1 client for tests of the embedded servers:
// blocking sockets, the raw bytes on the wire, no library in between, so a
// test sees exactly what a probe or a scraper would.
#ifndef BPFPROXY_TESTS_PROXY_HTTP_TEST_CLIENT_H_
#define BPFPROXY_TESTS_PROXY_HTTP_TEST_CLIENT_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace bpfproxy::testing_util {

struct HttpAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;  // Names lower-cased.
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// A connected TCP socket, closed on destruction.
class TestConnection {
 public:
  // |host| is an IP literal ("127.0.0.1", "::1").
  static absl::StatusOr<TestConnection> Connect(const std::string& host, uint16_t port);
  TestConnection(TestConnection&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  TestConnection& operator=(TestConnection&&) = delete;
  ~TestConnection();

  absl::Status Send(absl::string_view bytes);
  // Reads one answer: headers, then Content-Length bytes of body (none for
  // a HEAD request).
  absl::StatusOr<HttpAnswer> ReadAnswer(bool head = false);
  // True if the server closes the connection within |timeout| (reads 0).
  bool ClosedByPeerWithin(absl::Duration timeout);

 private:
  explicit TestConnection(int fd) : fd_(fd) {}
  absl::StatusOr<std::string> ReadUntil(absl::string_view marker);
  absl::StatusOr<std::string> ReadExactly(size_t n);
  int fd_ = -1;
  std::string buffered_;
};

// One request on a fresh connection ("Connection: close").
absl::StatusOr<HttpAnswer> HttpRequest(const std::string& host, uint16_t port, const std::string& method,
                                       const std::string& target);
inline absl::StatusOr<HttpAnswer> HttpGet(const std::string& host, uint16_t port, const std::string& target) {
  return HttpRequest(host, port, "GET", target);
}

// A port no one listens on right now on |host| (bound to 0, then released).
absl::StatusOr<uint16_t> FreePort(const std::string& host = "127.0.0.1");

}  // namespace bpfproxy::testing_util

#endif  // BPFPROXY_TESTS_PROXY_HTTP_TEST_CLIENT_H_
