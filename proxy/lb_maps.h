// The datapath's load-balancing maps behind a small interface: the libbpf
// implementation (proxy/bpf_lb_maps.h) talks to the kernel, FakeLbMaps
// (proxy/fake_lb_maps.h) keeps them in memory for tests.
#ifndef BPFPROXY_PROXY_LB_MAPS_H_
#define BPFPROXY_PROXY_LB_MAPS_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "bpfproxy/lb_abi.h"
#include "proxy/ip_address.h"

namespace bpfproxy {

struct LbMapCapacity {
  uint32_t services = LB_DEFAULT_SERVICE_ENTRIES;  // entries of bpfp_svc (masters + slots) and of bpfp_memb
  uint32_t backends = LB_DEFAULT_BACKEND_ENTRIES;  // entries of bpfp_be
  uint32_t sockets = LB_DEFAULT_SOCK_ENTRIES;      // entries of bpfp_rnat and bpfp_aff each
};

// Every error names the map and the operation, e.g.
// "bpf map bpfp_svc_v1: update 10.96.0.1:80/TCP#3: Argument list too long (E2BIG)".
// A full map is kResourceExhausted.
class LbMaps {
 public:
  virtual ~LbMaps() = default;

  virtual absl::Status UpdateService(const lb_service_key& key, const lb_service_value& value) = 0;
  virtual absl::Status DeleteService(const lb_service_key& key) = 0;
  virtual absl::Status UpdateBackend(uint32_t id, const lb_backend_value& value) = 0;
  virtual absl::Status DeleteBackend(uint32_t id) = 0;
  virtual absl::Status UpdateMember(const lb_member_key& key) = 0;
  virtual absl::Status DeleteMember(const lb_member_key& key) = 0;

  using ServiceVisitor = absl::FunctionRef<void(const lb_service_key&, const lb_service_value&)>;
  using BackendVisitor = absl::FunctionRef<void(uint32_t, const lb_backend_value&)>;
  using MemberVisitor = absl::FunctionRef<void(const lb_member_key&)>;
  virtual absl::Status ForEachService(ServiceVisitor visit) const = 0;
  virtual absl::Status ForEachBackend(BackendVisitor visit) const = 0;
  virtual absl::Status ForEachMember(MemberVisitor visit) const = 0;

  virtual LbMapCapacity capacity() const = 0;
};

// Conversions between the plain model and the ABI structs.
lb_service_key MakeServiceKey(const L4Address& frontend, uint16_t slot);
L4Address FrontendOf(const lb_service_key& key);
lb_service_value MakeMasterValue(uint32_t service_id, uint16_t count);
lb_service_value MakeSlotValue(uint32_t service_id, uint32_t backend_id);
lb_backend_value MakeBackendValue(uint32_t id, const L4Address& backend);
lb_member_key MakeMemberKey(uint32_t service_id, uint32_t backend_id);
L4Address AddressOf(const lb_backend_value& value);

// "10.96.0.1:80/TCP#3": a service key as it appears in logs and errors.
std::string ServiceKeyString(const lb_service_key& key);
// "svc 7 backend 3": a member key as it appears in logs and errors.
std::string MemberKeyString(const lb_member_key& key);

// Builds the error for a failed map operation from a negative errno.
absl::Status MapError(absl::string_view map, absl::string_view operation, int neg_errno);

// The maps' contents as sorted text lines, for tests and bpfproxyctl:
//   svc 10.96.0.1:80/TCP #0 id=1 count=2 flags=0
//   svc 10.96.0.1:80/TCP #1 backend=7
//   member 10.96.0.1:80/TCP backend=7
//   be 7 10.244.0.2:8080/TCP
// Services sort by frontend then slot, members by frontend then backend,
// backends by ID. Anything inconsistent is spelled out: a slot whose ID
// differs from its master's gets " id=N", a member of an ID no master has
// reads "member id=N backend=B", a backend whose value carries another ID
// gets " id=N".
absl::StatusOr<std::vector<std::string>> DumpLines(const LbMaps& maps);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_LB_MAPS_H_
