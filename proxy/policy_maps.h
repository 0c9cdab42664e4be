// Per-frontend policy of the per-packet path (bpfp_xpol_v1) and its
// loadBalancerSourceRanges (bpfp_xsrc_v1), behind a small interface: the
// libbpf implementation talks to the kernel (proxy/bpf_policy_maps.h), the
// in-memory one below serves tests.
//
// Ordering is the caller's (the Proxier's): a frontend's policy is written
// before its master entry in bpfp_xsvc_v1 appears and removed only after the
// master is gone, so the first packet of a new frontend already sees its
// source ranges. Within Upsert(), new ranges are added before the policy
// entry and ranges that left are deleted after it: a source is never
// refused that both the old and the new policy allow.
#ifndef BPFPROXY_PROXY_POLICY_MAPS_H_
#define BPFPROXY_PROXY_POLICY_MAPS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "bpfproxy/lb_abi.h"
#include "proxy/ip_address.h"

namespace bpfproxy {

struct FrontendPolicy {
  uint16_t flags = 0;                     // LB_POL_F_*
  std::vector<IpPrefix> source_ranges;    // With LB_POL_F_SOURCE_RANGES; sorted, unique.
  bool operator==(const FrontendPolicy&) const = default;
  // "flags=preserve-source,source-ranges ranges=10.0.0.0/8,..." for logs and
  // dumps; "flags=none" without flags, no " ranges=" without ranges.
  std::string ToString() const;
  // The form the maps hold and Applied() returns: host bits of every range
  // cleared ("10.1.2.3/8" is 10.0.0.0/8 to an LPM trie), sorted, unique.
  // Compare a desired policy with Applied() through this.
  FrontendPolicy Canonical() const;
};

// Why Upsert() refuses |policy| (kInvalidArgument), or OK: unknown flag bits;
// ranges without LB_POL_F_SOURCE_RANGES (they would be ignored); a prefix
// longer than its family allows.
absl::Status ValidatePolicy(const L4Address& frontend, const FrontendPolicy& policy);

using DesiredPolicies = absl::btree_map<L4Address, FrontendPolicy>;

class PolicyMaps {
 public:
  virtual ~PolicyMaps() = default;
  // Makes |frontend|'s policy exactly |policy|. A default FrontendPolicy
  // (flags 0, no ranges) removes the entry: absence means the defaults.
  virtual absl::Status Upsert(const L4Address& frontend, const FrontendPolicy& policy) = 0;
  virtual absl::Status Remove(const L4Address& frontend) = 0;
  // Removes every policy and range whose frontend is not in |keep| (a full
  // resync, and after a restart: what the maps hold is read back).
  virtual absl::Status Prune(const absl::btree_set<L4Address>& keep) = 0;
  // What the maps hold now.
  virtual DesiredPolicies Applied() const = 0;
};

// In memory, for tests; Upsert of |fail_frontend| fails once set. Validates
// and canonicalizes like the kernel implementation.
class InMemoryPolicyMaps : public PolicyMaps {
 public:
  // While set, Upsert() of this frontend fails (kInternal), is not applied
  // and not logged.
  std::optional<L4Address> fail_frontend;

  absl::Status Upsert(const L4Address& frontend, const FrontendPolicy& policy) override;
  absl::Status Remove(const L4Address& frontend) override;
  absl::Status Prune(const absl::btree_set<L4Address>& keep) override;
  DesiredPolicies Applied() const override { return applied_; }
  // Every call that succeeded, in order:
  //   "upsert 1.2.3.4:80/TCP flags=source-ranges ranges=10.0.0.0/8"
  //   "remove 1.2.3.4:80/TCP"   (also an Upsert of the default policy)
  //   "prune kept=2 removed=1.2.3.4:80/TCP,[fd00::1]:80/UDP"   ("removed=none")
  const std::vector<std::string>& log() const { return log_; }
  void ClearLog() { log_.clear(); }

 private:
  DesiredPolicies applied_;
  std::vector<std::string> log_;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_POLICY_MAPS_H_
