// Plain value types for addresses and Service frontends. No kernel, no I/O.
#ifndef BPFPROXY_PROXY_IP_ADDRESS_H_
#define BPFPROXY_PROXY_IP_ADDRESS_H_

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace bpfproxy {

enum class Protocol : uint8_t { kTcp = 6, kUdp = 17, kSctp = 132 };

// "TCP", "UDP", "SCTP" (Kubernetes spelling).
absl::string_view ProtocolName(Protocol p);
absl::StatusOr<Protocol> ParseProtocol(absl::string_view name);
absl::StatusOr<Protocol> ProtocolFromNumber(uint8_t number);

// An IPv4 or IPv6 address, stored as 16 bytes in network order with IPv4
// v4-mapped (::ffff:a.b.c.d), which is the form the BPF maps use.
class IpAddress {
 public:
  IpAddress() = default;
  static absl::StatusOr<IpAddress> Parse(absl::string_view text);
  static IpAddress FromBytes(const std::array<uint8_t, 16>& bytes);
  // |ip4| in network byte order.
  static IpAddress FromV4(uint32_t ip4_network_order);

  bool is_v4() const;
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // Dotted quad for IPv4, RFC 5952 form for IPv6.
  std::string ToString() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  std::array<uint8_t, 16> bytes_{};
};

// An IP, port (host order) and protocol: a Service frontend or a backend.
struct L4Address {
  IpAddress ip;
  uint16_t port = 0;
  Protocol proto = Protocol::kTcp;

  // "10.96.0.1:80/TCP", "[fd00::1]:53/UDP".
  std::string ToString() const;
  // Parses the ToString() form.
  static absl::StatusOr<L4Address> Parse(absl::string_view text);

  auto operator<=>(const L4Address&) const = default;
};

// A CIDR: an address and a prefix length of the address's own family
// (0..32 for IPv4, 0..128 for IPv6). E.g. loadBalancerSourceRanges.
struct IpPrefix {
  IpAddress address;
  uint8_t length = 0;
  auto operator<=>(const IpPrefix&) const = default;
};

template <typename H>
H AbslHashValue(H h, const IpAddress& a) {
  return H::combine(std::move(h), a.bytes());
}
template <typename H>
H AbslHashValue(H h, const L4Address& a) {
  return H::combine(std::move(h), a.ip, a.port, a.proto);
}

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_IP_ADDRESS_H_
