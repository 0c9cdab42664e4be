// The emulator's storage: current objects per resource, one global
// resourceVersion counter, a bounded history of changes (the stand-in for
// etcd's revisions and the watch cache) and the registry of open watches.
//
// Every change gets the next resourceVersion; the history keeps the last
// |history_limit| changes. A resourceVersion older than the oldest one the
// history can still replay from ("compacted") is Expired (410) for watches,
// exact-version lists and continue tokens alike.
#ifndef BPFPROXY_E2E_APISERVER_OBJECT_STORE_H_
#define BPFPROXY_E2E_APISERVER_OBJECT_STORE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "e2e/apiserver/resources.h"
#include "e2e/apiserver/selectors.h"
#include "e2e/apiserver/watcher.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::e2e::apiserver {

using ObjectMap = absl::btree_map<std::string, std::shared_ptr<const nlohmann::json>>;

struct StoreOptions {
  size_t history_limit = 1000;  // retained changes
};

// Where a watch starts.
struct WatchStart {
  Resource resource;
  ObjectFilter filter;
  // Replay the changes after this resourceVersion; nullopt: start now.
  std::optional<int64_t> after_rv;
  // When starting now: first the current objects as ADDED events
  // (resourceVersion unset or "0", or sendInitialEvents=true).
  bool initial_events = true;
  // After the initial ADDED events, a BOOKMARK annotated
  // k8s.io/initial-events-end (sendInitialEvents=true).
  bool initial_events_end = false;
};

class ObjectStore;

// An open watch; closing it (destruction) unregisters the watcher.
class WatchSubscription {
 public:
  WatchSubscription(ObjectStore* store, std::shared_ptr<Watcher> watcher)
      : store_(store), watcher_(std::move(watcher)) {}
  ~WatchSubscription();
  WatchSubscription(const WatchSubscription&) = delete;
  WatchSubscription& operator=(const WatchSubscription&) = delete;
  Watcher& watcher() { return *watcher_; }

 private:
  ObjectStore* store_;
  std::shared_ptr<Watcher> watcher_;
};

class ObjectStore {
 public:
  explicit ObjectStore(StoreOptions options);
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;

  // Create or update. The resource comes from kind/apiVersion. The server
  // sets metadata.resourceVersion, uid, creationTimestamp and generation
  // (uid and creationTimestamp are kept on update; generation grows when
  // anything outside metadata and status changes). An update that changes
  // nothing is a no-op, as on the real server: no new resourceVersion, no event.
  absl::StatusOr<nlohmann::json> Apply(nlohmann::json object);
  // Removes the object; returns its last state at the deletion's resourceVersion.
  absl::StatusOr<nlohmann::json> Delete(Resource resource, std::string_view ns, std::string_view name);
  absl::StatusOr<nlohmann::json> Get(Resource resource, std::string_view ns, std::string_view name) const;

  struct Snapshot {
    int64_t rv;
    ObjectMap objects;
  };
  // The objects of |resource| whose keys start with |key_prefix|, as they
  // were at |rv| (0: now). OutOfRange (Expired) below the compacted version,
  // DeadlineExceeded (Timeout) above the current one.
  absl::StatusOr<Snapshot> SnapshotAt(Resource resource, std::string_view key_prefix, int64_t rv) const;

  absl::StatusOr<std::unique_ptr<WatchSubscription>> Watch(WatchStart start);

  // Drops the whole history: every resourceVersion before now is Expired.
  // Returns the new compacted version (the current one).
  int64_t Compact();
  // Cuts every open watch; returns how many.
  int CutWatches();

  int64_t CurrentRv() const;
  int64_t CompactedRv() const;
  size_t WatchCount() const;
  // Waits until |holds(number of open watches)|; false on timeout.
  bool AwaitWatchCount(absl::FunctionRef<bool(size_t)> holds, absl::Duration timeout) const;

 private:
  friend class WatchSubscription;
  void Unwatch(Watcher* watcher);
  void Commit(StoredEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StampNewVersion(const nlohmann::json* existing, nlohmann::json& object) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReplayInto(Watcher& watcher, const WatchStart& start) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const StoreOptions options_;
  mutable absl::Mutex mu_;
  std::map<Resource, ObjectMap> objects_ ABSL_GUARDED_BY(mu_);
  int64_t current_rv_ ABSL_GUARDED_BY(mu_) = 1;  // etcd starts at revision 1
  int64_t compacted_rv_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<StoredEvent> history_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_OBJECT_STORE_H_
