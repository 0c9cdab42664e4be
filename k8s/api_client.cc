#include "k8s/api_client.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bpfproxy::k8s {
namespace {

// Payload type URLs of an ApiError.
constexpr absl::string_view kHttpCodePayload = "bpfproxy.k8s/http_code";
constexpr absl::string_view kReasonPayload = "bpfproxy.k8s/reason";

absl::StatusCode CodeForHttp(int http_code) {
  switch (http_code) {
    case 400: return absl::StatusCode::kInvalidArgument;
    case 401: return absl::StatusCode::kUnauthenticated;
    case 403: return absl::StatusCode::kPermissionDenied;
    case 404: return absl::StatusCode::kNotFound;
    case 409: return absl::StatusCode::kAborted;
    // Gone: the resourceVersion or continue token no longer exists.
    case 410: return absl::StatusCode::kFailedPrecondition;
    case 422: return absl::StatusCode::kInvalidArgument;
    case 429: return absl::StatusCode::kResourceExhausted;
    case 500: return absl::StatusCode::kInternal;
    case 501: return absl::StatusCode::kUnimplemented;
    case 503: return absl::StatusCode::kUnavailable;
    case 504: return absl::StatusCode::kDeadlineExceeded;
    default: break;
  }
  if (http_code >= 500 && http_code < 600) return absl::StatusCode::kUnavailable;
  if (http_code >= 400 && http_code < 500) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kUnknown;
}

// True if no array/object in |text| nests deeper than |max_depth|. Brackets
// inside strings do not count; the JSON itself is validated by the parser.
bool NestingWithin(absl::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // skip the escaped character
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

std::optional<WatchEventType> ParseEventType(absl::string_view type) {
  if (type == "ADDED") return WatchEventType::kAdded;
  if (type == "MODIFIED") return WatchEventType::kModified;
  if (type == "DELETED") return WatchEventType::kDeleted;
  if (type == "BOOKMARK") return WatchEventType::kBookmark;
  if (type == "ERROR") return WatchEventType::kError;
  return std::nullopt;
}

}  // namespace

absl::string_view WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded: return "ADDED";
    case WatchEventType::kModified: return "MODIFIED";
    case WatchEventType::kDeleted: return "DELETED";
    case WatchEventType::kBookmark: return "BOOKMARK";
    case WatchEventType::kError: return "ERROR";
  }
  return "UNKNOWN";
}

absl::Status ApiError(int http_code, absl::string_view reason, absl::string_view message) {
  std::string text = absl::StrCat("HTTP ", http_code);
  if (!reason.empty()) absl::StrAppend(&text, " (", reason, ")");
  if (!message.empty()) absl::StrAppend(&text, ": ", message);
  absl::Status status(CodeForHttp(http_code), text);
  status.SetPayload(kHttpCodePayload, absl::Cord(absl::StrCat(http_code)));
  if (!reason.empty()) status.SetPayload(kReasonPayload, absl::Cord(reason));
  return status;
}

absl::Status StatusFromKubernetesStatus(const nlohmann::json& status, int http_code) {
  if (!status.is_object()) {
    return ApiError(http_code != 0 ? http_code : 500, "", absl::StrCat("malformed Status: ", JsonForLog(status)));
  }
  int code = http_code;
  if (auto it = status.find("code"); it != status.end() && it->is_number_integer()) {
    int64_t value = it->get<int64_t>();
    if (value > 0 && value < 1000) code = static_cast<int>(value);
  }
  std::string reason;
  if (auto it = status.find("reason"); it != status.end() && it->is_string()) reason = it->get<std::string>();
  std::string message;
  if (auto it = status.find("message"); it != status.end() && it->is_string()) message = it->get<std::string>();
  if (code == 0) code = 500;  // a Failure without a code: treat as a server error
  return ApiError(code, reason, message);
}

int HttpCode(const absl::Status& status) {
  auto payload = status.GetPayload(kHttpCodePayload);
  int code = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &code)) return 0;
  return code;
}

std::string KubernetesReason(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonPayload);
  return payload.has_value() ? std::string(*payload) : std::string();
}

bool IsGone(const absl::Status& status) {
  if (status.ok()) return false;
  if (HttpCode(status) == 410) return true;
  std::string reason = KubernetesReason(status);
  return reason == "Expired" || reason == "Gone";
}

absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text) {
  if (!NestingWithin(text, kMaxJsonDepth)) {
    return absl::DataLossError(absl::StrCat("JSON nested deeper than ", kMaxJsonDepth, " levels"));
  }
  nlohmann::json value = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return absl::DataLossError(absl::StrCat("invalid JSON: ", text.substr(0, 200)));
  }
  return value;
}

absl::StatusOr<WatchEvent> ParseWatchEvent(absl::string_view line) {
  absl::StatusOr<nlohmann::json> value = ParseJson(line);
  if (!value.ok()) return value.status();
  if (!value->is_object())
    return absl::DataLossError(absl::StrCat("watch event is not an object: ", JsonForLog(*value)));
  auto type = value->find("type");
  auto object = value->find("object");
  if (type == value->end() || !type->is_string()) {
    return absl::DataLossError(absl::StrCat("watch event without a type: ", JsonForLog(*value)));
  }
  std::optional<WatchEventType> parsed = ParseEventType(type->get_ref<const std::string&>());
  if (!parsed.has_value()) {
    return absl::DataLossError(absl::StrCat("unknown watch event type: ", JsonForLog(*type)));
  }
  if (object == value->end()) {
    return absl::DataLossError(absl::StrCat("watch event without an object: ", JsonForLog(*value)));
  }
  return WatchEvent{*parsed, std::move(*object)};
}

std::string JsonForLog(const nlohmann::json& value, size_t max_chars) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > max_chars) {
    text.resize(max_chars);
    text += "...";
  }
  return text;
}

}  // namespace bpfproxy::k8s
