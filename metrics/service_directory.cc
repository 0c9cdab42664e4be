#include "metrics/service_directory.h"

namespace bpfproxy::metrics {

void ServiceDirectory::SetOwner(uint8_t view, const L4Address& frontend, ServiceName owner) {
  absl::MutexLock lock(&mu_);
  owners_[std::make_pair(view, frontend)] = std::move(owner);
}

void ServiceDirectory::RemoveOwner(uint8_t view, const L4Address& frontend) {
  absl::MutexLock lock(&mu_);
  owners_.erase(std::make_pair(view, frontend));
}

void ServiceDirectory::SetServiceId(uint8_t view, uint32_t service_id, const L4Address& frontend) {
  absl::MutexLock lock(&mu_);
  ids_[{view, service_id}] = frontend;
}

void ServiceDirectory::RemoveServiceId(uint8_t view, uint32_t service_id) {
  absl::MutexLock lock(&mu_);
  ids_.erase(std::make_pair(view, service_id));
}

std::optional<ServiceDirectory::Entry> ServiceDirectory::Lookup(uint8_t view, uint32_t service_id) const {
  absl::MutexLock lock(&mu_);
  auto id = ids_.find(std::make_pair(view, service_id));
  if (id == ids_.end()) return std::nullopt;
  Entry entry{.frontend = id->second};
  if (auto owner = owners_.find(std::make_pair(view, id->second)); owner != owners_.end()) entry.service = owner->second;
  return entry;
}

size_t ServiceDirectory::ids() const {
  absl::MutexLock lock(&mu_);
  return ids_.size();
}

}  // namespace bpfproxy::metrics
