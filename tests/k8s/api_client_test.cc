// Decoding watch lines and API errors, and the Cancellation primitive.
#include "k8s/api_client.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "k8s/cancellation.h"

namespace bpfproxy::k8s {
namespace {

struct WatchLineCase {
  std::string name;
  std::string line;
  absl::StatusCode code;
  WatchEventType type = WatchEventType::kAdded;
};

void PrintTo(const WatchLineCase& c, std::ostream* os) { *os << c.name; }

class ParseWatchEventTest : public ::testing::TestWithParam<WatchLineCase> {};

TEST_P(ParseWatchEventTest, DecodesOrRefuses) {
  const WatchLineCase& c = GetParam();
  absl::StatusOr<WatchEvent> event = ParseWatchEvent(c.line);
  EXPECT_EQ(event.status().code(), c.code) << event.status();
  if (event.ok()) {
    EXPECT_EQ(event->type, c.type);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Lines, ParseWatchEventTest,
    ::testing::Values(
        WatchLineCase{"Added", R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})", absl::StatusCode::kOk,
                      WatchEventType::kAdded},
        WatchLineCase{"Modified", R"({"type":"MODIFIED","object":{}})", absl::StatusCode::kOk,
                      WatchEventType::kModified},
        WatchLineCase{"Deleted", R"({"type":"DELETED","object":{}})", absl::StatusCode::kOk, WatchEventType::kDeleted},
        WatchLineCase{"Bookmark", R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})",
                      absl::StatusCode::kOk, WatchEventType::kBookmark},
        WatchLineCase{"Error", R"({"type":"ERROR","object":{"kind":"Status","code":410}})", absl::StatusCode::kOk,
                      WatchEventType::kError},
        // The object is checked by the reflector, not here.
        WatchLineCase{"ObjectNotAMap", R"({"type":"ADDED","object":"x"})", absl::StatusCode::kOk},
        WatchLineCase{"NotJson", R"({"type":"ADDED","object":)", absl::StatusCode::kDataLoss},
        WatchLineCase{"NotAnObject", R"([1,2])", absl::StatusCode::kDataLoss},
        WatchLineCase{"NoType", R"({"object":{}})", absl::StatusCode::kDataLoss},
        WatchLineCase{"TypeNotAString", R"({"type":1,"object":{}})", absl::StatusCode::kDataLoss},
        WatchLineCase{"UnknownType", R"({"type":"RENAMED","object":{}})", absl::StatusCode::kDataLoss},
        WatchLineCase{"NoObject", R"({"type":"ADDED"})", absl::StatusCode::kDataLoss},
        WatchLineCase{"TooDeep", std::string(1000, '[') + std::string(1000, ']'), absl::StatusCode::kDataLoss},
        WatchLineCase{"BadUtf8", "{\"type\":\"ADDED\",\"object\":\"\xff\"}", absl::StatusCode::kDataLoss}),
    [](const ::testing::TestParamInfo<WatchLineCase>& info) { return info.param.name; });

TEST(ParseJsonTest, BracketsInStringsDoNotCountAsNesting) {
  std::string deep_string = "\"" + std::string(1000, '[') + "\\\"\"";
  EXPECT_TRUE(ParseJson(deep_string).ok());
  EXPECT_TRUE(ParseJson(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')).ok());
  EXPECT_FALSE(ParseJson(std::string(kMaxJsonDepth + 1, '{')).ok());
}

TEST(ApiErrorTest, CarriesHttpCodeAndReason) {
  absl::Status gone = ApiError(410, "Expired", "too old resource version: 1 (5)");
  EXPECT_EQ(gone.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(HttpCode(gone), 410);
  EXPECT_EQ(KubernetesReason(gone), "Expired");
  EXPECT_TRUE(IsGone(gone));
  EXPECT_THAT(std::string(gone.message()), ::testing::HasSubstr("HTTP 410 (Expired): too old"));

  absl::Status forbidden = ApiError(403, "Forbidden", "no");
  EXPECT_EQ(forbidden.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(IsGone(forbidden));
  EXPECT_EQ(ApiError(503, "", "").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ApiError(418, "", "").code(), absl::StatusCode::kFailedPrecondition);

  // A plain status is no API error.
  EXPECT_EQ(HttpCode(absl::UnavailableError("connection refused")), 0);
  EXPECT_FALSE(IsGone(absl::UnavailableError("connection refused")));
}

TEST(StatusFromKubernetesStatusTest, ReadsCodeReasonMessageAndSurvivesGarbage) {
  nlohmann::json expired = {
      {"kind", "Status"}, {"status", "Failure"}, {"message", "too old"}, {"reason", "Expired"}, {"code", 410}};
  EXPECT_TRUE(IsGone(StatusFromKubernetesStatus(expired, 0)));
  // A reason alone says Gone too.
  EXPECT_TRUE(IsGone(StatusFromKubernetesStatus({{"reason", "Gone"}}, 0)));
  // The answer's HTTP code fills in a missing code.
  EXPECT_EQ(HttpCode(StatusFromKubernetesStatus({{"message", "x"}}, 404)), 404);
  // Garbage: no crash, a server error.
  EXPECT_EQ(HttpCode(StatusFromKubernetesStatus("oops", 0)), 500);
  EXPECT_EQ(HttpCode(StatusFromKubernetesStatus({{"code", "410"}, {"reason", 5}}, 0)), 500);
  EXPECT_EQ(HttpCode(StatusFromKubernetesStatus({{"code", 99999}}, 0)), 500);
}

TEST(CancellationTest, RunsHooksOnceAndLateHooksAtOnce) {
  Cancellation cancellation;
  int early = 0, removed = 0, late = 0;
  Cancellation::Hook hook = cancellation.OnCancel([&] { ++early; });
  {
    Cancellation::Hook gone = cancellation.OnCancel([&] { ++removed; });
  }
  EXPECT_FALSE(cancellation.cancelled());
  cancellation.Cancel();
  cancellation.Cancel();
  EXPECT_TRUE(cancellation.cancelled());
  Cancellation::Hook after = cancellation.OnCancel([&] { ++late; });
  EXPECT_EQ(early, 1);
  EXPECT_EQ(removed, 0);
  EXPECT_EQ(late, 1);
}

}  // namespace
}  // namespace bpfproxy::k8s
