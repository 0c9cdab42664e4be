// What the pinned maps of a node hold, decoded into plain values: both
// service views (socket and external), the external frontends' policies,
// the connection counters and the conntrack flows. Built from raw map
// entries by pure functions, so every decoding rule is testable without a
// kernel; proxy/ctl/pinned_maps.h reads the entries from the kernel.
#ifndef BPFPROXY_PROXY_CTL_DATAPATH_SNAPSHOT_H_
#define BPFPROXY_PROXY_CTL_DATAPATH_SNAPSHOT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "bpfproxy/lb_abi.h"
#include "proxy/ip_address.h"

namespace bpfproxy::ctl {

// The two service views of lb_abi.h: the socket hooks' (bpfp_svc_v1, ...)
// and the per-packet path's (bpfp_xsvc_v1, ...).
enum class View { kSocket = LB_VIEW_SOCKET, kExternal = LB_VIEW_EXTERNAL };
absl::string_view ViewName(View view);  // "socket", "external"

// One frontend as a view holds it.
struct ProgrammedFrontend {
  uint32_t service_id = LB_SERVICE_ID_INVALID;
  uint16_t count = 0;  // The master's backend count; 0 = no backends.
  // Backends of slots 1..count in slot order: what the datapath picks from.
  // A slot that does not resolve is left out and named in |problems|.
  std::vector<L4Address> backends;
  // Inconsistencies a datapath lookup would trip over: a missing slot, a
  // slot of another service ID, a slot whose backend entry is missing or
  // carries another ID. Empty when the frontend is sound.
  std::vector<std::string> problems;
  bool operator==(const ProgrammedFrontend&) const = default;
};

struct ProgrammedView {
  absl::btree_map<L4Address, ProgrammedFrontend> frontends;
  // Slot entries no master makes visible: those beyond a master's count and
  // those of frontends without a master. Normal for a moment during a
  // write; the daemon's next sync prunes leftovers.
  size_t invisible_slots = 0;
  bool operator==(const ProgrammedView&) const = default;
};

// A frontend's entry in bpfp_xpol_v1 with its bpfp_xsrc_v1 ranges. A
// frontend without an entry has the defaults (flags 0, no ranges).
struct ProgrammedPolicy {
  uint16_t flags = 0;                  // LB_POL_F_*
  std::vector<IpPrefix> source_ranges;  // Sorted; IPv4 ones v4-mapped with a 0..32 length.
  bool operator==(const ProgrammedPolicy&) const = default;
};
// "preserve-source,drop-no-backend,source-ranges" (unknown bits as hex),
// "none" without flags: the names FrontendPolicy::ToString() uses too.
std::string PolicyFlagNames(uint16_t flags);

using Policies = absl::btree_map<L4Address, ProgrammedPolicy>;
// Connections counted in the datapath, summed over CPUs, by (view, service ID).
using ConnectionCounts = absl::btree_map<std::pair<View, uint32_t>, uint64_t>;

struct DatapathSnapshot {
  ProgrammedView socket;
  // nullopt: the per-packet path is not loaded (socket-LB-only mode).
  std::optional<ProgrammedView> external;
  Policies policies;  // Of external frontends; empty without the per-packet path.
  // nullopt: no bpfp_stat_v1 pinned, so nothing is counted.
  std::optional<ConnectionCounts> connections;

  // The view, or nullptr when it is not loaded.
  const ProgrammedView* view(View v) const;
  // The frontend in |v|, or nullptr.
  const ProgrammedFrontend* Find(View v, const L4Address& frontend) const;
  // Its policy (the defaults without an entry).
  ProgrammedPolicy PolicyOf(const L4Address& frontend) const;
  // nullopt when nothing is counted.
  std::optional<uint64_t> Connections(View v, uint32_t service_id) const;
};

// ---- Decoding raw entries (pure) ----

using ServiceEntries = std::vector<std::pair<lb_service_key, lb_service_value>>;
using BackendEntries = absl::flat_hash_map<uint32_t, lb_backend_value>;

// A view from the entries of its services and backends maps.
// |backends_map| names the backends map in problems.
ProgrammedView BuildView(const ServiceEntries& services, const BackendEntries& backends,
                         absl::string_view backends_map);

// Policies from bpfp_xpol_v1 and bpfp_xsrc_v1. A range whose frontend has no
// policy entry (or one without LB_POL_F_SOURCE_RANGES) is kept under a
// default policy, so that it shows.
Policies BuildPolicies(const std::vector<std::pair<lb_frontend_key, lb_policy_value>>& policies,
                       const std::vector<lb_src_range_key>& ranges);

// Sums per-CPU bpfp_stat_v1 values: |per_cpu[i]| holds every CPU's value
// of |keys[i]|.
ConnectionCounts BuildConnectionCounts(const std::vector<std::pair<lb_stats_key, std::vector<uint64_t>>>& entries);

// ---- Conntrack ----

// One translated flow: the forward entry of bpfp_ct_v1.
struct ConntrackFlow {
  L4Address client;    // Source as it arrived.
  L4Address frontend;  // Destination as it arrived.
  L4Address backend;   // Destination written.
  std::optional<L4Address> snat;  // Source written, when it is rewritten (LB_CT_F_SNAT).
  uint32_t service_id = 0;        // In bpfp_xsvc_v1.
  uint32_t backend_id = 0;        // In bpfp_xbe_v1.
  uint64_t last_seen_ns = 0;      // CLOCK_MONOTONIC, like bpf_ktime_get_ns().
  bool has_reply = false;         // Its reply entry exists.
  bool operator==(const ConntrackFlow&) const = default;
};

struct ConntrackTable {
  std::vector<ConntrackFlow> flows;  // Sorted by client, then frontend.
  size_t forward_entries = 0;
  size_t reply_entries = 0;
  // Reply entries without a forward entry (the LRU evicted it, or a write
  // was interrupted): replies are still translated, new packets are not.
  size_t orphan_replies = 0;
};

ConntrackTable BuildConntrack(const std::vector<std::pair<lb_ct_key, lb_ct_value>>& entries);

// ---- ABI conversions ----

IpAddress AddressFromAbi(const lb_addr& addr);
IpPrefix SourceRangeOf(const lb_src_range_key& key);  // The range part of an LPM key.
L4Address FrontendOfKey(const lb_frontend_key& key);

}  // namespace bpfproxy::ctl

#endif  // BPFPROXY_PROXY_CTL_DATAPATH_SNAPSHOT_H_
