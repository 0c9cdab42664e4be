#include "proxy/bpf_lb_maps.h"

#include <bpf/bpf.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace bpfproxy {
namespace {

// libbpf's low-level calls return -1 and set errno (libbpf 1.x: -errno).
int Err(int ret) { return ret < 0 ? -errno : 0; }

// Walks a hash map with get_next_key; an entry deleted concurrently just
// ends up not visited, which is what a snapshot would have shown a moment later.
template <typename Key, typename Value, typename Fn>
absl::Status Walk(int fd, absl::string_view map, Fn&& fn) {
  Key key{};
  Key next{};
  Value value{};
  const Key* prev = nullptr;
  while (true) {
    if (bpf_map_get_next_key(fd, prev, &next) != 0) {
      if (errno == ENOENT) return absl::OkStatus();
      return MapError(map, "iterate", -errno);
    }
    if (bpf_map_lookup_elem(fd, &next, &value) == 0) {
      fn(next, value);
    } else if (errno != ENOENT) {
      return MapError(map, "lookup", -errno);
    }
    key = next;
    prev = &key;
  }
}

}  // namespace

absl::Status BpfLbMaps::UpdateService(const lb_service_key& key, const lb_service_value& value) {
  if (int e = Err(bpf_map_update_elem(services_.get(), &key, &value, BPF_ANY)); e != 0) {
    return MapError(names_.services, absl::StrCat("update ", ServiceKeyString(key)), e);
  }
  return absl::OkStatus();
}

absl::Status BpfLbMaps::DeleteService(const lb_service_key& key) {
  if (int e = Err(bpf_map_delete_elem(services_.get(), &key)); e != 0) {
    return MapError(names_.services, absl::StrCat("delete ", ServiceKeyString(key)), e);
  }
  return absl::OkStatus();
}

absl::Status BpfLbMaps::UpdateBackend(uint32_t id, const lb_backend_value& value) {
  if (int e = Err(bpf_map_update_elem(backends_.get(), &id, &value, BPF_ANY)); e != 0) {
    return MapError(names_.backends, absl::StrCat("update ", id, " ", AddressOf(value).ToString()), e);
  }
  return absl::OkStatus();
}

absl::Status BpfLbMaps::DeleteBackend(uint32_t id) {
  if (int e = Err(bpf_map_delete_elem(backends_.get(), &id)); e != 0) {
    return MapError(names_.backends, absl::StrCat("delete ", id), e);
  }
  return absl::OkStatus();
}

absl::Status BpfLbMaps::UpdateMember(const lb_member_key& key) {
  lb_member_value value{};
  if (int e = Err(bpf_map_update_elem(members_.get(), &key, &value, BPF_ANY)); e != 0) {
    return MapError(names_.members, absl::StrCat("update ", MemberKeyString(key)), e);
  }
  return absl::OkStatus();
}

absl::Status BpfLbMaps::DeleteMember(const lb_member_key& key) {
  if (int e = Err(bpf_map_delete_elem(members_.get(), &key)); e != 0) {
    return MapError(names_.members, absl::StrCat("delete ", MemberKeyString(key)), e);
  }
  return absl::OkStatus();
}

absl::Status BpfLbMaps::ForEachMember(MemberVisitor visit) const {
  return Walk<lb_member_key, lb_member_value>(members_.get(), names_.members,
                                              [&](const lb_member_key& k, const lb_member_value&) { visit(k); });
}

absl::Status BpfLbMaps::ForEachService(ServiceVisitor visit) const {
  return Walk<lb_service_key, lb_service_value>(services_.get(), names_.services, visit);
}

absl::Status BpfLbMaps::ForEachBackend(BackendVisitor visit) const {
  return Walk<uint32_t, lb_backend_value>(backends_.get(), names_.backends, visit);
}

}  // namespace bpfproxy
