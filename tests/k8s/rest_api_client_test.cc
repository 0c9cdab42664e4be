// RestApiClient against a scripted loopback server (plain HTTP and HTTPS):
// the requests it sends, how it decodes answers and streams, cancellation,
// shutdown and TLS verification.
#include "k8s/rest_api_client.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "k8s/reflector.h"
#include "tests/k8s/fake_api_client.h"
#include "tests/k8s/scripted_server.h"
#include "tests/k8s/test_certs.h"

namespace bpfproxy::k8s {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ScriptedServer;
using testing::ServerConnection;
using testing::ServerRequest;
using testing::ServerTls;
using testing::TestCa;

constexpr char kServiceList[] =
    R"({"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"next"},)"
    R"("items":[{"metadata":{"name":"a","namespace":"default","resourceVersion":"41"}}]})";
constexpr char kGoneStatus[] = R"json({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)json"
                               R"json("message":"too old resource version: 1 (5)","reason":"Expired","code":410})json";

std::string EventLine(const std::string& type, const std::string& name, const std::string& rv) {
  return absl::StrCat(R"({"type":")", type, R"(","object":{"kind":"Service","apiVersion":"v1","metadata":{"name":")",
                      name, R"(","namespace":"default","resourceVersion":")", rv, "\"}}}\n");
}

ResourceRequest Services() { return ResourceRequest{"/api/v1/services", "", "", "services", nullptr}; }

std::unique_ptr<RestApiClient> NewClient(ClientConfig config, RestClientOptions options = {}) {
  absl::StatusOr<std::unique_ptr<RestApiClient>> client = RestApiClient::Create(config, std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

std::unique_ptr<RestApiClient> NewClient(const std::string& url) { return NewClient(ClientConfig{.server = url}); }

// Runs |fn| on another thread after |delay|; joins on destruction.
class Later {
 public:
  Later(absl::Duration delay, std::function<void()> fn)
      : thread_([delay, fn = std::move(fn)] {
          absl::SleepFor(delay);
          fn();
        }) {}
  ~Later() { thread_.join(); }

 private:
  std::thread thread_;
};

TEST(RestApiClientTest, ListSendsSelectorsAndTokenAndFillsKinds) {
  auto server = ScriptedServer::Start(
      [](const ServerRequest&, ServerConnection& connection) { connection.SendResponse(200, kServiceList); });
  auto client = NewClient(ClientConfig{.server = server->url(), .token = "s3cret"});
  ResourceRequest request = Services();
  request.label_selector = "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name";
  request.field_selector = "metadata.name=node 1";

  absl::StatusOr<ListPage> page = client->List(request, 2, "abc");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->resource_version, "42");
  EXPECT_EQ(page->continue_token, "next");
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0]["kind"], "Service");
  EXPECT_EQ(page->items[0]["apiVersion"], "v1");

  ServerRequest seen = server->requests().at(0);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target,
            "/api/v1/services?limit=2&continue=abc"
            "&labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name"
            "&fieldSelector=metadata.name%3Dnode%201");
  EXPECT_EQ(seen.headers["authorization"], "Bearer s3cret");
  EXPECT_EQ(seen.headers["accept"], "application/json");
  EXPECT_EQ(seen.headers["user-agent"], "bpfproxy");
}

TEST(RestApiClientTest, TokenFileIsReadForEveryRequest) {
  const std::string token_file = (std::filesystem::temp_directory_path() / "rest_api_client_test_token").string();
  std::ofstream(token_file) << "first\n";
  auto server = ScriptedServer::Start(
      [](const ServerRequest&, ServerConnection& connection) { connection.SendResponse(200, kServiceList); });
  auto client = NewClient(ClientConfig{.server = server->url(), .token_file = token_file});
  ASSERT_TRUE(client->List(Services(), 0, "").ok());
  std::ofstream(token_file) << "second\n";
  ASSERT_TRUE(client->List(Services(), 0, "").ok());
  std::filesystem::remove(token_file);

  std::vector<ServerRequest> seen = server->requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].headers["authorization"], "Bearer first");
  EXPECT_EQ(seen[1].headers["authorization"], "Bearer second");
  EXPECT_EQ(seen[0].target, "/api/v1/services");
}

TEST(RestApiClientTest, ErrorAnswersCarryCodeAndReason) {
  auto server = ScriptedServer::Start([](const ServerRequest& request, ServerConnection& connection) {
    if (absl::StrContains(request.target, "gone")) {
      connection.SendResponse(410, kGoneStatus);
    } else {
      connection.SendResponse(500, "<html>oops</html>");
    }
  });
  auto client = NewClient(server->url());
  absl::Status gone = client->List(ResourceRequest{"/gone"}, 0, "tok").status();
  EXPECT_TRUE(IsGone(gone)) << gone;
  EXPECT_EQ(HttpCode(gone), 410);
  EXPECT_EQ(KubernetesReason(gone), "Expired");
  EXPECT_THAT(std::string(gone.message()), HasSubstr("too old resource version"));

  absl::Status broken = client->List(ResourceRequest{"/broken"}, 0, "").status();
  EXPECT_EQ(HttpCode(broken), 500);
  EXPECT_EQ(broken.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(broken.message()), HasSubstr("oops"));
}

TEST(RestApiClientTest, MalformedListAnswersAreErrorsNotCrashes) {
  struct Case {
    std::string body;
    absl::StatusCode code;
  };
  const std::vector<Case> cases = {
      {"not json", absl::StatusCode::kDataLoss},
      {"[1]", absl::StatusCode::kDataLoss},
      {R"({"items": 5})", absl::StatusCode::kDataLoss},
      {std::string(10000, '['), absl::StatusCode::kDataLoss},
      // Wrong types in metadata are ignored, null items are an empty list.
      {R"({"kind": 7, "metadata": {"resourceVersion": 5, "continue": []}, "items": null})", absl::StatusCode::kOk},
  };
  for (const Case& c : cases) {
    auto server = ScriptedServer::Start(
        [&](const ServerRequest&, ServerConnection& connection) { connection.SendResponse(200, c.body); });
    auto client = NewClient(server->url());
    absl::StatusOr<ListPage> page = client->List(Services(), 0, "");
    EXPECT_EQ(page.status().code(), c.code) << c.body.substr(0, 50) << ": " << page.status();
  }
}

TEST(RestApiClientTest, WatchDeliversEventsWhileTheStreamIsOpen) {
  absl::Notification client_has_two;
  auto server = ScriptedServer::Start([&](const ServerRequest&, ServerConnection& connection) {
    connection.StartChunked();
    // Chunks split a line: events are lines, not chunks.
    const std::string two = EventLine("ADDED", "a", "6") + EventLine("MODIFIED", "a", "7");
    connection.SendChunk(two.substr(0, two.size() - 20));
    connection.SendChunk(two.substr(two.size() - 20));
    // The body stays open until the client has both events.
    client_has_two.WaitForNotificationWithTimeout(absl::Seconds(10));
    connection.SendChunk("this is not json\n\r\n");
    connection.SendChunk(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})");
    connection.EndChunked();
  });
  auto client = NewClient(server->url());
  absl::StatusOr<std::unique_ptr<WatchStream>> stream = client->Watch(Services(), "5", absl::Milliseconds(300500));
  ASSERT_TRUE(stream.ok()) << stream.status();

  auto first = (*stream)->Next();
  auto second = (*stream)->Next();
  client_has_two.Notify();
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status();
  ASSERT_TRUE(second.ok() && second->has_value()) << second.status();
  EXPECT_EQ((*first)->type, WatchEventType::kAdded);
  EXPECT_EQ((*second)->type, WatchEventType::kModified);
  EXPECT_EQ((*second)->object["metadata"]["resourceVersion"], "7");
  EXPECT_EQ((*stream)->Next().status().code(), absl::StatusCode::kDataLoss);  // the stream goes on
  auto bookmark = (*stream)->Next();
  ASSERT_TRUE(bookmark.ok() && bookmark->has_value()) << bookmark.status();
  EXPECT_EQ((*bookmark)->type, WatchEventType::kBookmark);
  auto end = (*stream)->Next();
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_FALSE(end->has_value());

  EXPECT_EQ(server->requests().at(0).target,
            "/api/v1/services?watch=1&resourceVersion=5&allowWatchBookmarks=true&timeoutSeconds=301");
}

TEST(RestApiClientTest, GoneAnswerToAWatchIsReturnedByWatch) {
  auto server = ScriptedServer::Start(
      [](const ServerRequest&, ServerConnection& connection) { connection.SendResponse(410, kGoneStatus); });
  auto client = NewClient(server->url());
  absl::StatusOr<std::unique_ptr<WatchStream>> stream = client->Watch(Services(), "1", absl::Minutes(5));
  EXPECT_TRUE(IsGone(stream.status())) << stream.status();
}

TEST(RestApiClientTest, DroppedConnectionIsAnErrorNotTheEnd) {
  auto server = ScriptedServer::Start([](const ServerRequest&, ServerConnection& connection) {
    connection.StartChunked();
    connection.SendChunk(EventLine("ADDED", "a", "2"));
    // Returns without the last chunk: the connection is cut mid-body.
  });
  auto client = NewClient(server->url());
  auto stream = client->Watch(Services(), "1", absl::Minutes(5));
  ASSERT_TRUE(stream.ok()) << stream.status();
  auto event = (*stream)->Next();
  ASSERT_TRUE(event.ok() && event->has_value()) << event.status();
  EXPECT_EQ((*stream)->Next().status().code(), absl::StatusCode::kUnavailable);
}

// A server that opens the body and then holds the connection.
std::unique_ptr<ScriptedServer> HoldingServer(bool answer) {
  return ScriptedServer::Start([answer](const ServerRequest&, ServerConnection& connection) {
    if (answer) connection.StartChunked();
    connection.WaitUntilClientCloses();
  });
}

TEST(RestApiClientTest, CancelUnblocksNext) {
  auto server = HoldingServer(/*answer=*/true);
  auto client = NewClient(server->url());
  auto stream = client->Watch(Services(), "1", absl::Minutes(5));
  ASSERT_TRUE(stream.ok()) << stream.status();
  const absl::Time start = absl::Now();
  {
    Later cancel(absl::Milliseconds(100), [&] { (*stream)->Cancel(); });
    EXPECT_EQ((*stream)->Next().status().code(), absl::StatusCode::kCancelled);
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ((*stream)->Next().status().code(), absl::StatusCode::kCancelled);
}

TEST(RestApiClientTest, RequestCancellationUnblocksCallsWaitingForAnswers) {
  auto server = HoldingServer(/*answer=*/false);
  auto client = NewClient(server->url());
  for (bool watch : {true, false}) {
    ResourceRequest request = Services();
    request.cancellation = std::make_shared<Cancellation>();
    const absl::Time start = absl::Now();
    Later cancel(absl::Milliseconds(100), [&] { request.cancellation->Cancel(); });
    absl::Status status =
        watch ? client->Watch(request, "1", absl::Minutes(5)).status() : client->List(request, 10, "").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
    EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  }
}

TEST(RestApiClientTest, DestroyingTheClientCancelsOpenWatches) {
  auto server = HoldingServer(/*answer=*/true);
  auto client = NewClient(server->url());
  auto stream = client->Watch(Services(), "1", absl::Minutes(5));
  ASSERT_TRUE(stream.ok()) << stream.status();
  client.reset();
  EXPECT_EQ((*stream)->Next().status().code(), absl::StatusCode::kCancelled);
}

TEST(RestApiClientTest, ObserverSeesEveryRequest) {
  std::vector<std::string> seen;
  absl::Mutex mu;
  RestClientOptions options;
  options.observer = [&](absl::string_view method, absl::string_view host, int code, absl::Duration duration) {
    absl::MutexLock lock(&mu);
    seen.push_back(absl::StrCat(method, " ", code, duration >= absl::ZeroDuration() ? "" : " negative"));
    EXPECT_THAT(std::string(host), HasSubstr("127.0.0.1:"));
  };
  auto server = ScriptedServer::Start([](const ServerRequest& request, ServerConnection& connection) {
    connection.SendResponse(absl::StrContains(request.target, "watch") ? 410 : 200, kServiceList);
  });
  const std::string url = server->url();
  auto client = NewClient(ClientConfig{.server = url}, options);
  EXPECT_TRUE(client->List(Services(), 0, "").ok());
  EXPECT_FALSE(client->Watch(Services(), "1", absl::Minutes(5)).ok());
  server.reset();  // now nothing listens: no answer at all
  EXPECT_EQ(client->List(Services(), 0, "").status().code(), absl::StatusCode::kUnavailable);
  absl::MutexLock lock(&mu);
  EXPECT_THAT(seen, ElementsAre("GET 200", "GET 410", "GET 0"));
}

TEST(RestApiClientTest, CreateRefusesWhatCannotWork) {
  TestCa ca("ca");
  testing::CertAndKey other = ca.IssueClient("other");
  struct Case {
    ClientConfig config;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{.server = "https://api:6443", .ca_pem = "garbage"}, "certificate authority"},
      {{.server = "https://api:6443", .client_cert_pem = "garbage", .client_key_pem = "garbage"}, "client certificate"},
      {{.server = "https://api:6443",
        .client_cert_pem = ca.IssueClient("me").cert_pem,
        .client_key_pem = other.key_pem},
       "client key"},
      {{.server = "https://[fd00::1]:6443"}, "IPv6 literal"},
      {{.server = "ftp://api"}, "not an http(s) URL"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::unique_ptr<RestApiClient>> client = RestApiClient::Create(c.config);
    ASSERT_FALSE(client.ok()) << c.expected;
    EXPECT_THAT(std::string(client.status().message()), HasSubstr(c.expected));
  }
}

TEST(EncodeQueryTest, EncodesEverythingButUnreservedCharacters) {
  EXPECT_EQ(EncodeQuery({{"a", "b"}, {"sel", "x!=y,z in (1 2)"}, {"k", "-._~"}}),
            "a=b&sel=x%21%3Dy%2Cz%20in%20%281%202%29&k=-._~");
  EXPECT_EQ(EncodeQuery({}), "");
}

// --- TLS -----------------------------------------------------------------

class RestApiClientTlsTest : public ::testing::Test {
 protected:
  std::unique_ptr<ScriptedServer> Serve(const testing::CertAndKey& server_cert, const std::string& client_ca = "") {
    return ScriptedServer::Start(
        [](const ServerRequest&, ServerConnection& connection) { connection.SendResponse(200, kServiceList); },
        ServerTls{server_cert.cert_pem, server_cert.key_pem, client_ca});
  }
  absl::Status ListWith(const ClientConfig& config) {
    absl::StatusOr<std::unique_ptr<RestApiClient>> client = RestApiClient::Create(config);
    if (!client.ok()) return client.status();
    return (*client)->List(Services(), 0, "").status();
  }
  TestCa ca_{"cluster-ca"};
  TestCa other_ca_{"other-ca"};
};

TEST_F(RestApiClientTlsTest, PinnedCaVerifiesTheServer) {
  auto server = Serve(ca_.IssueServer({"127.0.0.1"}));
  EXPECT_TRUE(ListWith({.server = server->url(), .ca_pem = ca_.cert_pem()}).ok());
}

TEST_F(RestApiClientTlsTest, ServerFromAnotherCaIsRefused) {
  auto server = Serve(other_ca_.IssueServer({"127.0.0.1"}));
  absl::Status status = ListWith({.server = server->url(), .ca_pem = ca_.cert_pem()});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  // Nor do the system roots trust a private CA.
  EXPECT_FALSE(ListWith({.server = server->url()}).ok());
  EXPECT_TRUE(server->requests().empty());
}

TEST_F(RestApiClientTlsTest, CertificateForAnotherAddressIsRefused) {
  auto server = Serve(ca_.IssueServer({"127.0.0.2"}));
  EXPECT_FALSE(ListWith({.server = server->url(), .ca_pem = ca_.cert_pem()}).ok());
}

TEST_F(RestApiClientTlsTest, InsecureSkipsVerification) {
  auto server = Serve(other_ca_.IssueServer({"127.0.0.2"}));
  EXPECT_TRUE(ListWith({.server = server->url(), .insecure_skip_tls_verify = true}).ok());
}

TEST_F(RestApiClientTlsTest, ClientCertificateAuthenticates) {
  auto server = Serve(ca_.IssueServer({"127.0.0.1"}), /*client_ca=*/ca_.cert_pem());
  testing::CertAndKey client_cert = ca_.IssueClient("system:kube-proxy");
  EXPECT_TRUE(ListWith({.server = server->url(),
                        .ca_pem = ca_.cert_pem(),
                        .client_cert_pem = client_cert.cert_pem,
                        .client_key_pem = client_cert.key_pem})
                  .ok());
  EXPECT_FALSE(ListWith({.server = server->url(), .ca_pem = ca_.cert_pem()}).ok());
}

// The Reflector on the REST client over HTTPS: list, a watch event, and a
// Stop() that cancels a watch the server holds open.
TEST_F(RestApiClientTlsTest, ReflectorListsWatchesAndStopsPromptly) {
  testing::CertAndKey cert = ca_.IssueServer({"127.0.0.1"});
  auto server = ScriptedServer::Start(
      [](const ServerRequest& request, ServerConnection& connection) {
        if (!absl::StrContains(request.target, "watch=1")) {
          connection.SendResponse(
              200, R"({"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"42"},)"
                   R"("items":[{"metadata":{"name":"a","namespace":"default","resourceVersion":"41"}}]})");
          return;
        }
        connection.StartChunked();
        connection.SendChunk(EventLine("ADDED", "b", "43"));
        connection.WaitUntilClientCloses();
      },
      ServerTls{cert.cert_pem, cert.key_pem, ""});
  auto client = NewClient(ClientConfig{.server = server->url(), .ca_pem = ca_.cert_pem(), .token = "t"});
  testing::RecordingHandler handler;
  Reflector reflector(client.get(), Services(), &handler);
  reflector.Start();

  std::vector<std::string> log;
  for (absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline && log.size() < 3;) {
    std::vector<std::string> more = handler.TakeLog();
    log.insert(log.end(), more.begin(), more.end());
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_THAT(log, ElementsAre("upsert default/a@41", "synced", "upsert default/b@43"));
  const absl::Time start = absl::Now();
  reflector.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_THAT(server->requests().at(1).target, HasSubstr("watch=1&resourceVersion=42&allowWatchBookmarks=true"));
}

}  // namespace
}  // namespace bpfproxy::k8s
