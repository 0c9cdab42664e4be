#include "proxy/ctl/datapath_snapshot.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <tuple>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bpfproxy::ctl {
namespace {

L4Address MakeL4(const lb_addr& addr, __be16 port, uint8_t proto) {
  return L4Address{AddressFromAbi(addr), ntohs(port), static_cast<Protocol>(proto)};
}

// The slots of one frontend, by slot number; the master is slot 0.
using SlotEntries = absl::btree_map<uint16_t, lb_service_value>;

ProgrammedFrontend ResolveFrontend(const SlotEntries& slots, const BackendEntries& backends,
                                   absl::string_view backends_map, size_t& invisible_slots) {
  const lb_service_value& master = slots.at(LB_SLOT_MASTER);
  ProgrammedFrontend out{.service_id = master.service_id, .count = master.count};
  for (uint16_t slot = 1; slot <= master.count; ++slot) {
    auto it = slots.find(slot);
    if (it == slots.end()) {
      out.problems.push_back(absl::StrCat("slot ", slot, " is missing"));
      continue;
    }
    const lb_service_value& value = it->second;
    if (value.service_id != master.service_id) {
      out.problems.push_back(absl::StrCat("slot ", slot, " has service id ", value.service_id, ", its master ",
                                          master.service_id));
    }
    auto backend = backends.find(value.backend_id);
    if (backend == backends.end()) {
      out.problems.push_back(
          absl::StrCat("slot ", slot, " points at backend ", value.backend_id, ", which ", backends_map, " lacks"));
      continue;
    }
    if (backend->second.id != value.backend_id) {
      out.problems.push_back(absl::StrCat("backend ", value.backend_id, " in ", backends_map, " carries id ",
                                          backend->second.id));
    }
    out.backends.push_back(MakeL4(backend->second.addr, backend->second.port, backend->second.proto));
  }
  // Slots past the count: written before the master grows, or left over
  // after it shrank.
  for (auto it = slots.upper_bound(master.count); it != slots.end(); ++it) ++invisible_slots;
  return out;
}

}  // namespace

absl::string_view ViewName(View view) { return view == View::kSocket ? "socket" : "external"; }

std::string PolicyFlagNames(uint16_t flags) {
  std::vector<std::string> names;
  if (flags & LB_POL_F_PRESERVE_SOURCE) names.push_back("preserve-source");
  if (flags & LB_POL_F_DROP_NO_BACKEND) names.push_back("drop-no-backend");
  if (flags & LB_POL_F_SOURCE_RANGES) names.push_back("source-ranges");
  const uint16_t unknown = flags & ~(LB_POL_F_PRESERVE_SOURCE | LB_POL_F_DROP_NO_BACKEND | LB_POL_F_SOURCE_RANGES);
  if (unknown != 0) names.push_back(absl::StrCat("0x", absl::Hex(unknown)));
  return names.empty() ? "none" : absl::StrJoin(names, ",");
}

const ProgrammedView* DatapathSnapshot::view(View v) const {
  if (v == View::kSocket) return &socket;
  return external.has_value() ? &*external : nullptr;
}

const ProgrammedFrontend* DatapathSnapshot::Find(View v, const L4Address& frontend) const {
  const ProgrammedView* in = view(v);
  if (in == nullptr) return nullptr;
  auto it = in->frontends.find(frontend);
  return it == in->frontends.end() ? nullptr : &it->second;
}

ProgrammedPolicy DatapathSnapshot::PolicyOf(const L4Address& frontend) const {
  auto it = policies.find(frontend);
  return it == policies.end() ? ProgrammedPolicy{} : it->second;
}

std::optional<uint64_t> DatapathSnapshot::Connections(View v, uint32_t service_id) const {
  if (!connections.has_value()) return std::nullopt;
  auto it = connections->find({v, service_id});
  return it == connections->end() ? 0 : it->second;
}

ProgrammedView BuildView(const ServiceEntries& services, const BackendEntries& backends,
                         absl::string_view backends_map) {
  absl::btree_map<L4Address, SlotEntries> by_frontend;
  for (const auto& [key, value] : services) by_frontend[MakeL4(key.vip, key.port, key.proto)][key.slot] = value;
  ProgrammedView view;
  for (const auto& [frontend, slots] : by_frontend) {
    if (!slots.contains(LB_SLOT_MASTER)) {
      view.invisible_slots += slots.size();
      continue;
    }
    view.frontends.emplace(frontend, ResolveFrontend(slots, backends, backends_map, view.invisible_slots));
  }
  return view;
}

Policies BuildPolicies(const std::vector<std::pair<lb_frontend_key, lb_policy_value>>& policies,
                       const std::vector<lb_src_range_key>& ranges) {
  Policies out;
  for (const auto& [key, value] : policies) out[FrontendOfKey(key)].flags = value.flags;
  for (const lb_src_range_key& key : ranges) {
    lb_frontend_key frontend{};
    std::memcpy(frontend.vip.u8, key.vip.u8, sizeof(frontend.vip.u8));
    frontend.port = key.port;
    frontend.proto = key.proto;
    out[FrontendOfKey(frontend)].source_ranges.push_back(SourceRangeOf(key));
  }
  for (auto& [frontend, policy] : out) absl::c_sort(policy.source_ranges);
  return out;
}

ConnectionCounts BuildConnectionCounts(const std::vector<std::pair<lb_stats_key, std::vector<uint64_t>>>& entries) {
  ConnectionCounts out;
  for (const auto& [key, per_cpu] : entries) {
    uint64_t sum = 0;
    for (uint64_t v : per_cpu) sum += v;
    out[{static_cast<View>(key.view), key.service_id}] += sum;
  }
  return out;
}

ConntrackTable BuildConntrack(const std::vector<std::pair<lb_ct_key, lb_ct_value>>& entries) {
  using Tuple = std::tuple<L4Address, L4Address>;  // (source, destination) as on the wire.
  absl::flat_hash_set<std::pair<L4Address, L4Address>> replies;
  ConntrackTable table;
  for (const auto& [key, value] : entries) {
    if (key.dir != LB_CT_DIR_REPLY) continue;
    ++table.reply_entries;
    replies.insert({MakeL4(key.saddr, key.sport, key.proto), MakeL4(key.daddr, key.dport, key.proto)});
  }
  absl::flat_hash_set<std::pair<L4Address, L4Address>> answered;
  for (const auto& [key, value] : entries) {
    if (key.dir != LB_CT_DIR_FORWARD) continue;
    ++table.forward_entries;
    ConntrackFlow flow{.client = MakeL4(key.saddr, key.sport, key.proto),
                       .frontend = MakeL4(key.daddr, key.dport, key.proto),
                       .backend = MakeL4(value.daddr, value.dport, key.proto),
                       .service_id = value.service_id,
                       .backend_id = value.backend_id,
                       .last_seen_ns = value.last_seen_ns};
    const L4Address source_written = MakeL4(value.saddr, value.sport, key.proto);
    if (value.flags & LB_CT_F_SNAT) flow.snat = source_written;
    // The reply comes back from the backend to whatever source was written.
    std::pair<L4Address, L4Address> reply{flow.backend, source_written};
    flow.has_reply = replies.contains(reply);
    if (flow.has_reply) answered.insert(reply);
    table.flows.push_back(std::move(flow));
  }
  table.orphan_replies = table.reply_entries - answered.size();
  absl::c_sort(table.flows, [](const ConntrackFlow& a, const ConntrackFlow& b) {
    return Tuple(a.client, a.frontend) < Tuple(b.client, b.frontend);
  });
  return table;
}

IpAddress AddressFromAbi(const lb_addr& addr) {
  std::array<uint8_t, 16> bytes;
  std::memcpy(bytes.data(), addr.u8, bytes.size());
  return IpAddress::FromBytes(bytes);
}

IpPrefix SourceRangeOf(const lb_src_range_key& key) {
  IpPrefix prefix{.address = AddressFromAbi(key.src)};
  // The trie's length counts the frontend and the whole 128-bit (v4-mapped)
  // source; the frontend's family says how to read the rest.
  const int mapped = static_cast<int>(key.prefixlen) - LB_SRC_RANGE_FRONTEND_BITS;
  const int length = AddressFromAbi(key.vip).is_v4() ? mapped - 96 : mapped;
  prefix.length = static_cast<uint8_t>(std::clamp(length, 0, prefix.address.is_v4() ? 32 : 128));
  return prefix;
}

L4Address FrontendOfKey(const lb_frontend_key& key) { return MakeL4(key.vip, key.port, key.proto); }

}  // namespace bpfproxy::ctl
