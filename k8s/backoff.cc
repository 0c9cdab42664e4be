#include "k8s/backoff.h"

#include <algorithm>
#include <utility>

namespace bpfproxy::k8s {

Backoff::Backoff(BackoffPolicy policy, std::function<double()> random)
    : policy_(policy), random_(std::move(random)), base_(policy.initial) {}

absl::Duration Backoff::Next() {
  absl::Duration delay = base_;
  base_ = std::min(base_ * policy_.factor, policy_.max);
  if (policy_.jitter > 0) {
    double r = std::clamp(random_(), 0.0, 1.0);
    delay += delay * (policy_.jitter * r);
  }
  return delay;
}

void Backoff::Reset() { base_ = policy_.initial; }

}  // namespace bpfproxy::k8s
