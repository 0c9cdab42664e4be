// Fixture of the tc packet tests: a TestNode namespace the test thread
// enters, the lb_tc programs loaded with empty maps and the node's devices
// registered in bpfp_dev_v1, and checks of the packets that come out.
#ifndef BPFPROXY_TESTS_KERNEL_PACKET_TC_FIXTURE_H_
#define BPFPROXY_TESTS_KERNEL_PACKET_TC_FIXTURE_H_

#include <linux/pkt_cls.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kernel/kernel_gate.h"
#include "tests/kernel/packet_builder.h"
#include "tests/kernel/packet_parser.h"
#include "tests/kernel/packet_tc_program.h"
#include "tests/kernel/packet_test_node.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::packet {

inline std::string VerdictName(int verdict) {
  switch (verdict) {
    case TC_ACT_OK:
      return "TC_ACT_OK";
    case TC_ACT_SHOT:
      return "TC_ACT_SHOT";
    case TC_ACT_REDIRECT:
      return "TC_ACT_REDIRECT";
  }
  return "verdict " + std::to_string(verdict);
}

inline IpAddress Ip(const char* text) { return IpAddress::Parse(text).value(); }
inline L4Address Tcp(const IpAddress& ip, uint16_t port) { return L4Address{ip, port, Protocol::kTcp}; }
inline L4Address Udp(const IpAddress& ip, uint16_t port) { return L4Address{ip, port, Protocol::kUdp}; }

// A packet from |from| to |to| over one link (|eth_src| -> |eth_dst|): a TCP
// SYN with seq 1000 or a UDP datagram, with a short payload.
inline PacketSpec Packet(const MacAddress& eth_src, const MacAddress& eth_dst, const IpAddress& src, uint16_t sport,
                         const L4Address& to) {
  PacketSpec p;
  p.eth_src = eth_src;
  p.eth_dst = eth_dst;
  p.src = src;
  p.sport = sport;
  p.dst = to.ip;
  p.dport = to.port;
  p.proto = static_cast<uint8_t>(to.proto);
  p.seq = 1000;
  p.payload = {'p', 'i', 'n', 'g'};
  return p;
}

// |p| as a router that translated it sends it on: new MACs and tuple, TTL - 1.
inline PacketSpec Forwarded(PacketSpec p, const MacAddress& eth_src, const MacAddress& eth_dst, const IpAddress& src,
                            uint16_t sport, const IpAddress& dst, uint16_t dport) {
  p.eth_src = eth_src;
  p.eth_dst = eth_dst;
  p.src = src;
  p.sport = sport;
  p.dst = dst;
  p.dport = dport;
  p.ttl -= 1;
  return p;
}

// An ICMP / ICMPv6 error answering the input: type, code, and how many bytes
// of the input's IP packet it quotes.
struct IcmpExpect {
  uint8_t type = 0;
  uint8_t code = 0;
  size_t quote_len = 0;
};

// What one program run must produce. Without |packet| and |icmp| the output
// is the input, byte for byte (not checked when the packet is dropped).
struct Outcome {
  int verdict = TC_ACT_OK;
  std::optional<PacketSpec> packet;  // the output, byte for byte (checksums included)
  std::optional<IcmpExpect> icmp;
};

class TcPacketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_KERNEL_TEST_PREREQUISITES();
    ASSERT_OK_AND_ASSIGN(node_, TestNode::Create());
    ASSERT_OK_AND_ASSIGN(auto entered, node_->Enter());
    in_node_.emplace(std::move(entered));
    ASSERT_OK_AND_ASSIGN(eth0_, TestNode::IfIndex(TestNode::eth0()));
    ASSERT_OK_AND_ASSIGN(eth1_, TestNode::IfIndex(TestNode::eth1()));
    ASSERT_OK_AND_ASSIGN(pod0_, TestNode::IfIndex(TestNode::pod0()));
    ASSERT_OK_AND_ASSIGN(prog_, TcProgram::Load());
    ASSERT_OK(prog_->SetDevice(eth0_, TestNode::eth0().ip4, TestNode::eth0().ip6));
    ASSERT_OK(prog_->SetDevice(eth1_, TestNode::eth1().ip4, TestNode::eth1().ip6));
    ASSERT_OK(prog_->SetDevice(pod0_, TestNode::pod0().ip4, TestNode::pod0().ip6));
  }

  // Members go in reverse order: programs, then back to the host namespace,
  // then the namespace is deleted.
  void TearDown() override {
    prog_.reset();
    in_node_.reset();
    node_.reset();
  }

  int IfIndexOf(const TestDevice& device) const {
    if (device.name == TestNode::eth0().name) return eth0_;
    if (device.name == TestNode::eth1().name) return eth1_;
    return pod0_;
  }

  // Runs |hook| of |device| on |input| and checks the outcome. Returns the
  // output, for steps that depend on it (a random SNAT port).
  Bytes Expect(Hook hook, const TestDevice& device, const PacketSpec& input, const Outcome& want) {
    return ExpectBytes(hook, device, BuildPacket(input), want);
  }

  Bytes ExpectBytes(Hook hook, const TestDevice& device, const Bytes& input, const Outcome& want) {
    absl::StatusOr<RunResult> run = prog_->Run(hook, IfIndexOf(device), input);
    EXPECT_TRUE(run.ok()) << run.status();
    if (!run.ok()) return {};
    EXPECT_EQ(VerdictName(run->verdict), VerdictName(want.verdict));
    if (want.packet.has_value()) {
      ExpectPacket(run->output, *want.packet);
    } else if (want.icmp.has_value()) {
      ExpectIcmp(run->output, input, *want.icmp);
    } else if (want.verdict != TC_ACT_SHOT) {
      EXPECT_TRUE(run->output == input) << "the packet was changed: " << Show(run->output);
    }
    return run->output;
  }

  // Runs |hook| of |device| on |input|, checks the verdict and the output's
  // checksums, and returns the decoded output: for outputs a test cannot
  // predict in full (a randomly chosen backend or SNAT port).
  ParsedPacket Translate(Hook hook, const TestDevice& device, const PacketSpec& input, int verdict = TC_ACT_REDIRECT) {
    absl::StatusOr<RunResult> run = prog_->Run(hook, IfIndexOf(device), BuildPacket(input));
    EXPECT_TRUE(run.ok()) << run.status();
    if (!run.ok()) return {};
    EXPECT_EQ(VerdictName(run->verdict), VerdictName(verdict));
    absl::StatusOr<ParsedPacket> got = ParsePacket(run->output);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) return {};
    if (input.src.is_v4()) {
      EXPECT_TRUE(got->ipv4_checksum_ok) << "IPv4 header checksum: " << Describe(*got);
    }
    EXPECT_TRUE(got->l4_checksum_ok) << "L4 checksum: " << Describe(*got);
    return *got;
  }

  static std::string Show(const Bytes& frame) {
    absl::StatusOr<ParsedPacket> p = ParsePacket(frame);
    return p.ok() ? Describe(*p) : "<" + std::string(p.status().message()) + ">";
  }

  // The checksums are verified from the output bytes; the byte comparison
  // then catches every other field.
  static void ExpectPacket(const Bytes& out, const PacketSpec& want_spec) {
    Bytes want = BuildPacket(want_spec);
    absl::StatusOr<ParsedPacket> got = ParsePacket(out);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(Describe(*got), Show(want));
    if (want_spec.src.is_v4()) {
      EXPECT_TRUE(got->ipv4_checksum_ok) << "IPv4 header checksum";
    }
    EXPECT_TRUE(got->l4_checksum_ok) << "L4 checksum " << std::hex << got->l4_checksum;
    if (want_spec.proto == kIpProtoUdp && want_spec.src.is_v4()) {
      EXPECT_EQ(got->l4_checksum == 0, !want_spec.udp_checksum) << "a zero UDP checksum must stay zero, and only it";
    }
    EXPECT_EQ(got->trailing, 0u);
    EXPECT_TRUE(out == want) << "bytes differ from the expected packet";
  }

  static void ExpectIcmp(const Bytes& out, const Bytes& input, const IcmpExpect& want) {
    absl::StatusOr<ParsedPacket> in = ParsePacket(input);
    absl::StatusOr<ParsedPacket> got = ParsePacket(out);
    ASSERT_TRUE(in.ok()) << in.status();
    ASSERT_TRUE(got.ok()) << got.status();
    SCOPED_TRACE("answer: " + Describe(*got));
    bool v4 = in->src.is_v4();
    EXPECT_EQ(got->proto, v4 ? kIpProtoIcmp : kIpProtoIcmpv6);
    EXPECT_EQ(got->icmp_type, want.type);
    EXPECT_EQ(got->icmp_code, want.code);
    EXPECT_EQ(got->src, in->dst) << "from the frontend";
    EXPECT_EQ(got->dst, in->src) << "to the client";
    EXPECT_EQ(got->eth_src, in->eth_dst);
    EXPECT_EQ(got->eth_dst, in->eth_src);
    EXPECT_EQ(got->ttl, 64);
    if (v4) {
      EXPECT_TRUE(got->ipv4_checksum_ok) << "IPv4 header checksum";
    }
    EXPECT_TRUE(got->l4_checksum_ok) << (v4 ? "ICMP" : "ICMPv6") << " checksum " << std::hex << got->l4_checksum;
    EXPECT_EQ(got->trailing, 0u);
    Bytes quote(input.begin() + kEthHeaderLen, input.begin() + kEthHeaderLen + want.quote_len);
    EXPECT_TRUE(got->icmp_quote == quote) << "quote of " << got->icmp_quote.size() << " bytes, want the first "
                                          << want.quote_len << " bytes of the IP packet";
  }

  // bpfp_ct_v1 as lines (see TcProgram::CtLines).
  std::vector<std::string> CtLines() {
    absl::StatusOr<std::vector<std::string>> lines = prog_->CtLines();
    EXPECT_TRUE(lines.ok()) << lines.status();
    return lines.ok() ? *lines : std::vector<std::string>{};
  }

  uint32_t ServiceId(const L4Address& frontend) {
    absl::StatusOr<lb_service_value> master = prog_->ServiceEntry(frontend);
    EXPECT_TRUE(master.ok()) << master.status();
    return master.ok() ? master->service_id : 0;
  }

  // The backend ID in |frontend|'s slot |slot|.
  uint32_t BackendId(const L4Address& frontend, uint16_t slot = 1) {
    absl::StatusOr<lb_service_value> entry = prog_->ServiceEntry(frontend, slot);
    EXPECT_TRUE(entry.ok()) << entry.status();
    return entry.ok() ? entry->backend_id : 0;
  }

  uint64_t Connections(const L4Address& frontend) {
    absl::StatusOr<uint64_t> n = prog_->Connections(ServiceId(frontend));
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : 0;
  }

  std::unique_ptr<TestNode> node_;
  std::optional<e2e::NetNs::Entered> in_node_;
  std::unique_ptr<TcProgram> prog_;
  int eth0_ = 0;
  int eth1_ = 0;
  int pod0_ = 0;
};

}  // namespace bpfproxy::packet

#endif  // BPFPROXY_TESTS_KERNEL_PACKET_TC_FIXTURE_H_
