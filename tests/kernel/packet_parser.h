// Decodes the frames BPF_PROG_TEST_RUN hands back and checks their
// checksums from the bytes alone (tests/kernel/packet_checksum.h).
#ifndef BPFPROXY_TESTS_KERNEL_PACKET_PARSER_H_
#define BPFPROXY_TESTS_KERNEL_PACKET_PARSER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proxy/ip_address.h"
#include "tests/kernel/packet_builder.h"

namespace bpfproxy::packet {

struct ParsedPacket {
  MacAddress eth_dst{};
  MacAddress eth_src{};
  uint16_t ethertype = 0;

  // IPv4 or IPv6 (no extension headers).
  IpAddress src;
  IpAddress dst;
  uint8_t proto = 0;  // IPv4 protocol, IPv6 next header
  uint8_t ttl = 0;    // or hop limit
  size_t ip_header_len = 0;
  size_t ip_total_len = 0;        // header + payload, as the IP header says
  size_t trailing = 0;            // frame bytes after the IP packet
  bool ipv4_checksum_ok = false;  // IPv4 header checksum verifies

  // TCP / UDP.
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint8_t tcp_flags = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;

  // ICMP / ICMPv6 errors.
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  Bytes icmp_quote;  // everything after the 8-byte ICMP header

  uint16_t l4_checksum = 0;     // the field as written
  bool l4_checksum_ok = false;  // TCP, UDP, ICMP, ICMPv6; IPv4 UDP 0 ("none") counts as ok
  Bytes payload;                // after the TCP/UDP header
};

// Fails on anything that is not Ethernet + IPv4/IPv6 + TCP/UDP/ICMP(v6) or
// is shorter than its headers claim.
absl::StatusOr<ParsedPacket> ParsePacket(absl::Span<const uint8_t> frame);

// "TCP 10.0.0.1:1000 -> 10.0.0.2:80 ttl=64 flags=SA seq=1 ack=2 macs=...":
// for failure messages.
std::string Describe(const ParsedPacket& p);
// "S", "RA", "FPA": TCP flags as tcpdump prints them.
std::string TcpFlagsString(uint8_t flags);

}  // namespace bpfproxy::packet

#endif  // BPFPROXY_TESTS_KERNEL_PACKET_PARSER_H_
