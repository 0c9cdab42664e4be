#include "k8s/cancellation.h"

#include <utility>
#include <vector>

namespace bpfproxy::k8s {

Cancellation::Hook::Hook(Hook&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)), id_(other.id_) {}

Cancellation::Hook& Cancellation::Hook::operator=(Hook&& other) noexcept {
  if (this != &other) {
    Reset();
    owner_ = std::exchange(other.owner_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

Cancellation::Hook::~Hook() { Reset(); }

void Cancellation::Hook::Reset() {
  if (owner_ != nullptr) owner_->Unregister(id_);
  owner_ = nullptr;
}

void Cancellation::Cancel() {
  std::vector<Callback> to_run;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return;
    cancelled_ = true;
    for (auto& [id, callback] : callbacks_) to_run.push_back(std::move(callback));
    callbacks_.clear();
  }
  // Outside the lock: a callback may wake a thread that then destroys its
  // Hook, which takes the lock.
  for (Callback& callback : to_run) callback();
}

bool Cancellation::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

Cancellation::Hook Cancellation::OnCancel(Callback callback) {
  {
    absl::MutexLock lock(&mu_);
    if (!cancelled_) {
      uint64_t id = next_id_++;
      callbacks_.emplace(id, std::move(callback));
      return Hook(this, id);
    }
  }
  callback();
  return Hook();
}

void Cancellation::Unregister(uint64_t id) {
  absl::MutexLock lock(&mu_);
  callbacks_.erase(id);
}

}  // namespace bpfproxy::k8s
