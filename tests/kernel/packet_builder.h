// Builds the Ethernet frames the tc packet tests feed to BPF_PROG_TEST_RUN:
// IPv4/IPv6 with TCP or UDP and correct checksums, plus the odd ones the
// program must leave alone (ARP, IPv4 fragments, IPv6 extension headers).
#ifndef BPFPROXY_TESTS_KERNEL_PACKET_BUILDER_H_
#define BPFPROXY_TESTS_KERNEL_PACKET_BUILDER_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proxy/ip_address.h"

namespace bpfproxy::packet {

using MacAddress = std::array<uint8_t, 6>;
using Bytes = std::vector<uint8_t>;

// "02:00:00:00:00:01"; dies on malformed input (test constants only).
MacAddress Mac(absl::string_view text);
std::string MacToString(const MacAddress& mac);

inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoIcmp = 1;
inline constexpr uint8_t kIpProtoIcmpv6 = 58;

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;

inline constexpr uint16_t kEthIpv4 = 0x0800;
inline constexpr uint16_t kEthIpv6 = 0x86dd;
inline constexpr uint16_t kEthArp = 0x0806;
inline constexpr size_t kEthHeaderLen = 14;

// One TCP or UDP packet. The IP family is |src|'s.
struct PacketSpec {
  MacAddress eth_src{};
  MacAddress eth_dst{};
  IpAddress src;
  IpAddress dst;
  uint8_t proto = kIpProtoTcp;
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint8_t ttl = 64;  // or hop limit
  uint8_t ipv4_tos = 0;
  uint16_t ipv4_id = 0x1234;
  uint8_t tcp_flags = kTcpSyn;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint16_t tcp_window = 64240;
  // IPv4 UDP only: false sends checksum 0 ("no checksum").
  bool udp_checksum = true;
  // IPv4 flags + fragment offset as in the header (host order), e.g. 0x2000 (MF).
  uint16_t ipv4_frag = 0;
  // IPv4 header options (a multiple of 4 bytes, at most 40).
  Bytes ipv4_options;
  // IPv6: put an 8-byte hop-by-hop options header before TCP/UDP.
  bool ipv6_hop_by_hop = false;
  Bytes payload;
};

Bytes BuildPacket(const PacketSpec& spec);

// An ARP request "who has |target| tell |sender|", broadcast.
Bytes BuildArpRequest(const MacAddress& src, const IpAddress& sender, const IpAddress& target);

}  // namespace bpfproxy::packet

#endif  // BPFPROXY_TESTS_KERNEL_PACKET_BUILDER_H_
