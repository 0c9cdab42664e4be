#include "e2e/apiserver/object_store.h"

#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "e2e/apiserver/api_status.h"
#include "e2e/apiserver/string_compat.h"

namespace bpfproxy::e2e::apiserver {
namespace {

std::string NewUid() {
  static absl::Mutex mu(absl::kConstInit);
  static std::mt19937_64 rng{std::random_device{}()};
  absl::MutexLock lock(&mu);
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x4000;             // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
                         lo & 0xffffffffffffULL);
}

std::string Rfc3339Now() { return absl::FormatTime("%Y-%m-%d%ET%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()); }

// Everything but metadata and status: what the real server's generation tracks.
nlohmann::json SpecPart(const nlohmann::json& object) {
  nlohmann::json spec = object;
  spec.erase("metadata");
  spec.erase("status");
  return spec;
}

bool ShouldUndo(const StoredEvent& event, Resource resource, std::string_view prefix) {
  return event.resource == resource && absl::StartsWith(event.key, AbslView(prefix));
}

}  // namespace

WatchSubscription::~WatchSubscription() { store_->Unwatch(watcher_.get()); }

ObjectStore::ObjectStore(StoreOptions options) : options_(options) {}

void ObjectStore::StampNewVersion(const nlohmann::json* existing, nlohmann::json& object) {
  nlohmann::json& metadata = object["metadata"];
  for (const char* server_set : {"resourceVersion", "uid", "creationTimestamp", "generation"}) {
    if (existing != nullptr) {
      metadata[server_set] = (*existing)["metadata"][server_set];
    } else {
      metadata.erase(server_set);
    }
  }
  if (existing == nullptr) {
    metadata["uid"] = NewUid();
    metadata["creationTimestamp"] = Rfc3339Now();
    metadata["generation"] = 1;
  } else if (SpecPart(*existing) != SpecPart(object)) {
    metadata["generation"] = (*existing)["metadata"].value("generation", int64_t{0}) + 1;
  }
}

absl::StatusOr<nlohmann::json> ObjectStore::Apply(nlohmann::json object) {
  absl::StatusOr<ObjectIdentity> id = IdentifyObject(object);
  if (!id.ok()) return id.status();
  absl::MutexLock lock(&mu_);
  ObjectMap& objects = objects_[id->resource];
  auto it = objects.find(id->key);
  std::shared_ptr<const nlohmann::json> previous = it != objects.end() ? it->second : nullptr;
  StampNewVersion(previous.get(), object);
  if (previous != nullptr && *previous == object) return *previous;
  int64_t rv = current_rv_ + 1;
  object["metadata"]["resourceVersion"] = absl::StrCat(rv);
  auto stored = std::make_shared<const nlohmann::json>(std::move(object));
  objects[id->key] = stored;
  Commit({id->resource, previous ? ChangeType::kModified : ChangeType::kAdded, rv, id->key, stored, previous});
  return *stored;
}

absl::StatusOr<nlohmann::json> ObjectStore::Delete(Resource resource, std::string_view ns, std::string_view name) {
  const ResourceInfo& info = InfoOf(resource);
  std::string key = ObjectKey(info, ns, name);
  absl::MutexLock lock(&mu_);
  ObjectMap& objects = objects_[resource];
  auto it = objects.find(key);
  if (it == objects.end()) return absl::NotFoundError(absl::StrCat(AbslView(info.plural), " \"", AbslView(name), "\" not found"));
  std::shared_ptr<const nlohmann::json> previous = it->second;
  objects.erase(it);
  int64_t rv = current_rv_ + 1;
  auto deleted = std::make_shared<nlohmann::json>(*previous);
  (*deleted)["metadata"]["resourceVersion"] = absl::StrCat(rv);
  Commit({resource, ChangeType::kDeleted, rv, key, deleted, previous});
  return *deleted;
}

void ObjectStore::Commit(StoredEvent event) {
  current_rv_ = event.rv;
  for (const std::shared_ptr<Watcher>& watcher : watchers_) watcher->Offer(event);
  history_.push_back(std::move(event));
  while (history_.size() > options_.history_limit) {
    compacted_rv_ = history_.front().rv;
    history_.pop_front();
  }
}

absl::StatusOr<nlohmann::json> ObjectStore::Get(Resource resource, std::string_view ns, std::string_view name) const {
  const ResourceInfo& info = InfoOf(resource);
  absl::MutexLock lock(&mu_);
  auto objects = objects_.find(resource);
  if (objects != objects_.end()) {
    auto it = objects->second.find(ObjectKey(info, ns, name));
    if (it != objects->second.end()) return *it->second;
  }
  return absl::NotFoundError(absl::StrCat(AbslView(info.plural), " \"", AbslView(name), "\" not found"));
}

absl::StatusOr<ObjectStore::Snapshot> ObjectStore::SnapshotAt(Resource resource, std::string_view key_prefix,
                                                              int64_t rv) const {
  absl::MutexLock lock(&mu_);
  if (rv == 0) rv = current_rv_;
  if (rv > current_rv_) return TooLargeResourceVersion(rv, current_rv_);
  if (rv < compacted_rv_) return TooOldResourceVersion(rv, compacted_rv_);
  Snapshot snapshot{rv, {}};
  if (auto objects = objects_.find(resource); objects != objects_.end()) {
    std::string prefix(key_prefix);
    for (auto it = objects->second.lower_bound(prefix);
         it != objects->second.end() && absl::StartsWith(it->first, prefix); ++it) {
      snapshot.objects.insert(*it);
    }
  }
  // Walk the history back to |rv|, undoing each later change.
  for (auto event = history_.rbegin(); event != history_.rend() && event->rv > rv; ++event) {
    if (!ShouldUndo(*event, resource, key_prefix)) continue;
    if (event->previous == nullptr) {
      snapshot.objects.erase(event->key);
    } else {
      snapshot.objects[event->key] = event->previous;
    }
  }
  return snapshot;
}

void ObjectStore::ReplayInto(Watcher& watcher, const WatchStart& start) {
  if (start.after_rv.has_value()) {
    for (const StoredEvent& event : history_) {
      if (event.rv > *start.after_rv) watcher.Offer(event);
    }
    return;
  }
  if (auto objects = objects_.find(start.resource); start.initial_events && objects != objects_.end()) {
    for (const auto& [key, object] : objects->second) {
      if (start.filter.Matches(*object)) watcher.Enqueue({"ADDED", object});
    }
  }
  if (start.initial_events_end) {
    watcher.Enqueue({"BOOKMARK", std::make_shared<const nlohmann::json>(
                                     BookmarkObject(InfoOf(start.resource), current_rv_, true))});
  }
}

absl::StatusOr<std::unique_ptr<WatchSubscription>> ObjectStore::Watch(WatchStart start) {
  absl::MutexLock lock(&mu_);
  if (start.after_rv.has_value() && *start.after_rv < compacted_rv_) {
    return TooOldResourceVersion(*start.after_rv, compacted_rv_);
  }
  int64_t from = start.after_rv.has_value() ? std::min(*start.after_rv, current_rv_) : current_rv_;
  auto watcher = std::make_shared<Watcher>(start.resource, start.filter, from);
  ReplayInto(*watcher, start);
  watchers_.insert(watcher);
  return std::make_unique<WatchSubscription>(this, std::move(watcher));
}

void ObjectStore::Unwatch(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  for (auto it = watchers_.begin(); it != watchers_.end(); ++it) {
    if (it->get() == watcher) {
      watchers_.erase(it);
      return;
    }
  }
}

int64_t ObjectStore::Compact() {
  absl::MutexLock lock(&mu_);
  history_.clear();
  compacted_rv_ = current_rv_;
  return compacted_rv_;
}

int ObjectStore::CutWatches() {
  absl::MutexLock lock(&mu_);
  int count = static_cast<int>(watchers_.size());
  for (const std::shared_ptr<Watcher>& watcher : watchers_) watcher->Cut();
  watchers_.clear();  // a cut watch no longer counts as open
  return count;
}

int64_t ObjectStore::CurrentRv() const {
  absl::MutexLock lock(&mu_);
  return current_rv_;
}

int64_t ObjectStore::CompactedRv() const {
  absl::MutexLock lock(&mu_);
  return compacted_rv_;
}

size_t ObjectStore::WatchCount() const {
  absl::MutexLock lock(&mu_);
  return watchers_.size();
}

bool ObjectStore::AwaitWatchCount(absl::FunctionRef<bool(size_t)> holds, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return holds(watchers_.size()); };
  return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
}

}  // namespace bpfproxy::e2e::apiserver
