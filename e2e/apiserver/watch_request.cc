#include "e2e/apiserver/watch_request.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "e2e/apiserver/api_status.h"
#include "e2e/apiserver/list_request.h"

namespace bpfproxy::e2e::apiserver {
namespace {

bool ParseBool(const std::string& text) {
  return text == "1" || text == "t" || text == "T" || text == "true" || text == "TRUE" || text == "True";
}

// As upstream validates ListOptions for a watch: resourceVersionMatch only
// together with sendInitialEvents (given at all, true or false).
absl::Status ValidateInitialEvents(const HttpRequest& request) {
  std::string match = request.Param("resourceVersionMatch");
  bool given = request.query.contains("sendInitialEvents");
  if (!given && !match.empty()) {
    return absl::FailedPreconditionError("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
  }
  if (given && match != "NotOlderThan") {
    return absl::FailedPreconditionError(
        "sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan");
  }
  if (given && !ParseBool(request.Param("allowWatchBookmarks"))) {
    return absl::FailedPreconditionError("sendInitialEvents requires setting allowWatchBookmarks to true");
  }
  return absl::OkStatus();
}

absl::StatusOr<WatchStart> StartFor(const ApiPath& path, const HttpRequest& request) {
  absl::StatusOr<ObjectFilter> filter = FilterFor(path, request);
  if (!filter.ok()) return filter.status();
  if (!path.name.empty()) {
    // A watch on one object's path watches the collection for that name.
    absl::StatusOr<FieldSelector> by_name = FieldSelector::Parse(absl::StrCat("metadata.name=", path.name));
    if (!filter->fields.empty() || !by_name.ok()) return absl::InvalidArgumentError("fieldSelector on a named watch");
    filter->fields = *std::move(by_name);
  }
  if (absl::Status valid = ValidateInitialEvents(request); !valid.ok()) return valid;
  bool send_initial_events = ParseBool(request.Param("sendInitialEvents"));
  bool explicitly_not = request.query.contains("sendInitialEvents") && !send_initial_events;
  WatchStart start{path.resource, *std::move(filter), std::nullopt, !explicitly_not, send_initial_events};
  std::string rv = request.Param("resourceVersion");
  if (send_initial_events || rv.empty() || rv == "0") return start;
  int64_t after = 0;
  if (!absl::SimpleAtoi(rv, &after) || after <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("resourceVersion: Invalid value: \"", rv, "\""));
  }
  start.after_rv = after;
  return start;
}

absl::StatusOr<StreamOptions> StreamOptionsFor(const HttpRequest& request, const ApiOptions& options) {
  StreamOptions stream;
  stream.timeout = options.default_watch_timeout;
  stream.bookmarks = ParseBool(request.Param("allowWatchBookmarks"));
  stream.bookmark_interval = options.bookmark_interval;
  if (std::string text = request.Param("timeoutSeconds"); !text.empty()) {
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(text, &seconds) || seconds < 0) {
      return absl::InvalidArgumentError(absl::StrCat("timeoutSeconds: Invalid value: \"", text, "\""));
    }
    if (seconds > 0) stream.timeout = absl::Seconds(seconds);
  }
  return stream;
}

}  // namespace

bool IsWatchRequest(const HttpRequest& request) { return ParseBool(request.Param("watch")); }

HandlerResult HandleWatch(ObjectStore& store, const ApiPath& path, const HttpRequest& request,
                          const ApiOptions& options) {
  absl::StatusOr<WatchStart> start = StartFor(path, request);
  if (!start.ok()) return ErrorResponse(start.status());
  absl::StatusOr<StreamOptions> stream = StreamOptionsFor(request, options);
  if (!stream.ok()) return ErrorResponse(stream.status());
  absl::StatusOr<std::unique_ptr<WatchSubscription>> subscription = store.Watch(*std::move(start));
  if (subscription.ok()) return WatchResponse{*std::move(subscription), std::nullopt, *stream};
  if (absl::IsOutOfRange(subscription.status()) && !options.expired_as_http_410) {
    return WatchResponse{nullptr, StatusObject(subscription.status()), *stream};
  }
  return ErrorResponse(subscription.status());
}

}  // namespace bpfproxy::e2e::apiserver
