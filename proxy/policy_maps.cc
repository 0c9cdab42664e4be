#include "proxy/policy_maps.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proxy/ip_prefix.h"

namespace bpfproxy {
namespace {

constexpr uint16_t kKnownFlags = LB_POL_F_PRESERVE_SOURCE | LB_POL_F_DROP_NO_BACKEND | LB_POL_F_SOURCE_RANGES;

std::string FlagsString(uint16_t flags) {
  if (flags == 0) return "none";
  std::vector<std::string> names;
  if (flags & LB_POL_F_PRESERVE_SOURCE) names.push_back("preserve-source");
  if (flags & LB_POL_F_DROP_NO_BACKEND) names.push_back("drop-no-backend");
  if (flags & LB_POL_F_SOURCE_RANGES) names.push_back("source-ranges");
  if (uint16_t unknown = flags & ~kKnownFlags; unknown != 0) names.push_back(absl::StrCat("0x", absl::Hex(unknown)));
  return absl::StrJoin(names, ",");
}

}  // namespace

std::string FrontendPolicy::ToString() const {
  std::string out = absl::StrCat("flags=", FlagsString(flags));
  if (!source_ranges.empty()) {
    absl::StrAppend(&out, " ranges=",
                    absl::StrJoin(source_ranges, ",", [](std::string* s, const IpPrefix& p) {
                      absl::StrAppend(s, IpPrefixString(p));
                    }));
  }
  return out;
}

FrontendPolicy FrontendPolicy::Canonical() const {
  FrontendPolicy out;
  out.flags = flags;
  for (const IpPrefix& range : source_ranges) out.source_ranges.push_back(MaskedPrefix(range));
  std::sort(out.source_ranges.begin(), out.source_ranges.end());
  out.source_ranges.erase(std::unique(out.source_ranges.begin(), out.source_ranges.end()), out.source_ranges.end());
  return out;
}

absl::Status ValidatePolicy(const L4Address& frontend, const FrontendPolicy& policy) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy of ", frontend.ToString(), " (", policy.ToString(), "): ", why));
  };
  if ((policy.flags & ~kKnownFlags) != 0) return invalid("unknown flags");
  if (!policy.source_ranges.empty() && !(policy.flags & LB_POL_F_SOURCE_RANGES)) {
    return invalid("source ranges without the source-ranges flag");
  }
  for (const IpPrefix& range : policy.source_ranges) {
    if (!IsValidPrefix(range)) return invalid(absl::StrCat("bad prefix length in ", IpPrefixString(range)));
  }
  return absl::OkStatus();
}

absl::Status InMemoryPolicyMaps::Upsert(const L4Address& frontend, const FrontendPolicy& policy) {
  if (absl::Status s = ValidatePolicy(frontend, policy); !s.ok()) return s;
  if (fail_frontend.has_value() && *fail_frontend == frontend) {
    return absl::InternalError(
        absl::StrCat("bpf map " LB_XPOLICY_MAP_NAME ": update ", frontend.ToString(), ": injected failure"));
  }
  if (policy == FrontendPolicy{}) return Remove(frontend);
  FrontendPolicy canonical = policy.Canonical();
  log_.push_back(absl::StrCat("upsert ", frontend.ToString(), " ", canonical.ToString()));
  applied_[frontend] = std::move(canonical);
  return absl::OkStatus();
}

absl::Status InMemoryPolicyMaps::Remove(const L4Address& frontend) {
  applied_.erase(frontend);
  log_.push_back(absl::StrCat("remove ", frontend.ToString()));
  return absl::OkStatus();
}

absl::Status InMemoryPolicyMaps::Prune(const absl::btree_set<L4Address>& keep) {
  std::vector<std::string> removed;
  for (auto it = applied_.begin(); it != applied_.end();) {
    if (keep.contains(it->first)) {
      ++it;
      continue;
    }
    removed.push_back(it->first.ToString());
    it = applied_.erase(it);
  }
  log_.push_back(absl::StrCat("prune kept=", applied_.size(), " removed=",
                              removed.empty() ? "none" : absl::StrJoin(removed, ",")));
  return absl::OkStatus();
}

}  // namespace bpfproxy
