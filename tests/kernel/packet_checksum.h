// The Internet checksum (RFC 1071) in plain C++, so the packet tests can
// check what the BPF program wrote without trusting any of its code.
#ifndef BPFPROXY_TESTS_KERNEL_PACKET_CHECKSUM_H_
#define BPFPROXY_TESTS_KERNEL_PACKET_CHECKSUM_H_

#include <cstdint>

#include "absl/types/span.h"
#include "proxy/ip_address.h"

namespace bpfproxy::packet {

// Adds |bytes| to |sum| as big-endian 16-bit words; an odd last byte is
// padded with zero. Not folded: sums of several parts can be added.
uint64_t SumWords(absl::Span<const uint8_t> bytes, uint64_t sum = 0);

// Folds a sum to 16 bits and complements it: the value of a checksum field
// (host order). Summing data that includes a correct checksum field folds
// to 0xffff, so Checksum() of it is 0.
uint16_t Checksum(uint64_t sum);

// The sum of the TCP/UDP/ICMPv6 pseudo-header: addresses of |src|'s family
// (IPv4 or IPv6), the protocol and the L4 length.
uint64_t PseudoHeaderSum(const IpAddress& src, const IpAddress& dst, uint8_t proto, uint32_t l4_length);

}  // namespace bpfproxy::packet

#endif  // BPFPROXY_TESTS_KERNEL_PACKET_CHECKSUM_H_
