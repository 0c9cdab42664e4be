#include "k8s/clock.h"

namespace bpfproxy::k8s {
namespace {

class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  bool SleepFor(absl::Duration duration, absl::Notification& wake) override {
    return !wake.WaitForNotificationWithTimeout(duration);
  }
};

}  // namespace

Clock* Clock::Real() {
  // Leaked on purpose: it has no state, and threads still running at exit
  // may use it.
  static Clock* const clock = new RealClock();
  return clock;
}

}  // namespace bpfproxy::k8s
