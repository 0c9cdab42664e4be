// Test doubles for the reflector: a scripted ApiClient, a clock that does
// not sleep, and a handler that records what it was given.
#ifndef BPFPROXY_TESTS_K8S_FAKE_API_CLIENT_H_
#define BPFPROXY_TESTS_K8S_FAKE_API_CLIENT_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "k8s/api_client.h"
#include "k8s/clock.h"
#include "k8s/object_handler.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::k8s::testing {

// {"metadata": {"namespace": ns, "name": name, "resourceVersion": rv}}.
nlohmann::json Object(const std::string& ns, const std::string& name, const std::string& rv);
WatchEvent Event(WatchEventType type, nlohmann::json object);
WatchEvent Bookmark(const std::string& rv);
// An ERROR event carrying a Status with |code| and |reason|.
WatchEvent ErrorEvent(int code, const std::string& reason);

// What one WATCH does: fail to open, or deliver |steps| and then either end
// normally or block until cancelled.
struct WatchScript {
  absl::Status open_error;
  bool block_open = false;  // Watch() blocks until the request is cancelled
  std::vector<absl::StatusOr<std::optional<WatchEvent>>> steps;
  bool block_at_end = false;  // else: end of stream (the server's timeout)
};

// Answers LISTs and WATCHes from scripts, in order, and records the calls.
// With no script left, a call blocks until cancelled and the client counts
// as idle, so a test can wait until the reflector consumed everything.
class FakeApiClient : public ApiClient {
 public:
  struct ListCall {
    int64_t limit;
    std::string continue_token;
  };
  struct WatchCall {
    std::string resource_version;
    absl::Duration timeout;
  };

  void AddListPage(absl::StatusOr<ListPage> page);
  void AddWatch(WatchScript script);

  // Waits until a call blocks with no script left (true), or |timeout|.
  bool WaitUntilIdle(absl::Duration timeout = absl::Seconds(10));
  // Waits until a scripted stream blocks (block_at_end) or Watch() blocks
  // (block_open).
  bool WaitUntilBlocked(absl::Duration timeout = absl::Seconds(10));

  std::vector<ListCall> list_calls() const;
  std::vector<WatchCall> watch_calls() const;

  absl::StatusOr<ListPage> List(const ResourceRequest& request, int64_t limit,
                                const std::string& continue_token) override;
  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceRequest& request,
                                                     const std::string& resource_version,
                                                     absl::Duration timeout) override;

 private:
  friend class FakeWatchStream;
  // Blocks until |request| is cancelled; marks the client idle/blocked.
  void BlockUntilCancelled(const ResourceRequest& request, bool idle);
  void SetBlocked(bool idle);

  mutable absl::Mutex mu_;
  std::deque<absl::StatusOr<ListPage>> pages_ ABSL_GUARDED_BY(mu_);
  std::deque<WatchScript> watches_ ABSL_GUARDED_BY(mu_);
  std::vector<ListCall> list_calls_ ABSL_GUARDED_BY(mu_);
  std::vector<WatchCall> watch_calls_ ABSL_GUARDED_BY(mu_);
  bool idle_ ABSL_GUARDED_BY(mu_) = false;
  bool blocked_ ABSL_GUARDED_BY(mu_) = false;
};

// Now() starts at the epoch and moves only when SleepFor() is called or the
// test calls Advance(). SleepFor() records the duration and returns at once.
class FakeClock : public Clock {
 public:
  absl::Time Now() override;
  bool SleepFor(absl::Duration duration, absl::Notification& wake) override;
  void Advance(absl::Duration duration);
  std::vector<absl::Duration> sleeps() const;

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::UnixEpoch();
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
};

// Records deliveries as "upsert ns/name@rv", "delete ns/name@rv", "synced".
class RecordingHandler : public ObjectHandler {
 public:
  void OnUpsert(const nlohmann::json& object) override;
  void OnDelete(const nlohmann::json& object) override;
  void OnSynced() override;
  std::vector<std::string> TakeLog();

  // Throws std::runtime_error from OnUpsert for objects with this name.
  void ThrowFor(const std::string& name);

 private:
  absl::Mutex mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
  std::string throw_for_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bpfproxy::k8s::testing

#endif  // BPFPROXY_TESTS_K8S_FAKE_API_CLIENT_H_
