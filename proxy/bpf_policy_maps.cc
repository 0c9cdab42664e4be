#include "proxy/bpf_policy_maps.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "proxy/ip_prefix.h"
#include "proxy/lb_maps.h"
#include "proxy/log.h"

namespace bpfproxy {
namespace {

// libbpf's low-level calls return a negative value and set errno.
int Err(int ret) { return ret < 0 ? -errno : 0; }

constexpr uint8_t kRangePresent = 1;  // The trie's value is unused.

std::string RangeOp(absl::string_view op, const L4Address& frontend, const IpPrefix& range) {
  return absl::StrCat(op, " ", frontend.ToString(), " from ", IpPrefixString(range));
}

// Visits every key of a map with get_next_key (hash and LPM trie alike).
template <typename Key, typename Fn>
absl::Status WalkKeys(int fd, absl::string_view map, Fn&& fn) {
  Key key{}, next{};
  const Key* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (absl::Status s = fn(next); !s.ok()) return s;
    key = next;
    prev = &key;
  }
  if (errno == ENOENT) return absl::OkStatus();
  return MapError(map, "iterate", -errno);
}

}  // namespace

lb_frontend_key MakeFrontendKey(const L4Address& frontend) {
  lb_frontend_key key;
  std::memset(&key, 0, sizeof(key));
  std::memcpy(key.vip.u8, frontend.ip.bytes().data(), 16);
  key.port = htons(frontend.port);
  key.proto = static_cast<uint8_t>(frontend.proto);
  return key;
}

L4Address FrontendOf(const lb_frontend_key& key) {
  std::array<uint8_t, 16> bytes;
  std::memcpy(bytes.data(), key.vip.u8, 16);
  return L4Address{IpAddress::FromBytes(bytes), ntohs(key.port), static_cast<Protocol>(key.proto)};
}

lb_src_range_key MakeSourceRangeKey(const L4Address& frontend, const IpPrefix& range) {
  lb_src_range_key key;
  std::memset(&key, 0, sizeof(key));
  IpPrefix masked = MaskedPrefix(range);
  key.prefixlen = LB_SRC_RANGE_FRONTEND_BITS + MappedPrefixLength(masked);
  std::memcpy(key.vip.u8, frontend.ip.bytes().data(), 16);
  key.port = htons(frontend.port);
  key.proto = static_cast<uint8_t>(frontend.proto);
  std::memcpy(key.src.u8, masked.address.bytes().data(), 16);
  return key;
}

bool ParseSourceRangeKey(const lb_src_range_key& key, L4Address* frontend, IpPrefix* range) {
  if (key.prefixlen < LB_SRC_RANGE_FRONTEND_BITS || key.prefixlen > LB_SRC_RANGE_FRONTEND_BITS + 128) return false;
  int mapped_length = static_cast<int>(key.prefixlen - LB_SRC_RANGE_FRONTEND_BITS);
  std::array<uint8_t, 16> bytes;
  std::memcpy(bytes.data(), key.vip.u8, 16);
  *frontend = L4Address{IpAddress::FromBytes(bytes), ntohs(key.port), static_cast<Protocol>(key.proto)};
  std::memcpy(bytes.data(), key.src.u8, 16);
  IpAddress src = IpAddress::FromBytes(bytes);
  // An IPv4 range is v4-mapped: its first 96 bits are the mapping prefix.
  bool v4 = src.is_v4() && mapped_length >= 96;
  *range = IpPrefix{src, static_cast<uint8_t>(v4 ? mapped_length - 96 : mapped_length)};
  return true;
}

absl::StatusOr<std::unique_ptr<BpfPolicyMaps>> BpfPolicyMaps::Open(UniqueFd policies, UniqueFd source_ranges) {
  std::unique_ptr<BpfPolicyMaps> maps(new BpfPolicyMaps(std::move(policies), std::move(source_ranges)));
  absl::Status s = WalkKeys<lb_src_range_key>(maps->source_ranges_.get(), LB_XSRC_MAP_NAME,
                                              [&](const lb_src_range_key& key) {
                                                L4Address frontend;
                                                IpPrefix range;
                                                if (ParseSourceRangeKey(key, &frontend, &range)) {
                                                  maps->ranges_[frontend].insert(range);
                                                }
                                                return absl::OkStatus();
                                              });
  if (!s.ok()) return s;
  return maps;
}

absl::Status BpfPolicyMaps::AddRange(const L4Address& frontend, const IpPrefix& range) {
  lb_src_range_key key = MakeSourceRangeKey(frontend, range);
  if (int e = Err(bpf_map_update_elem(source_ranges_.get(), &key, &kRangePresent, BPF_ANY)); e != 0) {
    return MapError(LB_XSRC_MAP_NAME, RangeOp("update", frontend, range), e);
  }
  ranges_[frontend].insert(range);
  return absl::OkStatus();
}

absl::Status BpfPolicyMaps::DeleteRange(const L4Address& frontend, const IpPrefix& range) {
  lb_src_range_key key = MakeSourceRangeKey(frontend, range);
  if (int e = Err(bpf_map_delete_elem(source_ranges_.get(), &key)); e != 0 && e != -ENOENT) {
    return MapError(LB_XSRC_MAP_NAME, RangeOp("delete", frontend, range), e);
  }
  auto it = ranges_.find(frontend);
  if (it != ranges_.end()) {
    it->second.erase(range);
    if (it->second.empty()) ranges_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status BpfPolicyMaps::Upsert(const L4Address& frontend, const FrontendPolicy& policy) {
  if (absl::Status s = ValidatePolicy(frontend, policy); !s.ok()) return s;
  if (policy == FrontendPolicy{}) return Remove(frontend);
  FrontendPolicy canonical = policy.Canonical();
  absl::btree_set<IpPrefix> wanted(canonical.source_ranges.begin(), canonical.source_ranges.end());
  absl::btree_set<IpPrefix> old;
  if (auto it = ranges_.find(frontend); it != ranges_.end()) old = it->second;

  for (const IpPrefix& range : wanted) {
    if (old.contains(range)) continue;
    if (absl::Status s = AddRange(frontend, range); !s.ok()) return s;
  }
  lb_frontend_key key = MakeFrontendKey(frontend);
  lb_policy_value value{};
  value.flags = canonical.flags;
  if (int e = Err(bpf_map_update_elem(policies_.get(), &key, &value, BPF_ANY)); e != 0) {
    return MapError(LB_XPOLICY_MAP_NAME, absl::StrCat("update ", frontend.ToString(), " ", canonical.ToString()), e);
  }
  for (const IpPrefix& range : old) {
    if (wanted.contains(range)) continue;
    if (absl::Status s = DeleteRange(frontend, range); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status BpfPolicyMaps::Remove(const L4Address& frontend) {
  lb_frontend_key key = MakeFrontendKey(frontend);
  if (int e = Err(bpf_map_delete_elem(policies_.get(), &key)); e != 0 && e != -ENOENT) {
    return MapError(LB_XPOLICY_MAP_NAME, absl::StrCat("delete ", frontend.ToString()), e);
  }
  if (auto it = ranges_.find(frontend); it != ranges_.end()) {
    absl::btree_set<IpPrefix> left = it->second;
    for (const IpPrefix& range : left) {
      if (absl::Status s = DeleteRange(frontend, range); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status BpfPolicyMaps::Prune(const absl::btree_set<L4Address>& keep) {
  absl::btree_set<L4Address> stale;
  absl::Status s = WalkKeys<lb_frontend_key>(policies_.get(), LB_XPOLICY_MAP_NAME, [&](const lb_frontend_key& key) {
    L4Address frontend = FrontendOf(key);
    if (!keep.contains(frontend)) stale.insert(frontend);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  for (const auto& [frontend, ranges] : ranges_) {
    if (!keep.contains(frontend)) stale.insert(frontend);
  }
  for (const L4Address& frontend : stale) {
    VLOG(2) << "Removing the stale policy of " << frontend.ToString();
    if (absl::Status s = Remove(frontend); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<DesiredPolicies> BpfPolicyMaps::Read() const {
  DesiredPolicies out;
  absl::Status s = WalkKeys<lb_frontend_key>(policies_.get(), LB_XPOLICY_MAP_NAME, [&](const lb_frontend_key& key) {
    lb_policy_value value{};
    if (bpf_map_lookup_elem(policies_.get(), &key, &value) != 0) {
      if (errno == ENOENT) return absl::OkStatus();  // Deleted meanwhile.
      return MapError(LB_XPOLICY_MAP_NAME, absl::StrCat("lookup ", FrontendOf(key).ToString()), -errno);
    }
    out[FrontendOf(key)].flags = value.flags;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  s = WalkKeys<lb_src_range_key>(source_ranges_.get(), LB_XSRC_MAP_NAME, [&](const lb_src_range_key& key) {
    L4Address frontend;
    IpPrefix range;
    if (ParseSourceRangeKey(key, &frontend, &range)) out[frontend].source_ranges.push_back(range);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  for (auto& [frontend, policy] : out) policy = policy.Canonical();
  return out;
}

DesiredPolicies BpfPolicyMaps::Applied() const {
  absl::StatusOr<DesiredPolicies> read = Read();
  if (!read.ok()) {
    KLOG(ERROR) << "Reading the policy maps: " << read.status();
    return {};
  }
  return *std::move(read);
}

}  // namespace bpfproxy
