// HealthCheckServer: health check node ports opened, closed and moved as
// Services come and go, answers flipping between 200 and 503 with the local
// endpoint count and the proxy's health, kube-proxy's exact body, and ports
// that cannot be bound retried on the next sync.
#include "proxy/health_check_server.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/http_server.h"
#include "tests/proxy/http_test_client.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {
namespace {

using ::bpfproxy::testing_util::FreePort;
using ::bpfproxy::testing_util::HttpAnswer;
using ::bpfproxy::testing_util::HttpGet;
using ::bpfproxy::testing_util::HttpRequest;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

class FakeProxyHealth : public ProxyHealthChecker {
 public:
  bool IsHealthy() const override { return healthy.load(); }
  std::atomic<bool> healthy{true};
};

std::string Body(const std::string& ns, const std::string& name, int count, bool healthy) {
  return "{\n"
         "\t\"service\": {\n"
         "\t\t\"namespace\": \"" +
         ns +
         "\",\n"
         "\t\t\"name\": \"" +
         name +
         "\"\n"
         "\t},\n"
         "\t\"localEndpoints\": " +
         std::to_string(count) +
         ",\n"
         "\t\"serviceProxyHealthy\": " +
         (healthy ? "true" : "false") +
         "\n"
         "}";
}

class HealthCheckServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(http_, http::HttpServer::Create());
    server_ = std::make_unique<HealthCheckServer>(
        http_.get(), &proxy_health_, HealthCheckServerOptions{.addresses = {*IpAddress::Parse("127.0.0.1")}});
    ASSERT_OK_AND_ASSIGN(port_a_, FreePort());
    ASSERT_OK_AND_ASSIGN(port_b_, FreePort());
    ASSERT_NE(port_a_, port_b_);
  }
  // Status and body of a probe to |port|, or -1 if nothing answers.
  static int Probe(uint16_t port, const std::string& path = "/") {
    absl::StatusOr<HttpAnswer> answer = HttpGet("127.0.0.1", port, path);
    return answer.ok() ? answer->status : -1;
  }

  FakeProxyHealth proxy_health_;
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<HealthCheckServer> server_;
  uint16_t port_a_ = 0, port_b_ = 0;
};

TEST(HealthCheckBodyTest, IsKubeProxysTabIndentedJson) {
  EXPECT_EQ(HealthCheckBody("ns", "svc", 1, true),
            "{\n\t\"service\": {\n\t\t\"namespace\": \"ns\",\n\t\t\"name\": \"svc\"\n\t},\n"
            "\t\"localEndpoints\": 1,\n\t\"serviceProxyHealthy\": true\n}");
  EXPECT_EQ(HealthCheckBody("kube-system", "dns", 0, false), Body("kube-system", "dns", 0, false));
}

TEST_F(HealthCheckServerTest, AnswersFollowLocalEndpointsAndProxyHealth) {
  server_->Sync({{"ns", "web", port_a_, 2}, {"ns", "db", port_b_, 0}});
  EXPECT_THAT(server_->OpenPorts(), ElementsAre(Pair("ns/db", port_b_), Pair("ns/web", port_a_)));

  ASSERT_OK_AND_ASSIGN(HttpAnswer web, HttpGet("127.0.0.1", port_a_, "/healthz"));
  EXPECT_EQ(web.status, 200);
  EXPECT_EQ(web.body, Body("ns", "web", 2, true));
  EXPECT_EQ(web.header("content-type"), "application/json");
  EXPECT_EQ(web.header("x-content-type-options"), "nosniff");
  ASSERT_OK_AND_ASSIGN(HttpAnswer db, HttpGet("127.0.0.1", port_b_, "/"));
  EXPECT_EQ(db.status, 503);
  EXPECT_EQ(db.body, Body("ns", "db", 0, true));

  // Endpoints move: the answers flip, the ports stay.
  server_->Sync({{"ns", "web", port_a_, 0}, {"ns", "db", port_b_, 1}});
  EXPECT_EQ(Probe(port_a_), 503);
  EXPECT_EQ(Probe(port_b_), 200);
  ASSERT_OK_AND_ASSIGN(HttpAnswer db1, HttpGet("127.0.0.1", port_b_, "/"));
  EXPECT_EQ(db1.body, Body("ns", "db", 1, true));

  // An unhealthy proxy fails every health check, whatever the endpoints.
  proxy_health_.healthy = false;
  ASSERT_OK_AND_ASSIGN(HttpAnswer sick, HttpGet("127.0.0.1", port_b_, "/"));
  EXPECT_EQ(sick.status, 503);
  EXPECT_EQ(sick.body, Body("ns", "db", 1, false));
  proxy_health_.healthy = true;
  EXPECT_EQ(Probe(port_b_), 200);
}

TEST_F(HealthCheckServerTest, AnyPathAndMethodIsAHealthCheck) {
  server_->Sync({{"ns", "web", port_a_, 1}});
  for (const char* path : {"/", "/healthz", "/any/thing?x=1"}) EXPECT_EQ(Probe(port_a_, path), 200) << path;
  ASSERT_OK_AND_ASSIGN(HttpAnswer head, HttpRequest("127.0.0.1", port_a_, "HEAD", "/"));
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
}

TEST_F(HealthCheckServerTest, PortsCloseWhenServicesLeaveAndMoveWithThem) {
  server_->Sync({{"ns", "web", port_a_, 1}, {"ns", "db", port_b_, 1}});
  server_->Sync({{"ns", "web", port_a_, 1}});
  EXPECT_EQ(Probe(port_a_), 200);
  EXPECT_EQ(Probe(port_b_), -1);
  EXPECT_THAT(server_->OpenPorts(), ElementsAre(Pair("ns/web", port_a_)));

  // The Service's port changes: the old one closes, the new one opens.
  server_->Sync({{"ns", "web", port_b_, 1}});
  EXPECT_EQ(Probe(port_a_), -1);
  EXPECT_EQ(Probe(port_b_), 200);

  // Another Service takes the freed port in the same sync another leaves it.
  server_->Sync({{"other", "svc", port_b_, 3}});
  ASSERT_OK_AND_ASSIGN(HttpAnswer other, HttpGet("127.0.0.1", port_b_, "/"));
  EXPECT_EQ(other.body, Body("other", "svc", 3, true));

  server_->Sync({});
  EXPECT_EQ(Probe(port_b_), -1);
  EXPECT_THAT(server_->OpenPorts(), IsEmpty());
}

TEST_F(HealthCheckServerTest, PortInUseIsRetriedOnTheNextSync) {
  ASSERT_OK_AND_ASSIGN(auto squatter, http_->Listen("127.0.0.1:" + std::to_string(port_a_), http::Routes{}));
  server_->Sync({{"ns", "web", port_a_, 1}, {"ns", "db", port_b_, 1}});
  EXPECT_THAT(server_->OpenPorts(), ElementsAre(Pair("ns/db", port_b_)));  // The other one is served.
  EXPECT_EQ(Probe(port_a_), 404);                                          // Still the squatter's.
  server_->Sync({{"ns", "web", port_a_, 1}, {"ns", "db", port_b_, 1}});
  EXPECT_THAT(server_->OpenPorts(), ElementsAre(Pair("ns/db", port_b_)));

  http_->Close(squatter);
  server_->Sync({{"ns", "web", port_a_, 1}, {"ns", "db", port_b_, 1}});
  EXPECT_THAT(server_->OpenPorts(), ElementsAre(Pair("ns/db", port_b_), Pair("ns/web", port_a_)));
  EXPECT_EQ(Probe(port_a_), 200);
}

TEST_F(HealthCheckServerTest, ServicesWithoutAPortAreIgnored) {
  server_->Sync({{"ns", "web", 0, 1}});
  EXPECT_THAT(server_->OpenPorts(), IsEmpty());
}

TEST_F(HealthCheckServerTest, DestructionClosesEveryPort) {
  server_->Sync({{"ns", "web", port_a_, 1}});
  EXPECT_EQ(Probe(port_a_), 200);
  server_.reset();
  EXPECT_EQ(Probe(port_a_), -1);
}

// A HealthCheckServer on its own HTTP server, listening on |addresses|
// (empty: every address) on a port free on |free_on|.
class HealthCheckServerAddressesTest : public ::testing::Test {
 protected:
  void Serve(std::vector<IpAddress> addresses, const char* free_on) {
    ASSERT_OK_AND_ASSIGN(http_, http::HttpServer::Create());
    ASSERT_OK_AND_ASSIGN(port_, FreePort(free_on));
    server_ = std::make_unique<HealthCheckServer>(http_.get(), &health_,
                                                  HealthCheckServerOptions{.addresses = std::move(addresses)});
  }
  static IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

  FakeProxyHealth health_;
  std::unique_ptr<http::HttpServer> http_;
  uint16_t port_ = 0;
  std::unique_ptr<HealthCheckServer> server_;  // Closed before the HTTP server goes.
};

TEST_F(HealthCheckServerAddressesTest, ListensOnTheGivenAddressesOnly) {
  ASSERT_NO_FATAL_FAILURE(Serve({Ip("::1")}, "::1"));
  server_->Sync({{"ns", "web", port_, 1}});
  ASSERT_OK_AND_ASSIGN(HttpAnswer v6, HttpGet("::1", port_, "/"));
  EXPECT_EQ(v6.status, 200);
  EXPECT_FALSE(HttpGet("127.0.0.1", port_, "/").ok());
}

TEST_F(HealthCheckServerAddressesTest, NoAddressesMeansEveryAddressDualStack) {
  ASSERT_NO_FATAL_FAILURE(Serve({}, "::"));
  server_->Sync({{"ns", "web", port_, 1}});
  for (const char* client : {"127.0.0.1", "::1"}) {
    ASSERT_OK_AND_ASSIGN(HttpAnswer answer, HttpGet(client, port_, "/"));
    EXPECT_EQ(answer.status, 200) << client;
  }
}

TEST_F(HealthCheckServerAddressesTest, ADualStackServiceAnswersEachFamilyWithItsOwnCount) {
  ASSERT_NO_FATAL_FAILURE(Serve({}, "::"));
  // Two local IPv4 endpoints, no IPv6 one: a load balancer probing over
  // IPv6 must not send IPv6 traffic here.
  server_->Sync({{.namespace_ = "ns", .name = "web", .node_port = port_, .local_endpoints = 2,
                .secondary_local_endpoints = 0}});
  ASSERT_OK_AND_ASSIGN(HttpAnswer v4, HttpGet("127.0.0.1", port_, "/"));
  EXPECT_EQ(v4.status, 200);
  EXPECT_THAT(v4.body, ::testing::HasSubstr("\"localEndpoints\": 2,"));
  ASSERT_OK_AND_ASSIGN(HttpAnswer v6, HttpGet("::1", port_, "/"));
  EXPECT_EQ(v6.status, 503);
  EXPECT_THAT(v6.body, ::testing::HasSubstr("\"localEndpoints\": 0,"));
}

TEST_F(HealthCheckServerAddressesTest, NewAddressesMoveEveryOpenPort) {
  ASSERT_NO_FATAL_FAILURE(Serve({Ip("::1")}, "::1"));
  server_->Sync({{"ns", "web", port_, 1}});
  ASSERT_TRUE(HttpGet("::1", port_, "/").ok());
  ASSERT_FALSE(HttpGet("127.0.0.1", port_, "/").ok());

  server_->SetAddresses({Ip("127.0.0.1")});
  ASSERT_OK_AND_ASSIGN(HttpAnswer v4, HttpGet("127.0.0.1", port_, "/"));
  EXPECT_EQ(v4.status, 200);
  EXPECT_FALSE(HttpGet("::1", port_, "/").ok()) << "the old address is closed";
  EXPECT_EQ(server_->OpenPorts(), (absl::btree_map<std::string, uint16_t>{{"ns/web", port_}}));
  // The count survives the move, and later syncs keep working.
  server_->Sync({{"ns", "web", port_, 0}});
  ASSERT_OK_AND_ASSIGN(HttpAnswer none, HttpGet("127.0.0.1", port_, "/"));
  EXPECT_EQ(none.status, 503);
}

TEST_F(HealthCheckServerAddressesTest, AnAddressThatCannotBeBoundKeepsTheOldOnesUntilARetryWorks) {
  ASSERT_NO_FATAL_FAILURE(Serve({Ip("::1")}, "::1"));
  server_->Sync({{"ns", "web", port_, 1}});
  ASSERT_TRUE(HttpGet("::1", port_, "/").ok());

  // Someone else holds the new address's port (or it is still tentative).
  ASSERT_OK_AND_ASSIGN(auto other, http::HttpServer::Create());
  http::Routes teapot;
  teapot.fallback = [](const http::Request&) { return http::Response{.status = 418, .body = "other"}; };
  ASSERT_OK_AND_ASSIGN(http::HttpServer::ListenerId blocker,
                       other->Listen(http::BindAddress{*IpAddress::Parse("127.0.0.1"), port_, false}, teapot));
  server_->SetAddresses({Ip("127.0.0.1")});
  ASSERT_OK_AND_ASSIGN(HttpAnswer kept, HttpGet("::1", port_, "/"));
  EXPECT_EQ(kept.status, 200) << "the old address keeps answering: the load balancer does not drain the node";
  EXPECT_EQ(server_->OpenPorts(), (absl::btree_map<std::string, uint16_t>{{"ns/web", port_}}));

  // Freed: the next sync moves the port.
  other->Close(blocker);
  server_->Sync({{"ns", "web", port_, 1}});
  ASSERT_OK_AND_ASSIGN(HttpAnswer moved, HttpGet("127.0.0.1", port_, "/"));
  EXPECT_EQ(moved.status, 200);
  EXPECT_THAT(moved.body, ::testing::HasSubstr("\"localEndpoints\": 1,"));
  EXPECT_FALSE(HttpGet("::1", port_, "/").ok()) << "the old address is closed once the new one is open";
}

}  // namespace
}  // namespace bpfproxy
