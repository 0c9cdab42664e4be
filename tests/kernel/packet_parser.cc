#include "tests/kernel/packet_parser.h"

#include <algorithm>
#include <array>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tests/kernel/packet_checksum.h"

namespace bpfproxy::packet {
namespace {

uint16_t Get16(absl::Span<const uint8_t> b, size_t off) { return static_cast<uint16_t>(b[off] << 8 | b[off + 1]); }
uint32_t Get32(absl::Span<const uint8_t> b, size_t off) {
  return static_cast<uint32_t>(Get16(b, off)) << 16 | Get16(b, off + 2);
}

IpAddress AddressAt(absl::Span<const uint8_t> b, size_t off, bool v4) {
  if (v4) {
    uint32_t network_order;
    std::copy_n(b.data() + off, 4, reinterpret_cast<uint8_t*>(&network_order));
    return IpAddress::FromV4(network_order);
  }
  std::array<uint8_t, 16> bytes;
  std::copy_n(b.data() + off, 16, bytes.begin());
  return IpAddress::FromBytes(bytes);
}

absl::Status TooShort(absl::string_view what, size_t have, size_t need) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", have, " bytes, need ", need));
}

// Fills the IP fields; |l3| is the frame after the Ethernet header.
absl::Status ParseIp(absl::Span<const uint8_t> l3, bool v4, ParsedPacket& p) {
  if (v4) {
    if (l3.size() < 20) return TooShort("IPv4 header", l3.size(), 20);
    if (l3[0] >> 4 != 4) return absl::InvalidArgumentError("IPv4 version is not 4");
    p.ip_header_len = (l3[0] & 0x0f) * 4;
    p.ip_total_len = Get16(l3, 2);
    if (p.ip_header_len < 20 || l3.size() < p.ip_header_len)
      return TooShort("IPv4 options", l3.size(), p.ip_header_len);
    if (Get16(l3, 6) & 0x3fff) return absl::InvalidArgumentError("IPv4 fragment");
    p.ttl = l3[8];
    p.proto = l3[9];
    p.src = AddressAt(l3, 12, true);
    p.dst = AddressAt(l3, 16, true);
    p.ipv4_checksum_ok = Checksum(SumWords(l3.subspan(0, p.ip_header_len))) == 0;
  } else {
    if (l3.size() < 40) return TooShort("IPv6 header", l3.size(), 40);
    if (l3[0] >> 4 != 6) return absl::InvalidArgumentError("IPv6 version is not 6");
    p.ip_header_len = 40;
    p.ip_total_len = 40 + Get16(l3, 4);
    p.proto = l3[6];
    p.ttl = l3[7];
    p.src = AddressAt(l3, 8, false);
    p.dst = AddressAt(l3, 24, false);
  }
  if (l3.size() < p.ip_total_len) return TooShort("IP packet", l3.size(), p.ip_total_len);
  p.trailing = l3.size() - p.ip_total_len;
  return absl::OkStatus();
}

absl::Status ParseL4(absl::Span<const uint8_t> l4, bool v4, ParsedPacket& p) {
  uint64_t pseudo = PseudoHeaderSum(p.src, p.dst, p.proto, l4.size());
  switch (p.proto) {
    case kIpProtoTcp: {
      if (l4.size() < 20) return TooShort("TCP header", l4.size(), 20);
      size_t doff = (l4[12] >> 4) * 4;
      if (doff < 20 || l4.size() < doff) return TooShort("TCP options", l4.size(), doff);
      p.sport = Get16(l4, 0);
      p.dport = Get16(l4, 2);
      p.seq = Get32(l4, 4);
      p.ack = Get32(l4, 8);
      p.tcp_flags = l4[13];
      p.l4_checksum = Get16(l4, 16);
      p.l4_checksum_ok = Checksum(SumWords(l4, pseudo)) == 0;
      p.payload.assign(l4.begin() + doff, l4.end());
      return absl::OkStatus();
    }
    case kIpProtoUdp: {
      if (l4.size() < 8) return TooShort("UDP header", l4.size(), 8);
      if (Get16(l4, 4) != l4.size()) {
        return absl::InvalidArgumentError(absl::StrCat("UDP length ", Get16(l4, 4), " != ", l4.size()));
      }
      p.sport = Get16(l4, 0);
      p.dport = Get16(l4, 2);
      p.l4_checksum = Get16(l4, 6);
      p.l4_checksum_ok = (v4 && p.l4_checksum == 0) || Checksum(SumWords(l4, pseudo)) == 0;
      p.payload.assign(l4.begin() + 8, l4.end());
      return absl::OkStatus();
    }
    case kIpProtoIcmp:
    case kIpProtoIcmpv6: {
      if (l4.size() < 8) return TooShort("ICMP header", l4.size(), 8);
      p.icmp_type = l4[0];
      p.icmp_code = l4[1];
      p.l4_checksum = Get16(l4, 2);
      // ICMPv4 covers the message only; ICMPv6 also the pseudo-header.
      p.l4_checksum_ok = Checksum(SumWords(l4, p.proto == kIpProtoIcmpv6 ? pseudo : 0)) == 0;
      p.icmp_quote.assign(l4.begin() + 8, l4.end());
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("IP protocol ", p.proto));
}

}  // namespace

absl::StatusOr<ParsedPacket> ParsePacket(absl::Span<const uint8_t> frame) {
  ParsedPacket p;
  if (frame.size() < kEthHeaderLen) return TooShort("Ethernet header", frame.size(), kEthHeaderLen);
  std::copy_n(frame.begin(), 6, p.eth_dst.begin());
  std::copy_n(frame.begin() + 6, 6, p.eth_src.begin());
  p.ethertype = Get16(frame, 12);
  if (p.ethertype != kEthIpv4 && p.ethertype != kEthIpv6) {
    return absl::InvalidArgumentError(absl::StrCat("ethertype ", absl::Hex(p.ethertype)));
  }
  bool v4 = p.ethertype == kEthIpv4;
  absl::Span<const uint8_t> l3 = frame.subspan(kEthHeaderLen);
  if (absl::Status s = ParseIp(l3, v4, p); !s.ok()) return s;
  if (absl::Status s = ParseL4(l3.subspan(p.ip_header_len, p.ip_total_len - p.ip_header_len), v4, p); !s.ok()) {
    return s;
  }
  return p;
}

std::string TcpFlagsString(uint8_t flags) {
  std::string out;
  if (flags & kTcpFin) out += "F";
  if (flags & kTcpSyn) out += "S";
  if (flags & kTcpRst) out += "R";
  if (flags & kTcpPsh) out += "P";
  if (flags & kTcpAck) out += "A";
  return out.empty() ? "." : out;
}

std::string Describe(const ParsedPacket& p) {
  auto endpoint = [](const IpAddress& ip, uint16_t port) {
    return ip.is_v4() ? absl::StrCat(ip.ToString(), ":", port) : absl::StrCat("[", ip.ToString(), "]:", port);
  };
  std::string out;
  switch (p.proto) {
    case kIpProtoTcp:
      out = absl::StrCat("TCP ", endpoint(p.src, p.sport), " -> ", endpoint(p.dst, p.dport),
                         " flags=", TcpFlagsString(p.tcp_flags), " seq=", p.seq, " ack=", p.ack);
      break;
    case kIpProtoUdp:
      out = absl::StrCat("UDP ", endpoint(p.src, p.sport), " -> ", endpoint(p.dst, p.dport));
      break;
    default:
      out = absl::StrCat(p.proto == kIpProtoIcmp ? "ICMP " : "ICMPv6 ", p.src.ToString(), " -> ", p.dst.ToString(),
                         " type=", p.icmp_type, " code=", p.icmp_code);
  }
  absl::StrAppend(&out, " ttl=", p.ttl, " csum=", absl::Hex(p.l4_checksum), p.l4_checksum_ok ? "(ok)" : "(BAD)",
                  " eth ", MacToString(p.eth_src), " -> ", MacToString(p.eth_dst));
  return out;
}

}  // namespace bpfproxy::packet
