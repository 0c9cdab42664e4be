#include "e2e/apiserver/list_request.h"

#include <iterator>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "e2e/apiserver/api_status.h"
#include "e2e/apiserver/continue_token.h"

namespace bpfproxy::e2e::apiserver {
namespace {

constexpr char kExpiredContinueMessage[] =
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list.";

// Parameter combinations the real server rejects as an Invalid ListOptions
// are 422 (FailedPrecondition); storage-level refusals are 400.

// Which snapshot to read and where in it to start.
struct ListPlan {
  int64_t rv = 0;        // 0: the most recent
  std::string last_key;  // start after this key
  bool continued = false;
};

absl::StatusOr<int64_t> ParseLimit(const HttpRequest& request) {
  std::string text = request.Param("limit");
  int64_t limit = 0;
  if (!text.empty() && !absl::SimpleAtoi(text, &limit)) {
    return absl::InvalidArgumentError(absl::StrCat("limit: Invalid value: \"", text, "\""));
  }
  return limit > 0 ? limit : 0;
}

absl::StatusOr<ListPlan> PlanContinue(const std::string& rv, const std::string& match, const std::string& token) {
  if (!match.empty()) return absl::FailedPreconditionError("resourceVersionMatch is forbidden when continue is provided");
  if (!rv.empty() && rv != "0") {
    return absl::InvalidArgumentError("specifying resource version is not allowed when using continue");
  }
  absl::StatusOr<ContinueToken> decoded = DecodeContinueToken(token);
  if (!decoded.ok()) return decoded.status();
  return ListPlan{decoded->rv == -1 ? 0 : decoded->rv, decoded->last_key, true};
}

absl::StatusOr<ListPlan> PlanList(const ObjectStore& store, const HttpRequest& request, int64_t limit) {
  std::string rv = request.Param("resourceVersion"), match = request.Param("resourceVersionMatch");
  if (!match.empty() && match != "Exact" && match != "NotOlderThan") {
    return absl::FailedPreconditionError(absl::StrCat("resourceVersionMatch: Unsupported value: \"", match,
                                                   "\": supported values: \"Exact\", \"NotOlderThan\""));
  }
  if (std::string token = request.Param("continue"); !token.empty()) return PlanContinue(rv, match, token);
  if (rv.empty() || rv == "0") {
    if (!match.empty() && (rv.empty() || match == "Exact")) {
      return absl::FailedPreconditionError(absl::StrCat("resourceVersionMatch \"", match,
                                                     "\" is forbidden for resourceVersion \"", rv, "\""));
    }
    return ListPlan{};
  }
  int64_t version = 0;
  if (!absl::SimpleAtoi(rv, &version) || version <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("resourceVersion: Invalid value: \"", rv, "\""));
  }
  if (match == "Exact" || (match.empty() && limit > 0)) return ListPlan{version, "", false};
  if (int64_t current = store.CurrentRv(); version > current) return TooLargeResourceVersion(version, current);
  return ListPlan{};
}

nlohmann::json ListItem(const nlohmann::json& object) {
  nlohmann::json item = object;
  item.erase("kind");
  item.erase("apiVersion");
  return item;
}

// One page of |snapshot|: at most |limit| (0: all) matching objects after
// |plan.last_key|. Like the etcd-backed server, a full page carries a
// continue token whenever any key follows, matching or not.
nlohmann::json Page(const ObjectStore::Snapshot& snapshot, const ObjectFilter& filter, const ListPlan& plan,
                    int64_t limit) {
  nlohmann::json items = nlohmann::json::array();
  nlohmann::json metadata = {{"resourceVersion", absl::StrCat(snapshot.rv)}};
  auto it = plan.last_key.empty() ? snapshot.objects.begin() : snapshot.objects.upper_bound(plan.last_key);
  std::string last_key;
  for (; it != snapshot.objects.end(); ++it) {
    if (limit > 0 && static_cast<int64_t>(items.size()) == limit) {
      metadata["continue"] = EncodeContinueToken({snapshot.rv, last_key});
      if (!filter.HasSelectors()) metadata["remainingItemCount"] = std::distance(it, snapshot.objects.end());
      break;
    }
    if (!filter.Matches(*it->second)) continue;
    items.push_back(ListItem(*it->second));
    last_key = it->first;
  }
  return {{"metadata", std::move(metadata)}, {"items", std::move(items)}};
}

}  // namespace

absl::StatusOr<ObjectFilter> FilterFor(const ApiPath& path, const HttpRequest& request) {
  absl::StatusOr<LabelSelector> labels = LabelSelector::Parse(request.Param("labelSelector"));
  if (!labels.ok()) return labels.status();
  absl::StatusOr<FieldSelector> fields = FieldSelector::Parse(request.Param("fieldSelector"));
  if (!fields.ok()) return fields.status();
  return ObjectFilter{path.ns, *std::move(labels), *std::move(fields)};
}

HttpResponse HandleGet(const ObjectStore& store, const ApiPath& path) {
  absl::StatusOr<nlohmann::json> object = store.Get(path.resource, path.ns, path.name);
  return object.ok() ? JsonResponse(200, *object) : ErrorResponse(object.status());
}

HttpResponse HandleList(const ObjectStore& store, const ApiPath& path, const HttpRequest& request) {
  absl::StatusOr<ObjectFilter> filter = FilterFor(path, request);
  if (!filter.ok()) return ErrorResponse(filter.status());
  absl::StatusOr<int64_t> limit = ParseLimit(request);
  if (!limit.ok()) return ErrorResponse(limit.status());
  absl::StatusOr<ListPlan> plan = PlanList(store, request, *limit);
  if (!plan.ok()) return ErrorResponse(plan.status());
  const ResourceInfo& info = InfoOf(path.resource);
  std::string prefix = path.ns.empty() ? "" : absl::StrCat(path.ns, "/");
  if (!plan->last_key.empty() && !absl::StartsWith(plan->last_key, prefix)) {
    return ErrorResponse(absl::InvalidArgumentError("continue key is not valid: not in this collection"));
  }
  absl::StatusOr<ObjectStore::Snapshot> snapshot = store.SnapshotAt(path.resource, prefix, plan->rv);
  if (!snapshot.ok() && plan->continued && absl::IsOutOfRange(snapshot.status())) {
    return ErrorResponse(WithContinueToken(absl::OutOfRangeError(kExpiredContinueMessage),
                                           EncodeContinueToken({-1, plan->last_key})));
  }
  if (!snapshot.ok()) return ErrorResponse(snapshot.status());
  nlohmann::ordered_json list;  // upstream's field order: kind, apiVersion, metadata, items
  list["kind"] = std::string(info.list_kind);
  list["apiVersion"] = info.ApiVersion();
  nlohmann::json page = Page(*snapshot, *filter, *plan, *limit);
  list["metadata"] = std::move(page["metadata"]);
  list["items"] = std::move(page["items"]);
  return {200, list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

}  // namespace bpfproxy::e2e::apiserver
