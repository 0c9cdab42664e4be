#include "proxy/frontends_file.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bpfproxy {
namespace {

L4Address L4(const char* text) { return L4Address::Parse(text).value(); }

TEST(FrontendsFileTest, ParsesFrontendsWithAndWithoutBackends) {
  absl::StatusOr<DesiredFrontends> got = ParseFrontendsJson(R"({"frontends": [
      {"frontend": "10.96.0.10:80/TCP", "backends": ["10.244.0.10:8080/TCP", "10.244.0.11:8080/TCP"]},
      {"frontend": "[fd00:96::10]:53/UDP", "backends": []},
      {"frontend": "10.96.0.11:443/TCP"}]})");
  ASSERT_TRUE(got.ok()) << got.status();
  DesiredFrontends want = {
      {L4("10.96.0.10:80/TCP"), {L4("10.244.0.10:8080/TCP"), L4("10.244.0.11:8080/TCP")}},
      {L4("[fd00:96::10]:53/UDP"), {}},
      {L4("10.96.0.11:443/TCP"), {}},
  };
  EXPECT_EQ(*got, want);
}

TEST(FrontendsFileTest, RejectsMalformedDocumentsWithTheReason) {
  struct Case {
    const char* json;
    const char* message_part;
  };
  for (const Case& c : std::vector<Case>{
           {"{not json", "expected {\"frontends\""},
           {R"({"services": []})", "expected {\"frontends\""},
           {R"({"frontends": [{"backends": []}]})", "without \"frontend\""},
           {R"({"frontends": [{"frontend": "10.96.0.10:80"}]})", "not IP:port/PROTO"},
           {R"({"frontends": [{"frontend": "10.96.0.10:80/TCP", "backends": [7]}]})", "not a string"},
           {R"({"frontends": [{"frontend": "10.96.0.10:80/TCP", "backends": ["x:1/TCP"]}]})", "not IP:port/PROTO"},
       }) {
    absl::StatusOr<DesiredFrontends> got = ParseFrontendsJson(c.json);
    ASSERT_FALSE(got.ok()) << c.json;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_NE(got.status().message().find(c.message_part), absl::string_view::npos)
        << c.json << " -> " << got.status();
  }
}

TEST(FrontendsFileTest, MissingFileIsNotFound) {
  absl::StatusOr<DesiredFrontends> got = ReadFrontendsFile("/nonexistent/bpfproxy-frontends.json");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace bpfproxy
