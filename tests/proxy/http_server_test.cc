// HttpServer over real sockets on the loopback: routing, HEAD, Go's 404,
// keep-alive, limits and timeouts, binding (port 0, IPv6, dual-stack
// wildcard, conflicts), closing listeners and stopping.
#include "proxy/http_server.h"

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/proxy/http_test_client.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::http {
namespace {

using ::bpfproxy::testing_util::FreePort;
using ::bpfproxy::testing_util::HttpAnswer;
using ::bpfproxy::testing_util::HttpGet;
using ::bpfproxy::testing_util::HttpRequest;
using ::bpfproxy::testing_util::TestConnection;
using ::testing::HasSubstr;

struct BindCase {
  std::string text;
  std::optional<std::string> want;  // BindAddress::ToString(); nullopt: an error
  bool wildcard = false;
};

TEST(ParseBindAddressTest, KubeProxyForms) {
  const std::vector<BindCase> cases = {
      {"0.0.0.0:10256", "0.0.0.0:10256", true},
      {"[::]:10256", "[::]:10256", true},
      {"127.0.0.1:10249", "127.0.0.1:10249", false},
      {"127.0.0.1", "127.0.0.1:7777", false},  // No port: the default.
      {":8080", "0.0.0.0:8080", true},         // Empty host: every address.
      {"[::1]:0", "[::1]:0", false},
      {"::1", "[::1]:7777", false},  // A bare IPv6 address.
      {"[fd00::1]", "[fd00::1]:7777", false},
      {"localhost:80", std::nullopt},
      {"1.2.3.4:65536", std::nullopt},
      {"1.2.3.4:", std::nullopt},
      {"1.2.3.4:+80", std::nullopt},
      {"1.2.3.4:8a", std::nullopt},
      {"[::1", std::nullopt},
      {"[::1]80", std::nullopt},
      {"", "0.0.0.0:7777", true},
  };
  for (const BindCase& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<BindAddress> got = ParseBindAddress(c.text, 7777);
    if (!c.want.has_value()) {
      EXPECT_FALSE(got.ok());
      EXPECT_THAT(std::string(got.status().message()), HasSubstr(c.text));
      continue;
    }
    ASSERT_OK(got);
    EXPECT_EQ(got->ToString(), *c.want);
    EXPECT_EQ(got->wildcard, c.wildcard);
  }
}

Response Text(std::string body) { return Response{.body = std::move(body)}; }

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(ServerOptions{}); }
  void Start(const ServerOptions& options) {
    if (server_) server_->Stop();
    ASSERT_OK_AND_ASSIGN(server_, HttpServer::Create(options));
  }
  uint16_t Serve(const std::string& address, Routes routes) {
    absl::StatusOr<HttpServer::ListenerId> id = server_->Listen(address, std::move(routes));
    EXPECT_OK(id);
    if (!id.ok()) return 0;
    last_id_ = *id;
    return server_->port(*id);
  }
  static Routes EchoRoutes() {
    Routes routes;
    routes.exact["/a"] = [](const Request& r) { return Text("a " + r.method + " " + r.target); };
    routes.exact["/json"] = [](const Request&) {
      return Response{.status = 503,
                      .content_type = "application/json",
                      .headers = {{"X-Content-Type-Options", "nosniff"}},
                      .body = "{}"};
    };
    return routes;
  }

  std::unique_ptr<HttpServer> server_;
  HttpServer::ListenerId last_id_ = 0;
};

TEST_F(HttpServerTest, RoutesByExactPathIgnoringTheQuery) {
  uint16_t port = Serve("127.0.0.1:0", EchoRoutes());
  ASSERT_NE(port, 0);
  ASSERT_OK_AND_ASSIGN(HttpAnswer a, HttpGet("127.0.0.1", port, "/a?x=1"));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "a GET /a?x=1");
  EXPECT_EQ(a.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_FALSE(a.header("date").empty());

  ASSERT_OK_AND_ASSIGN(HttpAnswer json, HttpGet("127.0.0.1", port, "/json"));
  EXPECT_EQ(json.status, 503);
  EXPECT_EQ(json.body, "{}");
  EXPECT_EQ(json.header("content-type"), "application/json");
  EXPECT_EQ(json.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(json.header("content-length"), "2");
}

TEST_F(HttpServerTest, UnknownPathIsGosNotFound) {
  uint16_t port = Serve("127.0.0.1:0", EchoRoutes());
  for (const char* path : {"/", "/a/", "/ab", "/nope"}) {
    SCOPED_TRACE(path);
    ASSERT_OK_AND_ASSIGN(HttpAnswer answer, HttpGet("127.0.0.1", port, path));
    EXPECT_EQ(answer.status, 404);
    EXPECT_EQ(answer.body, "404 page not found\n");
    EXPECT_EQ(answer.header("content-type"), "text/plain; charset=utf-8");
    EXPECT_EQ(answer.header("x-content-type-options"), "nosniff");
  }
}

TEST_F(HttpServerTest, FallbackServesEveryOtherPath) {
  Routes routes = EchoRoutes();
  routes.fallback = [](const Request& r) { return Text("fallback " + r.path); };
  uint16_t port = Serve("127.0.0.1:0", std::move(routes));
  ASSERT_OK_AND_ASSIGN(HttpAnswer any, HttpGet("127.0.0.1", port, "/any/path?q"));
  EXPECT_EQ(any.body, "fallback /any/path");
  ASSERT_OK_AND_ASSIGN(HttpAnswer exact, HttpGet("127.0.0.1", port, "/a"));
  EXPECT_EQ(exact.body, "a GET /a");
}

TEST_F(HttpServerTest, AnyMethodReachesTheHandlerAndHeadHasNoBody) {
  uint16_t port = Serve("127.0.0.1:0", EchoRoutes());
  ASSERT_OK_AND_ASSIGN(HttpAnswer post, HttpRequest("127.0.0.1", port, "POST", "/a"));
  EXPECT_EQ(post.body, "a POST /a");

  ASSERT_OK_AND_ASSIGN(TestConnection connection, TestConnection::Connect("127.0.0.1", port));
  ASSERT_OK(connection.Send("HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(HttpAnswer head, connection.ReadAnswer(/*head=*/true));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), "9");  // The length of "a HEAD /a".
  // The next answer starts right after the headers: HEAD sent no body.
  ASSERT_OK_AND_ASSIGN(HttpAnswer get, connection.ReadAnswer());
  EXPECT_EQ(get.body, "a GET /a");
}

TEST_F(HttpServerTest, KeepsConnectionsAliveAndHonoursClose) {
  uint16_t port = Serve("127.0.0.1:0", EchoRoutes());
  ASSERT_OK_AND_ASSIGN(TestConnection connection, TestConnection::Connect("127.0.0.1", port));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(connection.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_OK_AND_ASSIGN(HttpAnswer answer, connection.ReadAnswer());
    EXPECT_EQ(answer.body, "a GET /a");
  }
  ASSERT_OK(connection.Send("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(HttpAnswer last, connection.ReadAnswer());
  EXPECT_EQ(last.header("connection"), "close");
  EXPECT_TRUE(connection.ClosedByPeerWithin(absl::Seconds(5)));
}

TEST_F(HttpServerTest, HandlerExceptionIsA500AndTheServerGoesOn) {
  Routes routes = EchoRoutes();
  routes.exact["/throw"] = [](const Request&) -> Response { throw std::runtime_error("boom"); };
  uint16_t port = Serve("127.0.0.1:0", std::move(routes));
  ASSERT_OK_AND_ASSIGN(HttpAnswer failed, HttpGet("127.0.0.1", port, "/throw"));
  EXPECT_EQ(failed.status, 500);
  ASSERT_OK_AND_ASSIGN(HttpAnswer ok, HttpGet("127.0.0.1", port, "/a"));
  EXPECT_EQ(ok.status, 200);
}

TEST_F(HttpServerTest, OversizedOrMalformedRequestsAre400) {
  Start(ServerOptions{.max_header_bytes = 1024});
  uint16_t port = Serve("127.0.0.1:0", EchoRoutes());
  for (const std::string& request : {"GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'x') + "\r\n\r\n",
                                     std::string("NOT HTTP\r\n\r\n")}) {
    ASSERT_OK_AND_ASSIGN(TestConnection connection, TestConnection::Connect("127.0.0.1", port));
    ASSERT_OK(connection.Send(request));
    ASSERT_OK_AND_ASSIGN(HttpAnswer answer, connection.ReadAnswer());
    EXPECT_EQ(answer.status, 400);
    EXPECT_TRUE(connection.ClosedByPeerWithin(absl::Seconds(5)));
  }
}

TEST_F(HttpServerTest, SilentClientIsDisconnectedAfterTheTimeout) {
  Start(ServerOptions{.io_timeout = absl::Milliseconds(200)});
  uint16_t port = Serve("127.0.0.1:0", EchoRoutes());
  ASSERT_OK_AND_ASSIGN(TestConnection silent, TestConnection::Connect("127.0.0.1", port));
  ASSERT_OK_AND_ASSIGN(TestConnection partial, TestConnection::Connect("127.0.0.1", port));
  ASSERT_OK(partial.Send("GET /a HTTP/1.1\r\n"));  // Never finishes its headers.
  EXPECT_TRUE(silent.ClosedByPeerWithin(absl::Seconds(10)));
  EXPECT_TRUE(partial.ClosedByPeerWithin(absl::Seconds(10)));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitAreClosed) {
  Start(ServerOptions{.max_connections_per_listener = 2});
  uint16_t port = Serve("127.0.0.1:0", EchoRoutes());
  ASSERT_OK_AND_ASSIGN(TestConnection first, TestConnection::Connect("127.0.0.1", port));
  ASSERT_OK_AND_ASSIGN(TestConnection second, TestConnection::Connect("127.0.0.1", port));
  // The two are accepted (an answer proves it) before the third arrives.
  for (TestConnection* c : {&first, &second}) {
    ASSERT_OK(c->Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_OK(c->ReadAnswer());
  }
  ASSERT_OK_AND_ASSIGN(TestConnection third, TestConnection::Connect("127.0.0.1", port));
  EXPECT_TRUE(third.ClosedByPeerWithin(absl::Seconds(5)));
  // The first two still work.
  ASSERT_OK(first.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(HttpAnswer answer, first.ReadAnswer());
  EXPECT_EQ(answer.status, 200);
}

TEST_F(HttpServerTest, ListensOnIpv6Loopback) {
  uint16_t port = Serve("[::1]:0", EchoRoutes());
  ASSERT_OK_AND_ASSIGN(HttpAnswer answer, HttpGet("::1", port, "/a"));
  EXPECT_EQ(answer.body, "a GET /a");
  // A specific address is only that address.
  EXPECT_FALSE(HttpGet("127.0.0.1", port, "/a").ok());
}

TEST_F(HttpServerTest, WildcardIsDualStack) {
  for (const char* address : {"0.0.0.0:0", "[::]:0"}) {
    SCOPED_TRACE(address);
    uint16_t port = Serve(address, EchoRoutes());
    ASSERT_NE(port, 0);
    for (const char* client : {"127.0.0.1", "::1"}) {
      ASSERT_OK_AND_ASSIGN(HttpAnswer answer, HttpGet(client, port, "/a"));
      EXPECT_EQ(answer.status, 200) << client;
    }
  }
}

TEST_F(HttpServerTest, BindingAPortInUseFailsNamingTheAddress) {
  uint16_t port = Serve("127.0.0.1:0", EchoRoutes());
  std::string address = "127.0.0.1:" + std::to_string(port);
  absl::StatusOr<HttpServer::ListenerId> second = server_->Listen(address, EchoRoutes());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(address));
  // The first listener is unaffected.
  ASSERT_OK(HttpGet("127.0.0.1", port, "/a"));
}

TEST_F(HttpServerTest, CloseStopsOneListenerAndFreesItsPort) {
  uint16_t kept = Serve("127.0.0.1:0", EchoRoutes());
  HttpServer::ListenerId kept_id = last_id_;
  uint16_t closed = Serve("127.0.0.1:0", EchoRoutes());
  ASSERT_OK_AND_ASSIGN(TestConnection idle, TestConnection::Connect("127.0.0.1", closed));
  ASSERT_OK(idle.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_OK(idle.ReadAnswer());

  server_->Close(last_id_);
  EXPECT_EQ(server_->port(last_id_), 0);
  EXPECT_FALSE(HttpGet("127.0.0.1", closed, "/a").ok());
  EXPECT_TRUE(idle.ClosedByPeerWithin(absl::Seconds(5)));  // Its open connection too.
  ASSERT_OK(HttpGet("127.0.0.1", kept, "/a"));
  EXPECT_EQ(server_->port(kept_id), kept);

  // The port can be bound again at once.
  uint16_t again = Serve("127.0.0.1:" + std::to_string(closed), EchoRoutes());
  EXPECT_EQ(again, closed);
  server_->Close(12345);  // Unknown: ignored.
}

TEST_F(HttpServerTest, ServesConcurrentClientsOnSeveralThreads) {
  Start(ServerOptions{.threads = 2});
  std::atomic<int> served{0};
  Routes routes;
  routes.exact["/n"] = [&served](const Request&) { return Text(std::to_string(++served)); };
  uint16_t port = Serve("127.0.0.1:0", std::move(routes));
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (auto answer = HttpGet("127.0.0.1", port, "/n"); answer.ok() && answer->status == 200) ++ok;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(served.load(), 100);
}

TEST_F(HttpServerTest, StopClosesConnectionsAndRefusesNewListeners) {
  uint16_t port = Serve("127.0.0.1:0", EchoRoutes());
  ASSERT_OK_AND_ASSIGN(TestConnection idle, TestConnection::Connect("127.0.0.1", port));
  ASSERT_OK(idle.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_OK(idle.ReadAnswer());
  server_->Stop();
  EXPECT_TRUE(idle.ClosedByPeerWithin(absl::Seconds(5)));
  EXPECT_FALSE(HttpGet("127.0.0.1", port, "/a").ok());
  EXPECT_EQ(server_->Listen("127.0.0.1:0", EchoRoutes()).status().code(), absl::StatusCode::kFailedPrecondition);
  server_->Stop();  // Idempotent.
}

TEST_F(HttpServerTest, RejectsZeroThreads) { EXPECT_FALSE(HttpServer::Create(ServerOptions{.threads = 0}).ok()); }

TEST(FreePortTest, GivesABindablePort) {
  ASSERT_OK_AND_ASSIGN(uint16_t port, FreePort());
  ASSERT_OK_AND_ASSIGN(auto server, HttpServer::Create());
  ASSERT_OK(server->Listen("127.0.0.1:" + std::to_string(port), Routes{}));
}

}  // namespace
}  // namespace bpfproxy::http
