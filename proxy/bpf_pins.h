// The layout of bpfproxy's pins under --bpf-root, shared by the socket-LB
// (proxy/socket_lb.h) and the tc (proxy/tc_lb.h) loaders:
//
//   <bpf-root>/maps/bpfp_*    maps of both BPF objects, reused by name
//   <bpf-root>/links/bpfp_*   the socket LB's cgroup links
//
// Both objects pin into the same maps/ directory and share bpfp_stat_v1, so
// "ours and current" is the union of their map names: neither loader
// removes the other's pins as stale.
#ifndef BPFPROXY_PROXY_BPF_PINS_H_
#define BPFPROXY_PROXY_BPF_PINS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct bpf_object;
struct bpf_map;

namespace bpfproxy {

// Every pin bpfproxy makes starts with this; --cleanup and the removal of
// stale pins touch nothing else, even in a shared bpffs directory.
inline constexpr absl::string_view kPinPrefix = "bpfp_";

std::string MapsDir(absl::string_view bpf_root);
std::string LinksDir(absl::string_view bpf_root);

// The maps each BPF object of this binary pins (lb_sock.bpf.c and
// lb_tc.bpf.c); kernel tests check these lists against the objects.
const std::vector<std::string>& SocketLbMapNames();
const std::vector<std::string>& TcLbMapNames();
// The union: pins with other bpfp_ names are an older version's.
absl::flat_hash_set<std::string> CurrentMapNames();
// Maps only the tc object uses: what turning the per-packet path off
// removes (bpfp_stat_v1 stays, the socket LB writes it too).
std::vector<std::string> TcOnlyMapNames();

// Names in |dir| that start with kPinPrefix (none if |dir| is missing).
std::vector<std::string> OurPins(const std::string& dir);

// Unpins <dir>/<name> for each name; missing pins are fine.
absl::Status UnpinAll(const std::string& dir, const std::vector<std::string>& names);

// For every map of |obj| (not .rodata/.bss): reuses the map pinned under
// |maps_dir| by name, or has libbpf create and pin it there at load. A
// pinned map of another type, key or value size is kFailedPrecondition
// (--cleanup removes it); one of another size is kept, with a warning.
// |size_of| gives the configured max_entries of each map. Sets |*reused|
// when any pinned map was found. Call between open() and load().
absl::Status PinObjectMaps(bpf_object* obj, const std::string& maps_dir,
                           absl::FunctionRef<uint32_t(const bpf_map*)> size_of, bool* reused);

// Sends libbpf's messages to our log (debug ones from --v=6 on).
void RouteLibbpfLogs();

// "what: strerror(err)" as kInternal; |err| may be negative.
absl::Status ErrnoError(absl::string_view what, int err);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_BPF_PINS_H_
