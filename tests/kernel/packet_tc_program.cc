#include "tests/kernel/packet_tc_program.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "e2e/netns.h"
#include "e2e/status_macros.h"
#include "lb_tc.skel.h"

namespace bpfproxy::packet {
namespace {

// Big enough for every test flow; the daemon sizes them from its flags.
constexpr uint32_t kTestCtEntries = 4096;
constexpr uint32_t kTestStatsEntries = 1024;

absl::Status BpfError(int ret, absl::string_view what) {
  return ret >= 0 ? absl::OkStatus() : e2e::ErrnoStatus(-ret, what);
}

lb_frontend_key FrontendKey(const L4Address& frontend) {
  lb_frontend_key key{};
  std::memcpy(key.vip.u8, frontend.ip.bytes().data(), 16);
  key.port = htons(frontend.port);
  key.proto = static_cast<uint8_t>(frontend.proto);
  return key;
}

std::string Endpoint(const lb_addr& addr, uint16_t port_network_order) {
  std::array<uint8_t, 16> bytes;
  std::memcpy(bytes.data(), addr.u8, 16);
  IpAddress ip = IpAddress::FromBytes(bytes);
  uint16_t port = ntohs(port_network_order);
  return ip.is_v4() ? absl::StrCat(ip.ToString(), ":", port) : absl::StrCat("[", ip.ToString(), "]:", port);
}

std::string ProtoName(uint8_t proto) {
  absl::StatusOr<Protocol> p = ProtocolFromNumber(proto);
  return p.ok() ? std::string(ProtocolName(*p)) : absl::StrCat("proto", proto);
}

std::string CtLine(const lb_ct_key& k, const lb_ct_value& v) {
  std::string line =
      absl::StrCat(k.dir == LB_CT_DIR_FORWARD ? "fwd "
                   : k.dir == LB_CT_DIR_REPLY ? "reply "
                                              : "dir?? ",
                   ProtoName(k.proto), " ", Endpoint(k.saddr, k.sport), " -> ", Endpoint(k.daddr, k.dport), " => ",
                   Endpoint(v.saddr, v.sport), " -> ", Endpoint(v.daddr, v.dport), " svc=", v.service_id);
  if (v.backend_id != 0) absl::StrAppend(&line, " be=", v.backend_id);
  if (v.flags & LB_CT_F_SNAT) absl::StrAppend(&line, " snat");
  if (v.flags & ~LB_CT_F_SNAT) absl::StrAppend(&line, " flags=", v.flags);
  return line;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcProgram>> TcProgram::Load() {
  lb_tc* skel = lb_tc__open();
  if (skel == nullptr) return e2e::ErrnoStatus(errno, "lb_tc__open");
  // Owned from here on: the destructor destroys the skeleton.
  std::unique_ptr<TcProgram> program(new TcProgram(skel));
  BPFPT_RETURN_IF_ERROR(BpfError(bpf_map__set_max_entries(skel->maps.bpfp_ct_v1, kTestCtEntries), "resize bpfp_ct_v1"));
  BPFPT_RETURN_IF_ERROR(
      BpfError(bpf_map__set_max_entries(skel->maps.bpfp_stat_v1, kTestStatsEntries), "resize bpfp_stat_v1"));
  BPFPT_RETURN_IF_ERROR(BpfError(lb_tc__load(skel), "lb_tc__load"));
  BPFPT_RETURN_IF_ERROR(program->OpenFrontends());
  return program;
}

TcProgram::~TcProgram() {
  reconciler_.reset();
  maps_.reset();
  lb_tc__destroy(skel_);
}

absl::Status TcProgram::OpenFrontends() {
  auto dup_fd = [](const bpf_map* map) { return UniqueFd(dup(bpf_map__fd(map))); };
  LbMapCapacity capacity;
  capacity.services = bpf_map__max_entries(skel_->maps.bpfp_xsvc_v1);
  capacity.backends = bpf_map__max_entries(skel_->maps.bpfp_xbe_v1);
  maps_ = std::make_unique<BpfLbMaps>(dup_fd(skel_->maps.bpfp_xsvc_v1), dup_fd(skel_->maps.bpfp_xbe_v1),
                                      dup_fd(skel_->maps.bpfp_xmemb_v1), capacity, LbMapNames::ExternalView());
  BPFPT_ASSIGN_OR_RETURN(reconciler_, Reconciler::Create(maps_.get()));
  return absl::OkStatus();
}

absl::Status TcProgram::SetPolicy(const L4Address& frontend, uint16_t flags, const std::vector<IpPrefix>& ranges) {
  const lb_frontend_key fkey = FrontendKey(frontend);
  for (const IpPrefix& range : ranges) {
    lb_src_range_key key{};
    key.prefixlen = LB_SRC_RANGE_FRONTEND_BITS + (range.address.is_v4() ? 96 : 0) + range.length;
    key.vip = fkey.vip;
    key.port = fkey.port;
    key.proto = fkey.proto;
    std::memcpy(key.src.u8, range.address.bytes().data(), 16);
    uint8_t one = 1;
    BPFPT_RETURN_IF_ERROR(
        BpfError(bpf_map__update_elem(skel_->maps.bpfp_xsrc_v1, &key, sizeof(key), &one, sizeof(one), BPF_ANY),
                 "update bpfp_xsrc_v1"));
  }
  lb_policy_value value{};
  value.flags = flags;
  return BpfError(bpf_map__update_elem(skel_->maps.bpfp_xpol_v1, &fkey, sizeof(fkey), &value, sizeof(value), BPF_ANY),
                  "update bpfp_xpol_v1");
}

absl::Status TcProgram::SetDevice(int ifindex, const IpAddress& ip4, const IpAddress& ip6) {
  uint32_t key = ifindex;
  lb_device_value value{};
  std::memcpy(value.ipv4.u8, ip4.bytes().data(), 16);
  std::memcpy(value.ipv6.u8, ip6.bytes().data(), 16);
  return BpfError(bpf_map__update_elem(skel_->maps.bpfp_dev_v1, &key, sizeof(key), &value, sizeof(value), BPF_ANY),
                  "update bpfp_dev_v1");
}

absl::Status TcProgram::EraseDevice(int ifindex) {
  uint32_t key = ifindex;
  return BpfError(bpf_map__delete_elem(skel_->maps.bpfp_dev_v1, &key, sizeof(key), 0), "delete from bpfp_dev_v1");
}

absl::Status TcProgram::EraseCt(const lb_ct_key& key) {
  return BpfError(bpf_map__delete_elem(skel_->maps.bpfp_ct_v1, &key, sizeof(key), 0), "delete from bpfp_ct_v1");
}

absl::StatusOr<lb_service_value> TcProgram::ServiceEntry(const L4Address& frontend, uint16_t slot) const {
  lb_service_key key = MakeServiceKey(frontend, slot);
  lb_service_value value{};
  BPFPT_RETURN_IF_ERROR(
      BpfError(bpf_map__lookup_elem(skel_->maps.bpfp_xsvc_v1, &key, sizeof(key), &value, sizeof(value), 0),
               absl::StrCat("lookup ", frontend.ToString(), " slot ", slot)));
  return value;
}

absl::StatusOr<uint64_t> TcProgram::Connections(uint32_t service_id) const {
  lb_stats_key key{};
  key.service_id = service_id;
  key.view = LB_VIEW_EXTERNAL;
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return BpfError(cpus, "libbpf_num_possible_cpus");
  // Per-CPU values are 8-byte aligned, one per possible CPU.
  std::vector<lb_stats_value> values(cpus);
  int ret = bpf_map__lookup_elem(skel_->maps.bpfp_stat_v1, &key, sizeof(key), values.data(),
                                 values.size() * sizeof(lb_stats_value), 0);
  if (ret == -ENOENT) return 0;
  BPFPT_RETURN_IF_ERROR(BpfError(ret, "lookup bpfp_stat_v1"));
  uint64_t sum = 0;
  for (const lb_stats_value& v : values) sum += v.connections;
  return sum;
}

absl::StatusOr<std::vector<std::pair<lb_ct_key, lb_ct_value>>> TcProgram::CtEntries() const {
  std::vector<std::pair<lb_ct_key, lb_ct_value>> out;
  const bpf_map* map = skel_->maps.bpfp_ct_v1;
  lb_ct_key key{};
  lb_ct_key next{};
  const void* prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
    lb_ct_value value{};
    // An entry evicted between the two calls is skipped.
    if (bpf_map__lookup_elem(map, &next, sizeof(next), &value, sizeof(value), 0) == 0) out.emplace_back(next, value);
    key = next;
    prev = &key;
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> TcProgram::CtLines() const {
  BPFPT_ASSIGN_OR_RETURN(auto entries, CtEntries());
  std::vector<std::string> lines;
  for (const auto& [k, v] : entries) lines.push_back(CtLine(k, v));
  std::sort(lines.begin(), lines.end());
  return lines;
}

absl::StatusOr<RunResult> TcProgram::Run(Hook hook, int ifindex, const Bytes& input) const {
  const bpf_program* prog = hook == Hook::kIngress ? skel_->progs.bpfp_tc_ingress : skel_->progs.bpfp_tc_egress;
  __sk_buff ctx{};
  // The device the FIB lookups start from and the redirects go back out of.
  ctx.ifindex = ifindex;
  if (hook == Hook::kIngress) ctx.ingress_ifindex = ifindex;
  RunResult result;
  // Room for an answer larger than the input (an ICMP error quoting a
  // short datagram).
  result.output.resize(std::max<size_t>(input.size(), 256) + 64);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = input.data(), .data_out = result.output.data(),
              .data_size_in = static_cast<uint32_t>(input.size()),
              .data_size_out = static_cast<uint32_t>(result.output.size()), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
              .repeat = 1);
  BPFPT_RETURN_IF_ERROR(BpfError(bpf_prog_test_run_opts(bpf_program__fd(prog), &opts), "BPF_PROG_TEST_RUN"));
  result.verdict = static_cast<int>(opts.retval);
  result.output.resize(opts.data_size_out);
  return result;
}

}  // namespace bpfproxy::packet
