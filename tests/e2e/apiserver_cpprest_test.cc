// The emulator with the HTTP client the project's API client is built on
// (cpprestsdk): TLS verified against the test CA, bearer token, a list, and
// a watch whose body is read event by event while changes are made.
#include <string>

// cpprestsdk otherwise defines a macro U() that breaks GoogleTest's headers.
#define _TURN_OFF_PLATFORM_STRING
#include <boost/asio/ssl/context.hpp>
#include <cpprest/http_client.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/apiserver_test_util.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::e2e::apiserver::testing {
namespace {

namespace http = web::http;

class ApiServerCpprestTest : public EmulatorTest {
 protected:
  void SetUp() override { StartEmulator(); }

  http::client::http_client MakeClient() {
    http::client::http_client_config config;
    std::string ca = pki().ca_cert;
    config.set_ssl_context_callback([ca](boost::asio::ssl::context& context) { context.load_verify_file(ca); });
    config.set_timeout(std::chrono::seconds(10));
    return http::client::http_client(emulator().url(), config);
  }

  http::http_request Get(const std::string& target) {
    http::http_request request(http::methods::GET);
    request.set_request_uri(target);
    request.headers().add("Authorization", "Bearer " + pki().token);
    return request;
  }

  // One line of a streamed body ("" at its end).
  static std::string ReadLine(concurrency::streams::istream& body) {
    concurrency::streams::stringstreambuf line;
    body.read_line(line).get();
    return line.collection();
  }
};

TEST_F(ApiServerCpprestTest, ListsOverVerifiedTls) {
  ASSERT_OK(emulator().Apply(Service("default", "web")).status());
  http::client::http_client client = MakeClient();
  http::http_response response = client.request(Get("/api/v1/namespaces/default/services")).get();
  EXPECT_EQ(response.status_code(), 200);
  nlohmann::json list = nlohmann::json::parse(response.extract_utf8string(true).get());
  EXPECT_EQ(list["kind"], "ServiceList");
  EXPECT_EQ(NameOf(list["items"][0]), "web");
  // The same connection-reusing client, without the token.
  http::http_request anonymous(http::methods::GET);
  anonymous.set_request_uri("/api/v1/services");
  EXPECT_EQ(client.request(anonymous).get().status_code(), 401);
}

TEST_F(ApiServerCpprestTest, WatchBodyStreamsEventByEventAndEndsAtTheTimeout) {
  http::client::http_client client = MakeClient();
  http::http_response response = client
      .request(Get(absl::StrCat("/api/v1/services?watch=1&timeoutSeconds=2&resourceVersion=",
                                emulator().ResourceVersion())))
      .get();
  ASSERT_EQ(response.status_code(), 200);
  concurrency::streams::istream body = response.body();
  for (std::string name : {"a", "b"}) {
    ASSERT_OK(emulator().Apply(Service("default", name)).status());
    nlohmann::json event = nlohmann::json::parse(ReadLine(body));
    EXPECT_EQ(event["type"], "ADDED");
    EXPECT_EQ(NameOf(event["object"]), name);
  }
  EXPECT_EQ(ReadLine(body), "");
  EXPECT_TRUE(body.is_eof());
}

}  // namespace
}  // namespace bpfproxy::e2e::apiserver::testing
