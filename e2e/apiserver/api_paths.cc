#include "e2e/apiserver/api_paths.h"

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace bpfproxy::e2e::apiserver {
namespace {

absl::Status NotServed() { return absl::NotFoundError("the server could not find the requested resource"); }

}  // namespace

absl::StatusOr<ApiPath> ParseApiPath(std::string_view path) {
  std::vector<std::string> segments =
      absl::StrSplit(absl::string_view(path.data(), path.size()), '/', absl::SkipEmpty());
  absl::Span<const std::string> rest(segments);
  std::string group, version;
  if (rest.size() >= 2 && rest[0] == "api") {
    version = rest[1];
    rest.remove_prefix(2);
  } else if (rest.size() >= 3 && rest[0] == "apis") {
    group = rest[1];
    version = rest[2];
    rest.remove_prefix(3);
  } else {
    return NotServed();
  }
  ApiPath parsed{Resource::kServices, "", "", false};
  if (!rest.empty() && rest[0] == "watch") {
    parsed.watch_prefix = true;
    rest.remove_prefix(1);
  }
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    parsed.ns = rest[1];
    rest.remove_prefix(2);
  }
  if (rest.empty() || rest.size() > 2) return NotServed();
  std::optional<Resource> resource = ResourceByPath(group, version, rest[0]);
  if (!resource) return NotServed();
  parsed.resource = *resource;
  if (rest.size() == 2) parsed.name = rest[1];
  bool namespaced = InfoOf(*resource).namespaced;
  if (!namespaced && !parsed.ns.empty()) return NotServed();
  if (namespaced && parsed.ns.empty() && !parsed.name.empty()) return NotServed();
  return parsed;
}

}  // namespace bpfproxy::e2e::apiserver
