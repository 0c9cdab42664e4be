#include "proxy/lb_maps.h"

#include <arpa/inet.h>

#include <cstring>
#include <tuple>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bpfproxy {

// The C++ side checks the ABI: a size change here means the BPF side and the
// pinned maps disagree with this binary, and LB_ABI_VERSION must move.
static_assert(sizeof(union lb_addr) == 16);
static_assert(sizeof(lb_service_key) == 24);
static_assert(sizeof(lb_service_value) == 12);
static_assert(sizeof(lb_backend_value) == 24);
static_assert(sizeof(lb_member_key) == 8);
static_assert(sizeof(lb_member_value) == 4);
static_assert(sizeof(lb_sock_key) == 32);
static_assert(sizeof(lb_revnat_value) == 20);
static_assert(sizeof(lb_affinity_value) == 8);
static_assert(sizeof(lb_frontend_key) == 20);
static_assert(sizeof(lb_policy_value) == 4);
static_assert(sizeof(lb_src_range_key) == 4 + LB_SRC_RANGE_FRONTEND_BITS / 8 + 16);
static_assert(sizeof(lb_ct_key) == 40);
static_assert(sizeof(lb_ct_value) == 56);
static_assert(sizeof(lb_device_value) == 32);
static_assert(sizeof(lb_stats_key) == 8);
static_assert(sizeof(lb_stats_value) == 8);
static_assert(LB_ABI_VERSION == 1, "map names carry _v1; bump them with the version");

namespace {

std::array<uint8_t, 16> BytesOf(const lb_addr& a) {
  std::array<uint8_t, 16> out;
  std::memcpy(out.data(), a.u8, 16);
  return out;
}

L4Address MakeL4(const lb_addr& addr, __be16 port, uint8_t proto) {
  L4Address out;
  out.ip = IpAddress::FromBytes(BytesOf(addr));
  out.port = ntohs(port);
  out.proto = static_cast<Protocol>(proto);  // Unknown numbers print as "?".
  return out;
}

}  // namespace

lb_service_key MakeServiceKey(const L4Address& frontend, uint16_t slot) {
  lb_service_key key;
  std::memset(&key, 0, sizeof(key));
  std::memcpy(key.vip.u8, frontend.ip.bytes().data(), 16);
  key.port = htons(frontend.port);
  key.proto = static_cast<uint8_t>(frontend.proto);
  key.slot = slot;
  return key;
}

L4Address FrontendOf(const lb_service_key& key) { return MakeL4(key.vip, key.port, key.proto); }

lb_service_value MakeMasterValue(uint32_t service_id, uint16_t count) {
  lb_service_value v{};
  v.service_id = service_id;
  v.count = count;
  v.flags = LB_SVC_F_NONE;
  return v;
}

lb_service_value MakeSlotValue(uint32_t service_id, uint32_t backend_id) {
  lb_service_value v{};
  v.service_id = service_id;
  v.backend_id = backend_id;
  return v;
}

lb_member_key MakeMemberKey(uint32_t service_id, uint32_t backend_id) {
  lb_member_key k{};
  k.service_id = service_id;
  k.backend_id = backend_id;
  return k;
}

std::string MemberKeyString(const lb_member_key& key) {
  return absl::StrCat("svc ", key.service_id, " backend ", key.backend_id);
}

lb_backend_value MakeBackendValue(uint32_t id, const L4Address& backend) {
  lb_backend_value v;
  std::memset(&v, 0, sizeof(v));
  v.id = id;
  std::memcpy(v.addr.u8, backend.ip.bytes().data(), 16);
  v.port = htons(backend.port);
  v.proto = static_cast<uint8_t>(backend.proto);
  return v;
}

L4Address AddressOf(const lb_backend_value& value) { return MakeL4(value.addr, value.port, value.proto); }

std::string ServiceKeyString(const lb_service_key& key) {
  return absl::StrCat(FrontendOf(key).ToString(), "#", key.slot);
}

absl::Status MapError(absl::string_view map, absl::string_view operation, int neg_errno) {
  int e = neg_errno < 0 ? -neg_errno : neg_errno;
  const char* name = strerrorname_np(e);
  std::string message =
      absl::StrCat("bpf map ", map, ": ", operation, ": ", std::strerror(e), " (", name ? name : "?", ")");
  switch (e) {
    case E2BIG:
    case ENOSPC:
    case ENOMEM:
      return absl::ResourceExhaustedError(message);
    case ENOENT:
      return absl::NotFoundError(message);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<std::vector<std::string>> DumpLines(const LbMaps& maps) {
  absl::btree_map<std::tuple<L4Address, uint16_t>, lb_service_value> services;
  absl::flat_hash_map<uint32_t, L4Address> frontend_of_id;
  absl::Status s = maps.ForEachService([&](const lb_service_key& k, const lb_service_value& v) {
    services.emplace(std::make_tuple(FrontendOf(k), k.slot), v);
    if (k.slot == LB_SLOT_MASTER) frontend_of_id.emplace(v.service_id, FrontendOf(k));
  });
  if (!s.ok()) return s;
  std::vector<std::string> lines;
  for (const auto& [key, v] : services) {
    const auto& [frontend, slot] = key;
    if (slot == LB_SLOT_MASTER) {
      lines.push_back(absl::StrFormat("svc %s #0 id=%u count=%u flags=%u", frontend.ToString(), v.service_id,
                                      v.count, v.flags));
      continue;
    }
    auto master = services.find(std::make_tuple(frontend, uint16_t{LB_SLOT_MASTER}));
    bool same_id = master != services.end() && master->second.service_id == v.service_id;
    lines.push_back(absl::StrFormat("svc %s #%u backend=%u%s", frontend.ToString(), slot, v.backend_id,
                                    same_id ? "" : absl::StrCat(" id=", v.service_id)));
  }
  absl::btree_set<std::string> members;  // Sorted as text: frontends, then backend IDs.
  absl::btree_map<std::tuple<L4Address, uint32_t>, std::string> known_members;
  s = maps.ForEachMember([&](const lb_member_key& k) {
    auto it = frontend_of_id.find(k.service_id);
    if (it == frontend_of_id.end()) {
      members.insert(absl::StrFormat("member id=%u backend=%u", k.service_id, k.backend_id));
    } else {
      known_members.emplace(std::make_tuple(it->second, k.backend_id),
                            absl::StrFormat("member %s backend=%u", it->second.ToString(), k.backend_id));
    }
  });
  if (!s.ok()) return s;
  for (auto& [k, line] : known_members) lines.push_back(std::move(line));
  lines.insert(lines.end(), members.begin(), members.end());
  absl::btree_map<uint32_t, std::string> backends;
  s = maps.ForEachBackend([&](uint32_t id, const lb_backend_value& v) {
    backends.emplace(id, absl::StrFormat("be %u %s%s", id, AddressOf(v).ToString(),
                                         v.id == id ? "" : absl::StrCat(" id=", v.id)));
  });
  if (!s.ok()) return s;
  for (auto& [k, line] : backends) lines.push_back(std::move(line));
  return lines;
}

}  // namespace bpfproxy
