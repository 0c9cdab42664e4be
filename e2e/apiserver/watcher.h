// One open watch: the events waiting to be streamed to its client.
//
// The store offers every committed change to every watcher, in commit order
// and under the store's lock; the watcher keeps only the changes its filter
// selects, converted the way the real API server's watch cache converts them:
// an object that starts matching is ADDED, one that stops matching is DELETED
// (previous content, the change's resourceVersion). It also remembers the
// resourceVersion it has caught up to, so a BOOKMARK never claims a version
// whose events are still queued.
#ifndef BPFPROXY_E2E_APISERVER_WATCHER_H_
#define BPFPROXY_E2E_APISERVER_WATCHER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "e2e/apiserver/resources.h"
#include "e2e/apiserver/selectors.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::e2e::apiserver {

enum class ChangeType { kAdded, kModified, kDeleted };

// A committed change, as the history keeps it.
struct StoredEvent {
  Resource resource;
  ChangeType type;
  int64_t rv;
  std::string key;
  // The new state; for kDeleted the last state stamped with the deletion's rv.
  std::shared_ptr<const nlohmann::json> object;
  // The state before the change; null for kAdded.
  std::shared_ptr<const nlohmann::json> previous;
};

// What goes on the wire: {"type": type, "object": object}.
struct WatchEvent {
  std::string_view type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  std::shared_ptr<const nlohmann::json> object;
};

// {"kind","apiVersion","metadata":{"resourceVersion"}} (plus the
// k8s.io/initial-events-end annotation when |initial_events_end|).
nlohmann::json BookmarkObject(const ResourceInfo& info, int64_t rv, bool initial_events_end);

class Watcher {
 public:
  Watcher(Resource resource, ObjectFilter filter, int64_t progress_rv);
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  Resource resource() const { return resource_; }

  // Store side (store lock held): a committed change, or an initial event.
  void Offer(const StoredEvent& event);
  void Enqueue(WatchEvent event);
  // Ends the watch abruptly; WaitUntil returns kCut from now on.
  void Cut();

  enum class Wake { kEvents, kDeadline, kCut };
  // Blocks until events are queued, the watch is cut, or |deadline|.
  Wake WaitUntil(absl::Time deadline);
  // Takes the queued events; |progress_rv| is then the resourceVersion the
  // client has caught up with once they are sent.
  std::vector<WatchEvent> Drain(int64_t* progress_rv);

 private:
  const Resource resource_;
  const ObjectFilter filter_;
  absl::Mutex mu_;
  std::deque<WatchEvent> queue_ ABSL_GUARDED_BY(mu_);
  int64_t progress_rv_ ABSL_GUARDED_BY(mu_);
  bool cut_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_WATCHER_H_
