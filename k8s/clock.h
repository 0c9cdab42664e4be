// Clock: time and interruptible sleeps, injected so that code which waits
// (reflector backoff) can be tested without real sleeping.
#ifndef BPFPROXY_K8S_CLOCK_H_
#define BPFPROXY_K8S_CLOCK_H_

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace bpfproxy::k8s {

class Clock {
 public:
  virtual ~Clock() = default;

  virtual absl::Time Now() = 0;

  // Sleeps for |duration| unless |wake| is (or gets) notified. Returns false
  // if woken early: the caller is being stopped.
  virtual bool SleepFor(absl::Duration duration, absl::Notification& wake) = 0;

  // The real clock; stateless, never destroyed, thread-safe.
  static Clock* Real();
};

}  // namespace bpfproxy::k8s

#endif  // BPFPROXY_K8S_CLOCK_H_
