// PolicyMaps on the kernel's maps: bpfp_xpol_v1 (hash, frontend -> flags)
// and bpfp_xsrc_v1 (LPM trie of loadBalancerSourceRanges, the frontend as
// the fixed leading part of every prefix; see lb_abi.h).
//
// Upsert() writes the ranges that are new, then the policy entry, then
// deletes the ranges that left: a packet never sees the new flags without
// the new ranges, and no source both policies allow is refused meanwhile.
// Remove() deletes the policy entry first: ranges without a policy are
// inert. Errors name the map and the operation, like BpfLbMaps's.
#ifndef BPFPROXY_PROXY_BPF_POLICY_MAPS_H_
#define BPFPROXY_PROXY_BPF_POLICY_MAPS_H_

#include <memory>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/statusor.h"
#include "bpfproxy/lb_abi.h"
#include "proxy/policy_maps.h"
#include "proxy/unique_fd.h"

namespace bpfproxy {

class BpfPolicyMaps : public PolicyMaps {
 public:
  // Takes ownership of the map fds and reads the ranges the trie holds, so
  // that an Upsert() after a restart deletes the ranges that left.
  static absl::StatusOr<std::unique_ptr<BpfPolicyMaps>> Open(UniqueFd policies, UniqueFd source_ranges);

  absl::Status Upsert(const L4Address& frontend, const FrontendPolicy& policy) override;
  absl::Status Remove(const L4Address& frontend) override;
  absl::Status Prune(const absl::btree_set<L4Address>& keep) override;
  // Read back from the kernel. A frontend whose ranges outlived its policy
  // entry (a write cut short) shows flags 0 with those ranges. A read error
  // is logged and nothing is returned: the caller then writes everything
  // again, which is harmless (writes are idempotent).
  DesiredPolicies Applied() const override;

 private:
  BpfPolicyMaps(UniqueFd policies, UniqueFd source_ranges)
      : policies_(std::move(policies)), source_ranges_(std::move(source_ranges)) {}
  absl::StatusOr<DesiredPolicies> Read() const;
  absl::Status AddRange(const L4Address& frontend, const IpPrefix& range);
  absl::Status DeleteRange(const L4Address& frontend, const IpPrefix& range);

  UniqueFd policies_;
  UniqueFd source_ranges_;
  // The ranges in the trie, per frontend: the trie cannot be listed by
  // frontend without a walk of every range.
  absl::btree_map<L4Address, absl::btree_set<IpPrefix>> ranges_;
};

// The ABI keys, for the daemon and for tests and tools that read the maps.
lb_frontend_key MakeFrontendKey(const L4Address& frontend);
L4Address FrontendOf(const lb_frontend_key& key);
// prefixlen = LB_SRC_RANGE_FRONTEND_BITS + the range's length in the
// v4-mapped space; the range's host bits are cleared. With a /32 (IPv4) or
// /128 (IPv6) range this is a full-length key: BPF_MAP_LOOKUP_ELEM with it
// finds the longest range of |frontend| that holds that source.
lb_src_range_key MakeSourceRangeKey(const L4Address& frontend, const IpPrefix& range);
// The frontend and range of a trie key; false if its prefixlen does not
// cover the frontend.
bool ParseSourceRangeKey(const lb_src_range_key& key, L4Address* frontend, IpPrefix* range);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_BPF_POLICY_MAPS_H_
