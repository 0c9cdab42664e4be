#include "e2e/apiserver/api_status.h"

#include "absl/types/optional.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace bpfproxy::e2e::apiserver {
namespace {

constexpr char kContinuePayload[] = "k8s.io/continue";

struct CodeAndReason {
  int http;
  std::string_view reason;
};

CodeAndReason Classify(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnauthenticated: return {401, "Unauthorized"};
    case absl::StatusCode::kInvalidArgument: return {400, "BadRequest"};
    case absl::StatusCode::kNotFound: return {404, "NotFound"};
    case absl::StatusCode::kUnimplemented: return {405, "MethodNotAllowed"};
    case absl::StatusCode::kAlreadyExists: return {409, "AlreadyExists"};
    case absl::StatusCode::kOutOfRange: return {410, "Expired"};
    case absl::StatusCode::kFailedPrecondition: return {422, "Invalid"};
    case absl::StatusCode::kDeadlineExceeded: return {504, "Timeout"};
    default: return {500, "InternalError"};
  }
}

}  // namespace

int HttpCodeOf(const absl::Status& status) { return status.ok() ? 200 : Classify(status.code()).http; }

std::string_view ReasonOf(const absl::Status& status) {
  return status.ok() ? std::string_view() : Classify(status.code()).reason;
}

nlohmann::json StatusObject(const absl::Status& status) {
  nlohmann::json metadata = nlohmann::json::object();
  if (absl::optional<absl::Cord> token = status.GetPayload(kContinuePayload)) {
    metadata["continue"] = std::string(*token);
  }
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", std::move(metadata)},
          {"status", "Failure"},
          {"message", std::string(status.message())},
          {"reason", std::string(ReasonOf(status))},
          {"code", HttpCodeOf(status)}};
}

absl::Status WithContinueToken(absl::Status status, std::string_view token) {
  status.SetPayload(kContinuePayload, absl::Cord(absl::string_view(token.data(), token.size())));
  return status;
}

absl::Status TooOldResourceVersion(int64_t requested, int64_t oldest) {
  return absl::OutOfRangeError(absl::StrCat("too old resource version: ", requested, " (", oldest, ")"));
}

absl::Status TooLargeResourceVersion(int64_t requested, int64_t current) {
  return absl::DeadlineExceededError(
      absl::StrCat("Too large resource version: ", requested, ", current: ", current));
}

}  // namespace bpfproxy::e2e::apiserver
