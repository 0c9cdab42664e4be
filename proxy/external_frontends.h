// The desired state of the per-packet path (tc on the node's devices): its
// own service view (bpfp_xsvc/xbe/xmemb, written by a second Reconciler)
// plus a policy per frontend (bpfp_xpol/xsrc, written through PolicyMaps).
// Plain values shared by the Service model and the Proxier.
#ifndef BPFPROXY_PROXY_EXTERNAL_FRONTENDS_H_
#define BPFPROXY_PROXY_EXTERNAL_FRONTENDS_H_

#include "proxy/ip_address.h"
#include "proxy/policy_maps.h"
#include "proxy/reconciler.h"

namespace bpfproxy {

struct ExternalFrontends {
  DesiredFrontends frontends;
  // The policy of every frontend of |frontends| whose policy is not the
  // default (flags 0, no source ranges: SNAT, reject without backends, any
  // source). A frontend without an entry has the default, as in the maps.
  // Policies are in FrontendPolicy::Canonical() form.
  DesiredPolicies policies;

  bool empty() const { return frontends.empty(); }
  // |frontend|'s policy; the default when it has no entry.
  const FrontendPolicy& PolicyOf(const L4Address& frontend) const {
    static const FrontendPolicy* const kDefault = new FrontendPolicy();
    auto it = policies.find(frontend);
    return it == policies.end() ? *kDefault : it->second;
  }
  // Sets |frontend| with |backends| and |policy| (the entry is dropped when
  // |policy| is the default).
  void Set(const L4Address& frontend, std::vector<L4Address> backends, FrontendPolicy policy) {
    frontends.insert_or_assign(frontend, std::move(backends));
    if (policy == FrontendPolicy{}) {
      policies.erase(frontend);
    } else {
      policies.insert_or_assign(frontend, std::move(policy));
    }
  }
  bool operator==(const ExternalFrontends&) const = default;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_EXTERNAL_FRONTENDS_H_
