// bpfproxyctl's `services`, `maps` and `conntrack` output, as a table for
// people and as JSON for machines. The JSON schemas are stable: fields may
// be added, none is renamed or removed without bumping "schema_version"
// (README: "bpfproxyctl"). Pure functions of the decoded maps.
#ifndef BPFPROXY_PROXY_CTL_RENDER_H_
#define BPFPROXY_PROXY_CTL_RENDER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "proxy/ctl/datapath_snapshot.h"
#include "proxy/ctl/pinned_maps.h"

namespace bpfproxy::ctl {

inline constexpr int kSchemaVersion = 1;

// "10.96.0.10:80", "[fd00::1]:53": an address without its protocol.
std::string HostPort(const L4Address& address);

// What a new connection to |frontend| meets: "forward", or with no backends
// "refuse" / "drop" (the external view's LB_POL_F_DROP_NO_BACKEND).
std::string DatapathVerdict(View view, const ProgrammedFrontend& frontend, const ProgrammedPolicy& policy);

// Every frontend of both views, sorted by frontend then view (socket first).
nlohmann::json ServicesJson(const DatapathSnapshot& snapshot);
std::string ServicesTable(const DatapathSnapshot& snapshot);

nlohmann::json MapsJson(const std::vector<MapUsage>& maps);
std::string MapsTable(const std::vector<MapUsage>& maps);

// |now_ns|: CLOCK_MONOTONIC now, for how long each flow has been idle.
// |table| nullopt: the per-packet path is not loaded.
nlohmann::json ConntrackJson(const std::optional<ConntrackTable>& table, uint64_t now_ns);
std::string ConntrackText(const std::optional<ConntrackTable>& table, uint64_t now_ns);

}  // namespace bpfproxy::ctl

#endif  // BPFPROXY_PROXY_CTL_RENDER_H_
