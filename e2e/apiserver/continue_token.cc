#include "e2e/apiserver/continue_token.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::e2e::apiserver {
namespace {

constexpr char kTokenVersion[] = "meta.k8s.io/v1";

absl::Status Invalid(std::string_view why) {
  return absl::InvalidArgumentError(std::string("continue key is not valid: ") + std::string(why));
}

}  // namespace

std::string EncodeContinueToken(const ContinueToken& token) {
  nlohmann::json body = {{"v", kTokenVersion}, {"rv", token.rv}, {"start", token.last_key}};
  return absl::WebSafeBase64Escape(body.dump());
}

absl::StatusOr<ContinueToken> DecodeContinueToken(std::string_view text) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(absl::string_view(text.data(), text.size()), &raw)) {
    return Invalid("not base64");
  }
  nlohmann::json body = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || body.value("v", "") != kTokenVersion) return Invalid("unknown version");
  auto rv = body.find("rv");
  auto start = body.find("start");
  if (rv == body.end() || !rv->is_number_integer() || start == body.end() || !start->is_string()) {
    return Invalid("missing fields");
  }
  if (rv->get<int64_t>() == 0 || rv->get<int64_t>() < -1) return Invalid("incorrect encoded start resourceVersion");
  return ContinueToken{rv->get<int64_t>(), start->get<std::string>()};
}

}  // namespace bpfproxy::e2e::apiserver
