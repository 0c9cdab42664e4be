// A deliberately small HTTP/1.1 client for the emulator's tests, over TLS
// (OpenSSL, verifying the CA and the IP SAN) or plain TCP, sharing no code
// with the server's Beast/asio stack. It decodes chunked bodies
// itself, so a test sees exactly what went over the wire: each event line,
// a clean end (the terminating chunk) or an abrupt one (EOF mid-body).
#ifndef BPFPROXY_TESTS_E2E_APISERVER_TEST_CLIENT_H_
#define BPFPROXY_TESTS_E2E_APISERVER_TEST_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::e2e::apiserver::testing {

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string ca_file;  // empty: plain HTTP
  std::string token;    // empty: no Authorization header
};

struct Response {
  int code = 0;
  absl::btree_map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
};

class Connection;

// An open streaming response (a watch).
class WatchStream {
 public:
  explicit WatchStream(std::unique_ptr<Connection> connection, Response head);
  ~WatchStream();
  const Response& head() const { return head_; }

  enum class State { kEvent, kCleanEnd, kAbruptEnd, kTimeout };
  struct Next {
    State state;
    nlohmann::json event;  // for kEvent
  };
  // The next event line, or how the stream ended.
  Next Read(absl::Duration timeout = absl::Seconds(5));
  // Events until the stream ends or |timeout| passes with nothing new.
  std::vector<nlohmann::json> ReadAll(State* end, absl::Duration timeout = absl::Seconds(5));

 private:
  bool NextChunk(absl::Time deadline, State* failure);
  std::unique_ptr<Connection> connection_;
  Response head_;
  std::string lines_;  // chunk payloads not yet split into lines
  bool ended_ = false;
};

class TestClient {
 public:
  explicit TestClient(ClientOptions options) : options_(std::move(options)) {}

  // One request on a fresh connection ("Connection: close").
  absl::StatusOr<Response> Request(const std::string& method, const std::string& target,
                                   const std::string& body = "") const;
  absl::StatusOr<Response> Get(const std::string& target) const { return Request("GET", target); }
  // Sends the request and reads the response head; the body is streamed.
  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const std::string& target) const;

  TestClient WithToken(std::string token) const;

 private:
  absl::StatusOr<std::unique_ptr<Connection>> Send(const std::string& method, const std::string& target,
                                                   const std::string& body) const;
  ClientOptions options_;
};

}  // namespace bpfproxy::e2e::apiserver::testing

#endif  // BPFPROXY_TESTS_E2E_APISERVER_TEST_CLIENT_H_
