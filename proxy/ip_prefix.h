// Operations on IpPrefix (proxy/ip_address.h): parsing a CIDR, its text
// form, masking the host bits and containment. Plain values, no I/O.
//
// An IPv4 prefix is stored like every IpAddress, v4-mapped, with a length
// of 0..32; its bit length in the 128-bit v4-mapped space is 96 + length.
#ifndef BPFPROXY_PROXY_IP_PREFIX_H_
#define BPFPROXY_PROXY_IP_PREFIX_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proxy/ip_address.h"

namespace bpfproxy {

// "10.0.0.0/8", "fd00::/64"; host bits are kept as written (MaskedPrefix
// clears them). An error names the text.
absl::StatusOr<IpPrefix> ParseIpPrefix(absl::string_view text);

// "10.0.0.0/8", "fd00::/64".
std::string IpPrefixString(const IpPrefix& prefix);

// Whether |prefix|'s length fits its family (0..32 for IPv4, 0..128 IPv6).
bool IsValidPrefix(const IpPrefix& prefix);

// The length in the 128-bit v4-mapped space: 96 + length for IPv4.
int MappedPrefixLength(const IpPrefix& prefix);

// |prefix| with the bits past its length cleared: "10.1.2.3/8" -> "10.0.0.0/8".
IpPrefix MaskedPrefix(const IpPrefix& prefix);

// Whether |ip| lies inside |prefix|. Families never mix: an IPv4 address is
// not inside ::/0.
bool PrefixContains(const IpPrefix& prefix, const IpAddress& ip);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_IP_PREFIX_H_
