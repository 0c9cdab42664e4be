// The lb_tc skeleton loaded directly, without the daemon's loader: small
// maps, filled through libbpf (frontends through the Reconciler, like the
// daemon), programs run with BPF_PROG_TEST_RUN. Nothing is attached or
// pinned, so nothing outlives the object.
#ifndef BPFPROXY_TESTS_KERNEL_PACKET_TC_PROGRAM_H_
#define BPFPROXY_TESTS_KERNEL_PACKET_TC_PROGRAM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bpfproxy/lb_abi.h"
#include "proxy/bpf_lb_maps.h"
#include "proxy/ip_address.h"
#include "proxy/reconciler.h"
#include "tests/kernel/packet_builder.h"

struct lb_tc;

namespace bpfproxy::packet {

enum class Hook { kIngress, kEgress };

struct RunResult {
  int verdict = -1;  // TC_ACT_*
  Bytes output;
};

class TcProgram {
 public:
  // Opens and loads the skeleton with its LRU maps shrunk to test sizes.
  static absl::StatusOr<std::unique_ptr<TcProgram>> Load();
  TcProgram(const TcProgram&) = delete;
  TcProgram& operator=(const TcProgram&) = delete;
  ~TcProgram();

  // The external view's frontends (bpfp_xsvc/xbe/xmemb_v1).
  Reconciler& frontends() { return *reconciler_; }
  // bpfp_xpol_v1 flags and bpfp_xsrc_v1 ranges of |frontend|.
  absl::Status SetPolicy(const L4Address& frontend, uint16_t flags, const std::vector<IpPrefix>& ranges = {});
  // bpfp_dev_v1: the node addresses of a managed device.
  absl::Status SetDevice(int ifindex, const IpAddress& ip4, const IpAddress& ip6);
  absl::Status EraseDevice(int ifindex);
  // Deletes a conntrack entry, as the LRU does when it evicts one.
  absl::Status EraseCt(const lb_ct_key& key);

  // Slot |slot| (the master by default) of |frontend| in bpfp_xsvc_v1.
  absl::StatusOr<lb_service_value> ServiceEntry(const L4Address& frontend, uint16_t slot = LB_SLOT_MASTER) const;
  // bpfp_stat_v1 {service_id, LB_VIEW_EXTERNAL}, summed over CPUs; 0 if absent.
  absl::StatusOr<uint64_t> Connections(uint32_t service_id) const;
  // bpfp_ct_v1 as sorted lines (last_seen_ns left out), e.g.
  //   fwd TCP 192.168.50.100:40000 -> 192.168.50.1:30080 => 192.168.60.1:40000 -> 10.244.1.5:8080 svc=1 be=1 snat
  //   reply TCP 10.244.1.5:8080 -> 192.168.60.1:40000 => 192.168.50.1:30080 -> 192.168.50.100:40000 svc=1 snat
  absl::StatusOr<std::vector<std::string>> CtLines() const;
  // Every conntrack entry, for checks beyond the lines (e.g. last_seen_ns).
  absl::StatusOr<std::vector<std::pair<lb_ct_key, lb_ct_value>>> CtEntries() const;

  // Runs one program on |input| as received on (ingress) or sent from
  // (egress) device |ifindex|.
  absl::StatusOr<RunResult> Run(Hook hook, int ifindex, const Bytes& input) const;

 private:
  explicit TcProgram(lb_tc* skel) : skel_(skel) {}
  absl::Status OpenFrontends();

  lb_tc* skel_;
  std::unique_ptr<BpfLbMaps> maps_;
  std::unique_ptr<Reconciler> reconciler_;
};

}  // namespace bpfproxy::packet

#endif  // BPFPROXY_TESTS_KERNEL_PACKET_TC_PROGRAM_H_
