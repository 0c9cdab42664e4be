// The packet helpers the tc tests rely on: known-answer checksums (computed
// outside this code), builder/parser round trips, and that a corrupted
// packet is caught, so a wrong checksum from the datapath cannot pass.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kernel/packet_builder.h"
#include "tests/kernel/packet_checksum.h"
#include "tests/kernel/packet_parser.h"

namespace bpfproxy::packet {
namespace {

IpAddress Ip(const char* text) { return IpAddress::Parse(text).value(); }

uint16_t Field16(const Bytes& b, size_t off) { return static_cast<uint16_t>(b[off] << 8 | b[off + 1]); }

PacketSpec Syn(const char* src, const char* dst) {
  PacketSpec p;
  p.eth_src = Mac("02:00:00:00:50:64");
  p.eth_dst = Mac("02:00:00:00:00:01");
  p.src = Ip(src);
  p.dst = Ip(dst);
  p.sport = 40000;
  p.dport = 30080;
  p.seq = 1000;
  p.payload = {'p', 'i', 'n', 'g'};
  return p;
}

TEST(PacketChecksumTest, Ipv4HeaderKnownAnswer) {
  // The classic example: 192.168.0.1 -> 192.168.0.199, UDP, checksum 0xb861.
  Bytes header = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                  0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(Checksum(SumWords(header)), 0xb861);
  header[10] = 0xb8;
  header[11] = 0x61;
  EXPECT_EQ(Checksum(SumWords(header)), 0) << "a header with its checksum sums to zero";
}

TEST(PacketChecksumTest, OddLengthIsPaddedWithZero) {
  EXPECT_EQ(Checksum(SumWords(Bytes{0x12, 0x34, 0x56})), static_cast<uint16_t>(~(0x1234 + 0x5600)));
}

// Known answers computed independently (Python) for the packets Syn() builds.
TEST(PacketBuilderTest, ChecksumsMatchKnownAnswers) {
  Bytes tcp4 = BuildPacket(Syn("192.168.50.100", "192.168.50.1"));
  EXPECT_EQ(Field16(tcp4, kEthHeaderLen + 20 + 16), 0xdabd);

  PacketSpec udp = Syn("192.168.50.100", "192.168.50.1");
  udp.proto = kIpProtoUdp;
  udp.dport = 30053;
  Bytes udp4 = BuildPacket(udp);
  EXPECT_EQ(Field16(udp4, kEthHeaderLen + 20 + 6), 0x29a9);

  Bytes tcp6 = BuildPacket(Syn("fd00:50::100", "fd00:50::1"));
  EXPECT_EQ(Field16(tcp6, kEthHeaderLen + 40 + 16), 0xc4d1);
}

TEST(PacketParserTest, RoundTripsWhatTheBuilderBuilds) {
  for (const char* family : {"v4", "v6"}) {
    SCOPED_TRACE(family);
    PacketSpec spec =
        std::string(family) == "v4" ? Syn("192.168.50.100", "192.168.50.1") : Syn("fd00:50::100", "fd00:50::1");
    spec.tcp_flags = kTcpAck | kTcpPsh;
    spec.ack = 77;
    spec.ttl = 9;
    absl::StatusOr<ParsedPacket> p = ParsePacket(BuildPacket(spec));
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->eth_src, spec.eth_src);
    EXPECT_EQ(p->eth_dst, spec.eth_dst);
    EXPECT_EQ(p->src, spec.src);
    EXPECT_EQ(p->dst, spec.dst);
    EXPECT_EQ(p->proto, kIpProtoTcp);
    EXPECT_EQ(p->sport, 40000);
    EXPECT_EQ(p->dport, 30080);
    EXPECT_EQ(p->ttl, 9);
    EXPECT_EQ(p->tcp_flags, kTcpAck | kTcpPsh);
    EXPECT_EQ(p->seq, 1000u);
    EXPECT_EQ(p->ack, 77u);
    EXPECT_EQ(p->payload, spec.payload);
    EXPECT_EQ(p->trailing, 0u);
    EXPECT_TRUE(p->l4_checksum_ok);
    if (spec.src.is_v4()) {
      EXPECT_TRUE(p->ipv4_checksum_ok);
    }
  }
}

TEST(PacketParserTest, ZeroUdpChecksumIsValidOnlyOverIpv4) {
  PacketSpec spec = Syn("192.168.50.100", "192.168.50.1");
  spec.proto = kIpProtoUdp;
  spec.udp_checksum = false;
  absl::StatusOr<ParsedPacket> p = ParsePacket(BuildPacket(spec));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->l4_checksum, 0);
  EXPECT_TRUE(p->l4_checksum_ok);

  spec.src = Ip("fd00:50::100");
  spec.dst = Ip("fd00:50::1");
  Bytes v6 = BuildPacket(spec);  // the builder always sums IPv6
  v6[kEthHeaderLen + 40 + 6] = 0;
  v6[kEthHeaderLen + 40 + 7] = 0;
  p = ParsePacket(v6);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->l4_checksum_ok);
}

// Each corruption must be noticed by the check that covers the byte.
TEST(PacketParserTest, DetectsCorruptedBytes) {
  const Bytes good = BuildPacket(Syn("192.168.50.100", "192.168.50.1"));
  struct Corruption {
    std::string what;
    size_t offset;
    bool ip_ok;
    bool l4_ok;
  };
  const std::vector<Corruption> cases = {
      {"TTL (IP header only)", kEthHeaderLen + 8, false, true},
      {"destination address (IP header and pseudo-header)", kEthHeaderLen + 19, false, false},
      {"source port (TCP only)", kEthHeaderLen + 20 + 1, true, false},
      {"payload (TCP only)", good.size() - 1, true, false},
  };
  for (const Corruption& c : cases) {
    SCOPED_TRACE(c.what);
    Bytes bad = good;
    bad[c.offset] ^= 0x40;
    absl::StatusOr<ParsedPacket> p = ParsePacket(bad);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->ipv4_checksum_ok, c.ip_ok);
    EXPECT_EQ(p->l4_checksum_ok, c.l4_ok);
  }
}

TEST(PacketParserTest, RejectsWhatItCannotDecode) {
  const Bytes good = BuildPacket(Syn("192.168.50.100", "192.168.50.1"));
  EXPECT_FALSE(ParsePacket(Bytes(good.begin(), good.begin() + 30)).ok()) << "truncated IPv4 header";
  EXPECT_FALSE(ParsePacket(Bytes(good.begin(), good.end() - 1)).ok()) << "shorter than the IP total length";
  EXPECT_FALSE(ParsePacket(BuildArpRequest(Mac("02:00:00:00:50:64"), Ip("192.168.50.100"), Ip("192.168.50.1"))).ok());
}

TEST(PacketBuilderTest, ExtensionHeadersAndOptions) {
  PacketSpec v6 = Syn("fd00:50::100", "fd00:50::1");
  v6.ipv6_hop_by_hop = true;
  Bytes b6 = BuildPacket(v6);
  EXPECT_EQ(b6[kEthHeaderLen + 6], 0) << "next header: hop-by-hop";
  EXPECT_EQ(b6[kEthHeaderLen + 40], kIpProtoTcp) << "then TCP";

  PacketSpec v4 = Syn("192.168.50.100", "192.168.50.1");
  v4.ipv4_options = {1, 1, 1, 0};  // NOP NOP NOP EOL
  absl::StatusOr<ParsedPacket> p = ParsePacket(BuildPacket(v4));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->ip_header_len, 24u);
  EXPECT_TRUE(p->ipv4_checksum_ok);
  EXPECT_TRUE(p->l4_checksum_ok);
  EXPECT_EQ(p->sport, 40000);
}

}  // namespace
}  // namespace bpfproxy::packet
