#include "e2e/apiserver/watcher.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace bpfproxy::e2e::apiserver {
namespace {

std::shared_ptr<const nlohmann::json> StampedCopy(const nlohmann::json& object, int64_t rv) {
  auto copy = std::make_shared<nlohmann::json>(object);
  (*copy)["metadata"]["resourceVersion"] = absl::StrCat(rv);
  return copy;
}

}  // namespace

nlohmann::json BookmarkObject(const ResourceInfo& info, int64_t rv, bool initial_events_end) {
  nlohmann::json metadata = {{"resourceVersion", absl::StrCat(rv)}};
  if (initial_events_end) metadata["annotations"] = {{"k8s.io/initial-events-end", "true"}};
  return {{"kind", std::string(info.kind)}, {"apiVersion", info.ApiVersion()}, {"metadata", std::move(metadata)}};
}

Watcher::Watcher(Resource resource, ObjectFilter filter, int64_t progress_rv)
    : resource_(resource), filter_(std::move(filter)), progress_rv_(progress_rv) {}

void Watcher::Offer(const StoredEvent& event) {
  absl::MutexLock lock(&mu_);
  if (event.rv > progress_rv_) progress_rv_ = event.rv;
  if (event.resource != resource_ || cut_) return;
  bool now_matches = event.type != ChangeType::kDeleted && filter_.Matches(*event.object);
  bool matched = event.previous != nullptr && filter_.Matches(*event.previous);
  if (now_matches) {
    queue_.push_back({matched ? "MODIFIED" : "ADDED", event.object});
  } else if (matched) {
    // Deleted, or no longer selected: the previous content at this change's rv.
    queue_.push_back({"DELETED", event.type == ChangeType::kDeleted ? event.object
                                                                    : StampedCopy(*event.previous, event.rv)});
  }
}

void Watcher::Enqueue(WatchEvent event) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(event));
}

void Watcher::Cut() {
  absl::MutexLock lock(&mu_);
  cut_ = true;
}

Watcher::Wake Watcher::WaitUntil(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return cut_ || !queue_.empty(); };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  if (cut_) return Wake::kCut;
  return queue_.empty() ? Wake::kDeadline : Wake::kEvents;
}

std::vector<WatchEvent> Watcher::Drain(int64_t* progress_rv) {
  absl::MutexLock lock(&mu_);
  std::vector<WatchEvent> events(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  *progress_rv = progress_rv_;
  return events;
}

}  // namespace bpfproxy::e2e::apiserver
