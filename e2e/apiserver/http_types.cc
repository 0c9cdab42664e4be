#include "e2e/apiserver/http_types.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "e2e/apiserver/api_status.h"

namespace bpfproxy::e2e::apiserver {
namespace {

absl::StatusOr<std::string> PercentDecode(absl::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else {
      int value = 0;
      if (i + 2 >= text.size()) {
        return absl::InvalidArgumentError("truncated percent escape");
      }
      if (!absl::SimpleHexAtoi(text.substr(i + 1, 2), &value)) return absl::InvalidArgumentError("bad percent escape");
      out.push_back(static_cast<char>(value));
      i += 2;
    }
  }
  return out;
}

}  // namespace

std::string HttpRequest::Param(std::string_view key) const {
  auto it = query.find(std::string(key));
  return it == query.end() ? std::string() : it->second;
}

HttpResponse JsonResponse(int code, const nlohmann::json& body) { return {code, DumpJson(body) + "\n"}; }

HttpResponse ErrorResponse(const absl::Status& status) { return JsonResponse(HttpCodeOf(status), StatusObject(status)); }

absl::Status ParseTarget(std::string_view target, HttpRequest& request) {
  absl::string_view whole(target.data(), target.size());
  size_t question = whole.find('?');
  absl::StatusOr<std::string> path = PercentDecode(whole.substr(0, question), false);
  if (!path.ok()) return path.status();
  request.path = *std::move(path);
  if (question == absl::string_view::npos) return absl::OkStatus();
  for (absl::string_view pair : absl::StrSplit(whole.substr(question + 1), '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    absl::StatusOr<std::string> key = PercentDecode(kv.first, true);
    absl::StatusOr<std::string> value = PercentDecode(kv.second, true);
    if (!key.ok()) return key.status();
    if (!value.ok()) return value.status();
    request.query.emplace(*std::move(key), *std::move(value));
  }
  return absl::OkStatus();
}

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace bpfproxy::e2e::apiserver
