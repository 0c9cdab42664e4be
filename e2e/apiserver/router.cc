#include "e2e/apiserver/router.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "e2e/apiserver/api_paths.h"
#include "e2e/apiserver/control_handler.h"
#include "e2e/apiserver/list_request.h"
#include "e2e/apiserver/watch_request.h"

namespace bpfproxy::e2e::apiserver {
namespace {

nlohmann::json VersionInfo() {
  return {{"major", "1"},           {"minor", "30"},
          {"gitVersion", "v1.30.0-bpfproxy-emulator"},
          {"platform", "linux/amd64"}};
}

}  // namespace

bool Router::Authorized(const HttpRequest& request) const {
  if (options_.token.empty()) return true;
  absl::string_view value = absl::StripAsciiWhitespace(request.authorization);
  if (value.size() < 7 || !absl::EqualsIgnoreCase(value.substr(0, 7), "bearer ")) return false;
  return absl::StripLeadingAsciiWhitespace(value.substr(7)) == options_.token;
}

HandlerResult Router::Handle(const HttpRequest& request) const {
  if (!Authorized(request)) return ErrorResponse(absl::UnauthenticatedError("Unauthorized"));
  if (absl::StartsWith(request.path, "/emulator/")) return HandleControl(*store_, request);
  if (request.path == "/version" && request.method == "GET") return JsonResponse(200, VersionInfo());
  return HandleApi(request);
}

HandlerResult Router::HandleApi(const HttpRequest& request) const {
  absl::StatusOr<ApiPath> path = ParseApiPath(request.path);
  if (!path.ok()) return ErrorResponse(path.status());
  if (request.method != "GET") {
    return ErrorResponse(absl::UnimplementedError("the server does not allow this method on the requested resource"));
  }
  if (path->watch_prefix || IsWatchRequest(request)) return HandleWatch(*store_, *path, request, options_.api);
  if (!path->name.empty()) return HandleGet(*store_, *path);
  return HandleList(*store_, *path, request);
}

}  // namespace bpfproxy::e2e::apiserver
