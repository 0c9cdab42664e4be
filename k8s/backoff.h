// Backoff: jittered exponential delays between retries, as client-go's
// reflector has them (wait.Backoff with jitter).
#ifndef BPFPROXY_K8S_BACKOFF_H_
#define BPFPROXY_K8S_BACKOFF_H_

#include <functional>

#include "absl/time/time.h"

namespace bpfproxy::k8s {

struct BackoffPolicy {
  absl::Duration initial = absl::Milliseconds(800);
  absl::Duration max = absl::Seconds(30);
  double factor = 2.0;
  // Each delay is base * (1 + jitter * random()), so with 1.0 a delay lies in
  // [base, 2 * base): retrying clients spread out instead of arriving at the
  // API server together.
  double jitter = 1.0;
};

// Not thread-safe: one per retry loop.
class Backoff {
 public:
  // |random| returns values in [0, 1).
  Backoff(BackoffPolicy policy, std::function<double()> random);

  // The delay before the next retry: initial, initial * factor, ... up to
  // max (before jitter), each with jitter applied.
  absl::Duration Next();

  // Back to the initial delay: the last attempt went well.
  void Reset();

 private:
  BackoffPolicy policy_;
  std::function<double()> random_;
  absl::Duration base_;
};

}  // namespace bpfproxy::k8s

#endif  // BPFPROXY_K8S_BACKOFF_H_
