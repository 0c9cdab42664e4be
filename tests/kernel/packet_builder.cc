#include "tests/kernel/packet_builder.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "tests/kernel/packet_checksum.h"

namespace bpfproxy::packet {
namespace {

// Malformed specs are bugs in a test's constants: stop at once.
void Require(bool ok, absl::string_view what) {
  if (ok) return;
  std::cerr << "packet_builder: " << what << std::endl;
  std::abort();
}

void Put8(Bytes& b, uint8_t v) { b.push_back(v); }
void Put16(Bytes& b, uint16_t v) {
  b.push_back(v >> 8);
  b.push_back(v & 0xff);
}
void Put32(Bytes& b, uint32_t v) {
  Put16(b, v >> 16);
  Put16(b, v & 0xffff);
}
void PutBytes(Bytes& b, absl::Span<const uint8_t> v) { b.insert(b.end(), v.begin(), v.end()); }
void Set16(Bytes& b, size_t off, uint16_t v) {
  b[off] = v >> 8;
  b[off + 1] = v & 0xff;
}

absl::Span<const uint8_t> AddressBytes(const IpAddress& a) {
  return a.is_v4() ? absl::MakeConstSpan(a.bytes().data() + 12, 4) : absl::MakeConstSpan(a.bytes());
}

void PutEthernet(Bytes& b, const MacAddress& src, const MacAddress& dst, uint16_t type) {
  PutBytes(b, dst);
  PutBytes(b, src);
  Put16(b, type);
}

// The TCP or UDP header and payload, checksum included.
Bytes BuildL4(const PacketSpec& spec) {
  Bytes l4;
  Put16(l4, spec.sport);
  Put16(l4, spec.dport);
  size_t csum_off;
  if (spec.proto == kIpProtoTcp) {
    Put32(l4, spec.seq);
    Put32(l4, spec.ack);
    Put8(l4, 5 << 4);  // data offset: 20 bytes
    Put8(l4, spec.tcp_flags);
    Put16(l4, spec.tcp_window);
    csum_off = l4.size();
    Put16(l4, 0);
    Put16(l4, 0);  // urgent pointer
  } else {
    Put16(l4, 8 + spec.payload.size());
    csum_off = l4.size();
    Put16(l4, 0);
  }
  PutBytes(l4, spec.payload);
  bool zero_udp = spec.proto == kIpProtoUdp && spec.src.is_v4() && !spec.udp_checksum;
  if (!zero_udp) {
    uint16_t csum = Checksum(SumWords(l4, PseudoHeaderSum(spec.src, spec.dst, spec.proto, l4.size())));
    // UDP sends a computed 0 as 0xffff: 0 means "none".
    if (csum == 0 && spec.proto == kIpProtoUdp) csum = 0xffff;
    Set16(l4, csum_off, csum);
  }
  return l4;
}

void PutIpv4(Bytes& b, const PacketSpec& spec, size_t l4_len) {
  Require(spec.ipv4_options.size() % 4 == 0 && spec.ipv4_options.size() <= 40, "IPv4 options size");
  size_t start = b.size();
  size_t hlen = 20 + spec.ipv4_options.size();
  Put8(b, 0x40 | (hlen / 4));
  Put8(b, spec.ipv4_tos);
  Put16(b, hlen + l4_len);
  Put16(b, spec.ipv4_id);
  Put16(b, spec.ipv4_frag);
  Put8(b, spec.ttl);
  Put8(b, spec.proto);
  Put16(b, 0);  // checksum, below
  PutBytes(b, AddressBytes(spec.src));
  PutBytes(b, AddressBytes(spec.dst));
  PutBytes(b, spec.ipv4_options);
  Set16(b, start + 10, Checksum(SumWords(absl::MakeConstSpan(b).subspan(start, hlen))));
}

void PutIpv6(Bytes& b, const PacketSpec& spec, size_t l4_len) {
  size_t ext = spec.ipv6_hop_by_hop ? 8 : 0;
  Put32(b, 0x60000000);
  Put16(b, ext + l4_len);
  Put8(b, spec.ipv6_hop_by_hop ? 0 : spec.proto);
  Put8(b, spec.ttl);
  PutBytes(b, AddressBytes(spec.src));
  PutBytes(b, AddressBytes(spec.dst));
  if (spec.ipv6_hop_by_hop) {
    // Next header, length 0 (8 bytes), PadN option of 4 bytes.
    PutBytes(b, {spec.proto, 0, 1, 4, 0, 0, 0, 0});
  }
}

}  // namespace

MacAddress Mac(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  Require(parts.size() == 6, text);
  MacAddress mac;
  for (size_t i = 0; i < 6; ++i) {
    uint32_t v;
    Require(absl::SimpleHexAtoi(parts[i], &v) && v <= 0xff, text);
    mac[i] = static_cast<uint8_t>(v);
  }
  return mac;
}

std::string MacToString(const MacAddress& m) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

Bytes BuildPacket(const PacketSpec& spec) {
  Require(spec.src.is_v4() == spec.dst.is_v4(), "mixed address families");
  Bytes l4 = BuildL4(spec);
  Bytes frame;
  PutEthernet(frame, spec.eth_src, spec.eth_dst, spec.src.is_v4() ? kEthIpv4 : kEthIpv6);
  if (spec.src.is_v4()) {
    PutIpv4(frame, spec, l4.size());
  } else {
    PutIpv6(frame, spec, l4.size());
  }
  PutBytes(frame, l4);
  return frame;
}

Bytes BuildArpRequest(const MacAddress& src, const IpAddress& sender, const IpAddress& target) {
  Bytes frame;
  PutEthernet(frame, src, Mac("ff:ff:ff:ff:ff:ff"), kEthArp);
  Put16(frame, 1);         // Ethernet
  Put16(frame, kEthIpv4);  // IPv4
  Put8(frame, 6);
  Put8(frame, 4);
  Put16(frame, 1);  // request
  PutBytes(frame, src);
  PutBytes(frame, AddressBytes(sender));
  PutBytes(frame, MacAddress{});
  PutBytes(frame, AddressBytes(target));
  return frame;
}

}  // namespace bpfproxy::packet
