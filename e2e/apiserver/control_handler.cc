#include "e2e/apiserver/control_handler.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "e2e/apiserver/objects_file.h"

namespace bpfproxy::e2e::apiserver {
namespace {

HttpResponse ApplyOne(ObjectStore& store, const std::string& body) {
  absl::StatusOr<std::vector<nlohmann::json>> objects = ParseObjects(body);
  if (!objects.ok()) return ErrorResponse(objects.status());
  if (objects->size() != 1) return ErrorResponse(absl::InvalidArgumentError("expected exactly one object"));
  absl::StatusOr<nlohmann::json> stored = store.Apply(objects->front());
  return stored.ok() ? JsonResponse(200, *stored) : ErrorResponse(stored.status());
}

HttpResponse ApplyBulk(ObjectStore& store, const std::string& body) {
  absl::StatusOr<std::vector<nlohmann::json>> objects = ParseObjects(body);
  if (!objects.ok()) return ErrorResponse(objects.status());
  absl::StatusOr<int64_t> rv = ApplyObjects(store, *objects);
  if (!rv.ok()) return ErrorResponse(rv.status());
  return JsonResponse(200, {{"applied", objects->size()}, {"resourceVersion", absl::StrCat(*rv)}});
}

// /emulator/objects/{resource}/{namespace or _}/{name}
HttpResponse DeleteObject(ObjectStore& store, absl::string_view rest) {
  std::vector<std::string> parts = absl::StrSplit(rest, '/');
  std::optional<Resource> resource = parts.size() == 3 ? ResourceByPlural(parts[0]) : std::nullopt;
  if (!resource) {
    return ErrorResponse(absl::NotFoundError("expected /emulator/objects/{services|endpointslices|nodes}/{namespace|_}/{name}"));
  }
  std::string ns = parts[1] == "_" ? "" : parts[1];
  absl::StatusOr<nlohmann::json> deleted = store.Delete(*resource, ns, parts[2]);
  return deleted.ok() ? JsonResponse(200, *deleted) : ErrorResponse(deleted.status());
}

nlohmann::json State(const ObjectStore& store) {
  return {{"resourceVersion", absl::StrCat(store.CurrentRv())},
          {"compactedResourceVersion", absl::StrCat(store.CompactedRv())},
          {"openWatches", store.WatchCount()}};
}

}  // namespace

absl::StatusOr<int64_t> ApplyObjects(ObjectStore& store, const std::vector<nlohmann::json>& objects) {
  for (size_t i = 0; i < objects.size(); ++i) {
    nlohmann::json copy = objects[i];
    if (absl::StatusOr<ObjectIdentity> id = IdentifyObject(copy); !id.ok()) {
      return absl::Status(id.status().code(), absl::StrCat("object ", i, ": ", id.status().message()));
    }
  }
  for (const nlohmann::json& object : objects) {
    if (absl::StatusOr<nlohmann::json> stored = store.Apply(object); !stored.ok()) return stored.status();
  }
  return store.CurrentRv();
}

HttpResponse HandleControl(ObjectStore& store, const HttpRequest& request) {
  absl::string_view path = request.path;
  const std::string& method = request.method;
  if (method == "POST" && path == "/emulator/objects") return ApplyOne(store, request.body);
  if (method == "POST" && path == "/emulator/bulk") return ApplyBulk(store, request.body);
  if (method == "DELETE" && absl::ConsumePrefix(&path, "/emulator/objects/")) return DeleteObject(store, path);
  if (method == "POST" && path == "/emulator/compact") {
    return JsonResponse(200, {{"compactedResourceVersion", absl::StrCat(store.Compact())}});
  }
  if (method == "POST" && path == "/emulator/cut-watches") return JsonResponse(200, {{"cutWatches", store.CutWatches()}});
  if (method == "GET" && path == "/emulator/state") return JsonResponse(200, State(store));
  return ErrorResponse(absl::NotFoundError(absl::StrCat("no emulator control ", method, " ", request.path)));
}

}  // namespace bpfproxy::e2e::apiserver
