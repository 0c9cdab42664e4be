// TrackerSource adapts the ServiceTracker to the Proxier. The tracker hands
// out changes per Service; the datapath has one entry per frontend
// (ClusterIP:port/protocol). When two Services claim one frontend — for a
// moment during a relist, when one is deleted and another created with its
// ClusterIP, or by misconfiguration — the frontend belongs to the first by
// name, as ServiceTracker::AllFrontends() decides, and a Service giving it
// up does not remove it from under the other. Changes come out per
// frontend: {the owner's backends before, after}.
#ifndef BPFPROXY_PROXY_TRACKER_SOURCE_H_
#define BPFPROXY_PROXY_TRACKER_SOURCE_H_

#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "proxy/proxier.h"
#include "proxy/service_tracker.h"

namespace bpfproxy {

class TrackerSource : public FrontendSource {
 public:
  // |mu| guards |tracker| (reflector threads write it).
  TrackerSource(absl::Mutex* mu, ServiceTracker* tracker) : mu_(mu), tracker_(tracker) {}

  // Called on the proxier's thread only, like everything below.
  std::vector<Change> TakeChanges() override;
  DesiredFrontends AllFrontends() override;

 private:
  using Claims = absl::btree_map<ServiceName, std::vector<L4Address>>;
  const std::vector<L4Address>* Owner(const L4Address& frontend) const;

  absl::Mutex* mu_;
  ServiceTracker* tracker_;
  // Frontend -> the Services whose last taken state has it -> their backends.
  absl::flat_hash_map<L4Address, Claims> claims_;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_TRACKER_SOURCE_H_
