// Reflector: keeps one resource collection in sync with the API server and
// feeds its objects to an ObjectHandler, with client-go's reflector
// semantics (DESIGN.md "Control plane principles"):
//
//   1. LIST in pages (limit, continue). A 410 on a continue token (the token
//      expired) starts the list over.
//   2. Deliver the list: objects whose resourceVersion changed are upserted,
//      objects that vanished since the last list are deleted, unchanged
//      objects are not delivered again. After the first list: OnSynced().
//   3. WATCH from the list's resourceVersion with bookmarks and a server-side
//      timeout (random in [min, 2 * min)). ADDED/MODIFIED -> OnUpsert,
//      DELETED -> OnDelete, BOOKMARK -> remember its resourceVersion.
//   4. The watch ends normally (timeout): watch again at once from the last
//      resourceVersion. 410 Gone (ERROR event or HTTP answer): LIST again.
//      Any other error or a dropped connection: watch again from the last
//      resourceVersion after a jittered exponential backoff, which resets
//      after a healthy watch.
//
// Bad input never stops it: an object that cannot be decoded (not an object,
// no metadata.name or metadata.resourceVersion) is logged, counted and
// skipped, and everything else still applies.
#ifndef BPFPROXY_K8S_REFLECTOR_H_
#define BPFPROXY_K8S_REFLECTOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "k8s/api_client.h"
#include "k8s/backoff.h"
#include "k8s/clock.h"
#include "k8s/object_handler.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::k8s {

struct ReflectorOptions {
  int64_t page_size = 500;
  // Each WATCH asks the server to end it after a random duration in
  // [min_watch_timeout, 2 * min_watch_timeout), so that the watches of many
  // nodes do not all restart together.
  absl::Duration min_watch_timeout = absl::Minutes(5);
  BackoffPolicy backoff;
  // A watch that delivered an event, or stayed open this long, was healthy:
  // the next retry starts again from the initial backoff.
  absl::Duration healthy_watch = absl::Seconds(30);
  // Injected for tests; default: the real clock and a seeded generator.
  Clock* clock = nullptr;
  std::function<double()> random;  // values in [0, 1)
};

// Counters for metrics; each is monotonic.
struct ReflectorStats {
  int64_t relists = 0;        // LISTs started over because of a 410 (watch or continue token)
  int64_t reconnects = 0;     // WATCHes restarted after an error or a dropped connection
  int64_t list_errors = 0;    // LISTs that failed (retried after the backoff)
  int64_t decode_errors = 0;  // objects and watch lines skipped as undecodable
  int64_t events = 0;         // watch events received (all types, malformed ones too)
};

class Reflector {
 public:
  // |client| and |handler| must outlive the Reflector.
  Reflector(ApiClient* client, ResourceRequest request, ObjectHandler* handler, ReflectorOptions options = {});
  ~Reflector();  // Stop()s
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  // Starts the reflector's thread. Call once.
  void Start();
  // Cancels the call in progress, wakes a backoff sleep and joins the
  // thread; no handler call happens after it returns. Idempotent.
  void Stop();

  // Readable from any thread.
  bool synced() const { return synced_.load(); }
  ReflectorStats stats() const;

 private:
  enum class WatchEnd { kTimedOut, kGone, kError, kStopped };
  struct WatchResult {
    WatchEnd end;
    bool healthy = false;
  };
  enum class EventOutcome { kApplied, kSkipped, kGone, kError };

  void Run();
  bool stopping() const { return stop_.HasBeenNotified(); }
  // Sleeps the next backoff delay; false if stopped meanwhile.
  bool SleepBackoff();

  // LIST every page and deliver the difference to the objects known.
  absl::Status ListAndDeliver();
  absl::StatusOr<absl::btree_map<std::string, nlohmann::json>> ListAll(std::string* resource_version);
  void DeliverList(absl::btree_map<std::string, nlohmann::json> listed);

  WatchResult WatchOnce();
  // Reads |stream| until it ends; |valid_events| counts the events applied
  // or skipped as unchanged (not the malformed ones).
  WatchEnd ReadWatch(WatchStream& stream, int64_t& valid_events);
  WatchEnd WatchFailure(const absl::Status& status, absl::string_view what);
  EventOutcome HandleEvent(WatchEvent& event);
  void Upsert(std::string key, nlohmann::json object);
  void Delete(const std::string& key, const nlohmann::json& object);

  // Handler calls; an exception from a handler is logged and counted as a
  // decode error, never propagated.
  void CallHandler(const char* what, const std::function<void()>& call);
  void CountDecodeError(absl::string_view what, const nlohmann::json& object);

  ApiClient* const client_;
  ResourceRequest request_;
  ObjectHandler* const handler_;
  const ReflectorOptions options_;
  Clock* const clock_;
  std::function<double()> random_;
  std::shared_ptr<Cancellation> cancellation_;

  // Only the reflector thread touches these.
  Backoff backoff_;
  std::string last_resource_version_;
  // Last delivered state of every object, by "namespace/name". Sorted so
  // deletes after a relist come in a stable order.
  absl::btree_map<std::string, nlohmann::json> objects_;

  absl::Notification stop_;
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  // The open watch, so Stop() can cancel it.
  WatchStream* current_watch_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;

  std::atomic<bool> synced_{false};
  std::atomic<int64_t> relists_{0};
  std::atomic<int64_t> reconnects_{0};
  std::atomic<int64_t> list_errors_{0};
  std::atomic<int64_t> decode_errors_{0};
  std::atomic<int64_t> events_{0};
};

// The key a reflector files |object| under: "namespace/name", or "name" for
// cluster-scoped objects; std::nullopt if metadata.name is missing or not a
// non-empty string, or metadata.namespace is not a string.
std::optional<std::string> ObjectKey(const nlohmann::json& object);
// metadata.resourceVersion if it is a non-empty string.
std::optional<std::string> ObjectResourceVersion(const nlohmann::json& object);

}  // namespace bpfproxy::k8s

#endif  // BPFPROXY_K8S_REFLECTOR_H_
