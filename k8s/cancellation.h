// Cancellation: lets one thread abandon another thread's blocking API call
// (Reflector::Stop unblocking a LIST or a WATCH that waits for the server).
#ifndef BPFPROXY_K8S_CANCELLATION_H_
#define BPFPROXY_K8S_CANCELLATION_H_

#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace bpfproxy::k8s {

// Once cancelled, stays cancelled. Thread-safe.
class Cancellation {
 public:
  using Callback = std::function<void()>;

  // Keeps a callback registered; unregisters it when destroyed. The
  // Cancellation must outlive its Hooks.
  class [[nodiscard]] Hook {
   public:
    Hook() = default;
    Hook(Hook&& other) noexcept;
    Hook& operator=(Hook&& other) noexcept;
    ~Hook();

   private:
    friend class Cancellation;
    Hook(Cancellation* owner, uint64_t id) : owner_(owner), id_(id) {}
    void Reset();
    Cancellation* owner_ = nullptr;
    uint64_t id_ = 0;
  };

  Cancellation() = default;
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  // Runs every registered callback once, on this thread.
  void Cancel();
  bool cancelled() const;

  // Runs |callback| on Cancel(), or now if already cancelled. Callbacks run
  // outside the lock and may still be running when their Hook is destroyed,
  // so they must own what they touch (capture by value).
  Hook OnCancel(Callback callback);

 private:
  void Unregister(uint64_t id);

  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Callback> callbacks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bpfproxy::k8s

#endif  // BPFPROXY_K8S_CANCELLATION_H_
