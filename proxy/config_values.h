// Value syntax shared by the command line and the KubeProxyConfiguration
// file, written to accept exactly what kube-proxy (Go, pflag, apimachinery)
// accepts, so that a flag or field kube-proxy took is taken here too, and a
// value it refused is refused with a message naming what is wrong.
#ifndef BPFPROXY_PROXY_CONFIG_VALUES_H_
#define BPFPROXY_PROXY_CONFIG_VALUES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace bpfproxy {

// Go's time.ParseDuration: "300ms", "-1.5h", "2h45m", "0"; units ns, us
// (also µs), ms, s, m, h. Unlike absl, "inf" is refused.
absl::StatusOr<absl::Duration> ParseGoDuration(absl::string_view text);

// Go's duration String(): "1h0m0s", "30s", "1.5s", "250ms", "0s" — the form
// kube-proxy writes in a KubeProxyConfiguration.
std::string FormatGoDuration(absl::Duration d);

// Go's strconv.ParseBool: 1 t T TRUE true True, 0 f F FALSE false False.
absl::StatusOr<bool> ParseGoBool(absl::string_view text);

// A decimal integer within [min, max].
absl::StatusOr<int64_t> ParseIntInRange(absl::string_view text, int64_t min, int64_t max);

// An IPv4 or IPv6 address literal.
absl::Status ValidateIp(absl::string_view text);

// "10.0.0.0/8", "fd00::/64": an address and a prefix length of its family.
absl::Status ValidateCidr(absl::string_view text);

// kube-proxy's IP:port addresses (healthz, metrics): "0.0.0.0:10256",
// "[::]:10256"; the port in 1..65535.
absl::Status ValidateHostPort(absl::string_view text);

// kube-proxy's AppendPortIfNeeded: a bare IP gets |port| ("[ip]:port" for
// IPv6); anything else is returned unchanged.
std::string AppendPortIfNeeded(absl::string_view address, int port);

// A comma-separated list with pflag's StringSlice rules (items trimmed,
// empty text: no items).
std::vector<std::string> SplitList(absl::string_view text);

// --cluster-cidr / clusterCIDR: one CIDR, or an IPv4 and an IPv6 one.
absl::Status ValidateClusterCidrs(const std::vector<std::string>& cidrs);

// --nodeport-addresses / nodePortAddresses: CIDRs, or the single "primary".
absl::Status ValidateNodePortAddresses(const std::vector<std::string>& values);

// --bind-address / bindAddress: an IP, or an IPv4,IPv6 pair (node IP
// override); "0.0.0.0" and "::" mean no override.
absl::Status ValidateBindAddress(absl::string_view text);

// kube-proxy's proxy modes on Linux: "" (its default, iptables), iptables,
// ipvs, nftables.
absl::Status ValidateProxyMode(absl::string_view mode);

// kube-proxy's detect-local modes: "" (ClusterCIDR), ClusterCIDR, NodeCIDR,
// BridgeInterface, InterfaceNamePrefix.
absl::Status ValidateDetectLocalMode(absl::string_view mode);

// --feature-gates: "A=true,B=false" merged into |gates| (repeated flags add
// up, as with kube-proxy's mapStringBool).
absl::Status ParseFeatureGates(absl::string_view text, absl::btree_map<std::string, bool>& gates);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_CONFIG_VALUES_H_
