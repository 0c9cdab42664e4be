#include "proxy/fake_lb_maps.h"

#include <cerrno>
#include <cstring>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace bpfproxy {

namespace {

std::string ServiceUpdateLine(const lb_service_key& key, const lb_service_value& value) {
  std::string line = absl::StrCat("update svc ", ServiceKeyString(key));
  if (key.slot == LB_SLOT_MASTER) {
    absl::StrAppend(&line, " count=", value.count);
    if (value.flags != 0) absl::StrAppend(&line, " flags=", value.flags);
  } else {
    absl::StrAppend(&line, " backend=", value.backend_id);
  }
  return line;
}

}  // namespace

bool FakeLbMaps::ServiceKeyLess::operator()(const lb_service_key& a, const lb_service_key& b) const {
  auto fa = FrontendOf(a);
  auto fb = FrontendOf(b);
  if (std::tie(fa, a.slot) != std::tie(fb, b.slot)) return std::tie(fa, a.slot) < std::tie(fb, b.slot);
  return std::memcmp(&a, &b, sizeof(a)) < 0;
}

void FakeLbMaps::FailNext(absl::string_view op_prefix, absl::Status status) {
  failures_.push_back({std::string(op_prefix), std::move(status)});
}

absl::Status FakeLbMaps::TakeInjectedFailure(absl::string_view op) {
  for (auto it = failures_.begin(); it != failures_.end(); ++it) {
    if (absl::StartsWith(op, it->op_prefix)) {
      absl::Status status = std::move(it->status);
      failures_.erase(it);
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status FakeLbMaps::UpdateService(const lb_service_key& key, const lb_service_value& value) {
  std::string op = ServiceUpdateLine(key, value);
  if (absl::Status s = TakeInjectedFailure(op); !s.ok()) return s;
  if (!services_.contains(key) && services_.size() >= capacity_.services) {
    return MapError(LB_SERVICES_MAP_NAME, absl::StrCat("update ", ServiceKeyString(key)), -E2BIG);
  }
  services_[key] = value;
  ops_.push_back(std::move(op));
  return absl::OkStatus();
}

absl::Status FakeLbMaps::DeleteService(const lb_service_key& key) {
  std::string op = absl::StrCat("delete svc ", ServiceKeyString(key));
  if (absl::Status s = TakeInjectedFailure(op); !s.ok()) return s;
  if (services_.erase(key) == 0) {
    return MapError(LB_SERVICES_MAP_NAME, absl::StrCat("delete ", ServiceKeyString(key)), -ENOENT);
  }
  ops_.push_back(std::move(op));
  return absl::OkStatus();
}

absl::Status FakeLbMaps::UpdateBackend(uint32_t id, const lb_backend_value& value) {
  std::string op = absl::StrCat("update be ", id, " ", AddressOf(value).ToString());
  if (absl::Status s = TakeInjectedFailure(op); !s.ok()) return s;
  if (!backends_.contains(id) && backends_.size() >= capacity_.backends) {
    return MapError(LB_BACKENDS_MAP_NAME, absl::StrCat("update ", id), -E2BIG);
  }
  backends_[id] = value;
  ops_.push_back(std::move(op));
  return absl::OkStatus();
}

absl::Status FakeLbMaps::DeleteBackend(uint32_t id) {
  std::string op = absl::StrCat("delete be ", id);
  if (absl::Status s = TakeInjectedFailure(op); !s.ok()) return s;
  if (backends_.erase(id) == 0) {
    return MapError(LB_BACKENDS_MAP_NAME, absl::StrCat("delete ", id), -ENOENT);
  }
  ops_.push_back(std::move(op));
  return absl::OkStatus();
}

absl::Status FakeLbMaps::UpdateMember(const lb_member_key& key) {
  std::string op = absl::StrCat("update member ", MemberKeyString(key));
  if (absl::Status s = TakeInjectedFailure(op); !s.ok()) return s;
  auto k = std::make_pair(key.service_id, key.backend_id);
  if (!members_.contains(k) && members_.size() >= capacity_.services) {
    return MapError(LB_MEMBERS_MAP_NAME, absl::StrCat("update ", MemberKeyString(key)), -E2BIG);
  }
  members_.insert(k);
  ops_.push_back(std::move(op));
  return absl::OkStatus();
}

absl::Status FakeLbMaps::DeleteMember(const lb_member_key& key) {
  std::string op = absl::StrCat("delete member ", MemberKeyString(key));
  if (absl::Status s = TakeInjectedFailure(op); !s.ok()) return s;
  if (members_.erase(std::make_pair(key.service_id, key.backend_id)) == 0) {
    return MapError(LB_MEMBERS_MAP_NAME, absl::StrCat("delete ", MemberKeyString(key)), -ENOENT);
  }
  ops_.push_back(std::move(op));
  return absl::OkStatus();
}

absl::Status FakeLbMaps::ForEachMember(MemberVisitor visit) const {
  for (const auto& [service_id, backend_id] : members_) visit(MakeMemberKey(service_id, backend_id));
  return absl::OkStatus();
}

absl::Status FakeLbMaps::ForEachService(ServiceVisitor visit) const {
  for (const auto& [key, value] : services_) visit(key, value);
  return absl::OkStatus();
}

absl::Status FakeLbMaps::ForEachBackend(BackendVisitor visit) const {
  for (const auto& [id, value] : backends_) visit(id, value);
  return absl::OkStatus();
}

}  // namespace bpfproxy
