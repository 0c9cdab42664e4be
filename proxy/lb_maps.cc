#include "proxy/lb_maps.h"

#include <arpa/inet.h>

#include <cstring>
#include <tuple>

#include "absl/container/btree_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bpfproxy {

// The C++ side checks the ABI: a size change here means the BPF side and the
// pinned maps disagree with this binary, and LB_ABI_VERSION must move.
static_assert(sizeof(union lb_addr) == 16);
static_assert(sizeof(lb_service_key) == 24);
static_assert(sizeof(lb_service_value) == 8);
static_assert(sizeof(lb_backend_value) == 20);
static_assert(sizeof(lb_sock_key) == 32);
static_assert(sizeof(lb_revnat_value) == 20);
static_assert(sizeof(lb_affinity_value) == 8);
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

lb_backend_value MakeBackendValue(const L4Address& backend) {
  lb_backend_value v;
  std::memset(&v, 0, sizeof(v));
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
  absl::btree_map<std::tuple<L4Address, uint16_t>, std::string> services;
  absl::btree_map<uint32_t, std::string> backends;
  absl::Status s = maps.ForEachService([&](const lb_service_key& k, const lb_service_value& v) {
    L4Address frontend = FrontendOf(k);
    std::string line = k.slot == LB_SLOT_MASTER
                           ? absl::StrFormat("svc %s #0 count=%u flags=%u", frontend.ToString(), v.count, v.flags)
                           : absl::StrFormat("svc %s #%u backend=%u", frontend.ToString(), k.slot, v.backend_id);
    services.emplace(std::make_tuple(frontend, k.slot), std::move(line));
  });
  if (!s.ok()) return s;
  s = maps.ForEachBackend([&](uint32_t id, const lb_backend_value& v) {
    backends.emplace(id, absl::StrFormat("be %u %s", id, AddressOf(v).ToString()));
  });
  if (!s.ok()) return s;
  std::vector<std::string> lines;
  lines.reserve(services.size() + backends.size());
  for (auto& [k, line] : services) lines.push_back(std::move(line));
  for (auto& [k, line] : backends) lines.push_back(std::move(line));
  return lines;
}

}  // namespace bpfproxy
