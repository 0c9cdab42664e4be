// Packet tests of the per-packet datapath (bpf/lb_tc.bpf.c) through
// BPF_PROG_TEST_RUN: an input frame, the expected verdict and the expected
// output frame, whose IPv4 header and L4 checksums are verified from its
// bytes. The programs run inside a test-owned namespace (TestNode) whose
// routes and static neighbours make every FIB lookup deterministic.
#include <linux/pkt_cls.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kernel/packet_tc_fixture.h"

namespace bpfproxy::packet {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::Eq;

constexpr uint16_t kClientPort = 40000;

const IpAddress kRemotePodA4 = Ip("10.244.1.5");
const IpAddress kRemotePodB4 = Ip("10.244.1.6");
const IpAddress kRemotePodC4 = Ip("10.244.1.7");
const IpAddress kRemotePodA6 = Ip("fd00:244:1::5");
const IpAddress kLbIp4 = Ip("203.0.113.10");
const IpAddress kLbIp6 = Ip("2001:db8:203::10");
const IpAddress kFarClient4 = Ip("198.51.100.7");
const IpAddress kFarClient6 = Ip("2001:db8:100::7");

std::string EndpointString(const IpAddress& ip, uint16_t port) {
  return ip.is_v4() ? absl::StrCat(ip.ToString(), ":", port) : absl::StrCat("[", ip.ToString(), "]:", port);
}
std::string EndpointString(const L4Address& a) { return EndpointString(a.ip, a.port); }

// ---------------------------------------------------------------------------
// A flow through the node: the client's first packet, the backend's answer,
// the client's second packet, and the conntrack entries they leave.

struct FlowCase {
  std::string name;
  L4Address frontend;
  uint16_t policy = 0;  // LB_POL_F_*
  L4Address backend;
  IpAddress client;
  MacAddress client_mac;   // the client, or the router it is behind
  TestDevice in;           // where the client's packets arrive
  TestDevice out;          // where the backend is
  MacAddress backend_mac;  // next hop to the backend
  IpAddress source;        // the source the backend sees
  bool udp_checksum = true;
};

std::vector<FlowCase> FlowCases() {
  const TestPeer& client = TestNode::client();
  const TestPeer& node2 = TestNode::node2();
  const TestPeer& pod = TestNode::local_pod();
  const TestDevice& eth0 = TestNode::eth0();
  const TestDevice& eth1 = TestNode::eth1();
  const TestDevice& pod0 = TestNode::pod0();
  const uint16_t local = LB_POL_F_PRESERVE_SOURCE | LB_POL_F_DROP_NO_BACKEND;
  return {
      {"Tcp4NodePortToRemotePodIsSnatted", Tcp(eth0.ip4, 30080), 0, Tcp(kRemotePodA4, 8080), client.ip4, client.mac,
       eth0, eth1, node2.mac, eth1.ip4},
      {"Udp4NodePortToRemotePodIsSnatted", Udp(eth0.ip4, 30053), 0, Udp(kRemotePodB4, 5353), client.ip4, client.mac,
       eth0, eth1, node2.mac, eth1.ip4},
      {"Udp4WithoutChecksumKeepsItZero", Udp(eth0.ip4, 30053), 0, Udp(kRemotePodB4, 5353), client.ip4, client.mac, eth0,
       eth1, node2.mac, eth1.ip4, /*udp_checksum=*/false},
      {"Tcp6NodePortToRemotePodIsSnatted", Tcp(eth0.ip6, 30080), 0, Tcp(kRemotePodA6, 8080), client.ip6, client.mac,
       eth0, eth1, node2.mac, eth1.ip6},
      {"Udp6NodePortToRemotePodIsSnatted", Udp(eth0.ip6, 30053), 0, Udp(kRemotePodA6, 5353), client.ip6, client.mac,
       eth0, eth1, node2.mac, eth1.ip6},
      {"Tcp4LocalPodIsSnattedToThePodDevice", Tcp(eth0.ip4, 30080), 0, Tcp(pod.ip4, 8080), client.ip4, client.mac, eth0,
       pod0, pod.mac, pod0.ip4},
      {"Tcp4PreservedSourceReachesLocalPod", Tcp(eth0.ip4, 30081), local, Tcp(pod.ip4, 8080), client.ip4, client.mac,
       eth0, pod0, pod.mac, client.ip4},
      {"Udp6PreservedSourceReachesLocalPod", Udp(eth0.ip6, 30081), local, Udp(pod.ip6, 8080), client.ip6, client.mac,
       eth0, pod0, pod.mac, client.ip6},
      {"Tcp4LbIpFromClientBehindGateway", Tcp(kLbIp4, 80), 0, Tcp(kRemotePodA4, 8080), kFarClient4,
       TestNode::gateway().mac, eth0, eth1, node2.mac, eth1.ip4},
      {"Tcp6LbIpPreservedSourceFromClientBehindGateway", Tcp(kLbIp6, 80), local, Tcp(pod.ip6, 8080), kFarClient6,
       TestNode::gateway().mac, eth0, pod0, pod.mac, kFarClient6},
  };
}

class FlowTest : public TcPacketTest, public ::testing::WithParamInterface<FlowCase> {};

TEST_P(FlowTest, TranslatesBothDirectionsAndTracksTheFlow) {
  const FlowCase& c = GetParam();
  ASSERT_OK(prog_->frontends().Upsert(c.frontend, {c.backend}));
  if (c.policy != 0) ASSERT_OK(prog_->SetPolicy(c.frontend, c.policy));
  const bool tcp = c.frontend.proto == Protocol::kTcp;

  PacketSpec first = Packet(c.client_mac, c.in.mac, c.client, kClientPort, c.frontend);
  first.udp_checksum = c.udp_checksum;
  {
    SCOPED_TRACE("client's first packet: DNAT" + std::string(c.source == c.client ? "" : " + SNAT"));
    Expect(Hook::kIngress, c.in, first,
           {TC_ACT_REDIRECT,
            Forwarded(first, c.out.mac, c.backend_mac, c.source, kClientPort, c.backend.ip, c.backend.port)});
  }

  PacketSpec answer = Packet(c.backend_mac, c.out.mac, c.backend.ip, c.backend.port,
                             L4Address{c.source, kClientPort, c.frontend.proto});
  answer.tcp_flags = kTcpSyn | kTcpAck;
  answer.seq = 5000;
  answer.ack = 1001;
  answer.udp_checksum = c.udp_checksum;
  {
    SCOPED_TRACE("backend's answer: reverse translation to the frontend");
    Expect(Hook::kIngress, c.out, answer,
           {TC_ACT_REDIRECT,
            Forwarded(answer, c.in.mac, c.client_mac, c.frontend.ip, c.frontend.port, c.client, kClientPort)});
  }

  PacketSpec second = first;
  second.tcp_flags = kTcpAck | kTcpPsh;
  second.seq = 1001;
  second.ack = 5001;
  second.payload = {'G', 'E', 'T', ' ', '/', '\n'};
  {
    SCOPED_TRACE("client's second packet: conntrack hit");
    Expect(Hook::kIngress, c.in, second,
           {TC_ACT_REDIRECT,
            Forwarded(second, c.out.mac, c.backend_mac, c.source, kClientPort, c.backend.ip, c.backend.port)});
  }

  const std::string proto = tcp ? "TCP" : "UDP";
  const std::string ids = absl::StrCat(" svc=", ServiceId(c.frontend));
  const std::string snat = c.source == c.client ? "" : " snat";
  const std::string client = EndpointString(c.client, kClientPort);
  const std::string source = EndpointString(c.source, kClientPort);
  EXPECT_THAT(CtLines(),
              ElementsAre(absl::StrCat("fwd ", proto, " ", client, " -> ", EndpointString(c.frontend), " => ", source,
                                       " -> ", EndpointString(c.backend), ids, " be=", BackendId(c.frontend), snat),
                          absl::StrCat("reply ", proto, " ", EndpointString(c.backend), " -> ", source, " => ",
                                       EndpointString(c.frontend), " -> ", client, ids, snat)));
}

INSTANTIATE_TEST_SUITE_P(Flows, FlowTest, ::testing::ValuesIn(FlowCases()),
                         [](const ::testing::TestParamInfo<FlowCase>& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// Conntrack across backend changes, SNAT ports, counters.

TEST_F(TcPacketTest, EstablishedTcpFlowKeepsItsBackendWhenTheBackendSetChanges) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestDevice& eth1 = TestNode::eth1();
  const TestPeer& client = TestNode::client();
  const L4Address frontend = Tcp(eth0.ip4, 30080);
  ASSERT_OK(prog_->frontends().Upsert(frontend, {Tcp(kRemotePodA4, 8080)}));

  PacketSpec syn = Packet(client.mac, eth0.mac, client.ip4, kClientPort, frontend);
  Expect(Hook::kIngress, eth0, syn,
         {TC_ACT_REDIRECT, Forwarded(syn, eth1.mac, TestNode::node2().mac, eth1.ip4, kClientPort, kRemotePodA4, 8080)});

  // A is gone; B and C serve new connections.
  ASSERT_OK(prog_->frontends().Upsert(frontend, {Tcp(kRemotePodB4, 8080), Tcp(kRemotePodC4, 8080)}));
  PacketSpec ack = syn;
  ack.tcp_flags = kTcpAck;
  ack.seq = 1001;
  Expect(Hook::kIngress, eth0, ack,
         {TC_ACT_REDIRECT, Forwarded(ack, eth1.mac, TestNode::node2().mac, eth1.ip4, kClientPort, kRemotePodA4, 8080)});

  for (uint16_t port : {kClientPort + 1, kClientPort + 0}) {
    SCOPED_TRACE(port == kClientPort ? "a SYN reusing the tuple of the flow whose backend left starts over"
                                     : "a new connection");
    ParsedPacket out = Translate(Hook::kIngress, eth0, Packet(client.mac, eth0.mac, client.ip4, port, frontend));
    EXPECT_THAT(out.dst, AnyOf(Eq(kRemotePodB4), Eq(kRemotePodC4))) << Describe(out);
    EXPECT_EQ(out.dport, 8080);
    EXPECT_EQ(out.sport, port) << "the client's port is free towards the new backend";
  }
}

TEST_F(TcPacketTest, UdpFlowMovesOffARemovedBackend) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestDevice& eth1 = TestNode::eth1();
  const TestPeer& client = TestNode::client();
  const MacAddress& node2 = TestNode::node2().mac;
  const L4Address frontend = Udp(eth0.ip4, 30053);
  const PacketSpec datagram = Packet(client.mac, eth0.mac, client.ip4, kClientPort, frontend);
  auto to = [&](const IpAddress& backend) {
    return Outcome{TC_ACT_REDIRECT, Forwarded(datagram, eth1.mac, node2, eth1.ip4, kClientPort, backend, 5353)};
  };

  ASSERT_OK(prog_->frontends().Upsert(frontend, {Udp(kRemotePodA4, 5353)}));
  Expect(Hook::kIngress, eth0, datagram, to(kRemotePodA4));
  {
    SCOPED_TRACE("A is still a member: the flow stays");
    ASSERT_OK(prog_->frontends().Upsert(frontend, {Udp(kRemotePodA4, 5353), Udp(kRemotePodB4, 5353)}));
    Expect(Hook::kIngress, eth0, datagram, to(kRemotePodA4));
  }
  {
    SCOPED_TRACE("A left: the next datagram goes to B");
    ASSERT_OK(prog_->frontends().Upsert(frontend, {Udp(kRemotePodB4, 5353)}));
    Expect(Hook::kIngress, eth0, datagram, to(kRemotePodB4));
  }
  PacketSpec answer = Packet(node2, eth1.mac, kRemotePodB4, 5353, Udp(eth1.ip4, kClientPort));
  Expect(Hook::kIngress, eth1, answer,
         {TC_ACT_REDIRECT, Forwarded(answer, eth0.mac, client.mac, eth0.ip4, 30053, client.ip4, kClientPort)});
  EXPECT_THAT(CtLines(), ::testing::Contains(
                             absl::StrCat("fwd UDP 192.168.50.100:40000 -> 192.168.50.1:30053 => 192.168.60.1:40000 -> "
                                          "10.244.1.6:5353 svc=",
                                          ServiceId(frontend), " be=", BackendId(frontend), " snat")));
}

TEST_F(TcPacketTest, SnatPicksAnotherPortWhenTheClientsPortIsTaken) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestDevice& eth1 = TestNode::eth1();
  const MacAddress& node2 = TestNode::node2().mac;
  const TestPeer& first = TestNode::client();
  const TestPeer& second = TestNode::client2();
  const L4Address frontend = Tcp(eth0.ip4, 30080);
  ASSERT_OK(prog_->frontends().Upsert(frontend, {Tcp(kRemotePodA4, 8080)}));

  PacketSpec syn1 = Packet(first.mac, eth0.mac, first.ip4, kClientPort, frontend);
  Expect(Hook::kIngress, eth0, syn1,
         {TC_ACT_REDIRECT, Forwarded(syn1, eth1.mac, node2, eth1.ip4, kClientPort, kRemotePodA4, 8080)});

  // Same port from another client: backend:8080 -> node:40000 is taken.
  ParsedPacket out = Translate(Hook::kIngress, eth0, Packet(second.mac, eth0.mac, second.ip4, kClientPort, frontend));
  EXPECT_EQ(out.src, eth1.ip4);
  EXPECT_EQ(out.dst, kRemotePodA4);
  EXPECT_NE(out.sport, kClientPort);
  EXPECT_GE(out.sport, 32768);
  EXPECT_LE(out.sport, 60999);
  const uint16_t snat_port = out.sport;

  for (const auto& [port, client] : {std::pair{snat_port, &second}, std::pair{kClientPort, &first}}) {
    SCOPED_TRACE(absl::StrCat("answer to node port ", port, " goes to ", client->ip4.ToString()));
    PacketSpec answer = Packet(node2, eth1.mac, kRemotePodA4, 8080, Tcp(eth1.ip4, port));
    answer.tcp_flags = kTcpSyn | kTcpAck;
    Expect(Hook::kIngress, eth1, answer,
           {TC_ACT_REDIRECT, Forwarded(answer, eth0.mac, client->mac, eth0.ip4, 30080, client->ip4, kClientPort)});
  }
}

// The forward entry is gone (evicted) but the reply entry still maps the
// backend's answers to this client: the flow takes its old tuple again
// instead of a fresh SNAT port, so the connection survives.
TEST_F(TcPacketTest, FlowWhoseForwardEntryWasEvictedKeepsItsSnatPort) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestDevice& eth1 = TestNode::eth1();
  const TestPeer& client = TestNode::client();
  const L4Address frontend = Tcp(eth0.ip4, 30080);
  ASSERT_OK(prog_->frontends().Upsert(frontend, {Tcp(kRemotePodA4, 8080)}));
  PacketSpec syn = Packet(client.mac, eth0.mac, client.ip4, kClientPort, frontend);
  Translate(Hook::kIngress, eth0, syn);

  ASSERT_OK_AND_ASSIGN(auto entries, prog_->CtEntries());
  for (const auto& [key, value] : entries) {
    if (key.dir == LB_CT_DIR_FORWARD) ASSERT_OK(prog_->EraseCt(key));
  }
  PacketSpec ack = syn;
  ack.tcp_flags = kTcpAck;
  ack.seq = 1001;
  Expect(Hook::kIngress, eth0, ack,
         {TC_ACT_REDIRECT, Forwarded(ack, eth1.mac, TestNode::node2().mac, eth1.ip4, kClientPort, kRemotePodA4, 8080)});
  EXPECT_EQ(CtLines().size(), 2u);
}

TEST_F(TcPacketTest, CountsOneConnectionPerNewFlow) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestDevice& eth1 = TestNode::eth1();
  const TestPeer& client = TestNode::client();
  const L4Address tcp = Tcp(eth0.ip4, 30080);
  const L4Address udp = Udp(eth0.ip4, 30053);
  ASSERT_OK(prog_->frontends().Upsert(tcp, {Tcp(kRemotePodA4, 8080)}));
  ASSERT_OK(prog_->frontends().Upsert(udp, {Udp(kRemotePodA4, 5353)}));
  EXPECT_EQ(Connections(tcp), 0u);

  PacketSpec syn = Packet(client.mac, eth0.mac, client.ip4, kClientPort, tcp);
  Translate(Hook::kIngress, eth0, syn);
  EXPECT_EQ(Connections(tcp), 1u);
  PacketSpec ack = syn;
  ack.tcp_flags = kTcpAck;
  Translate(Hook::kIngress, eth0, ack);
  PacketSpec answer = Packet(TestNode::node2().mac, eth1.mac, kRemotePodA4, 8080, Tcp(eth1.ip4, kClientPort));
  Translate(Hook::kIngress, eth1, answer);
  EXPECT_EQ(Connections(tcp), 1u) << "packets of a tracked flow do not count";
  Translate(Hook::kIngress, eth0, Packet(client.mac, eth0.mac, client.ip4, kClientPort + 1, tcp));
  EXPECT_EQ(Connections(tcp), 2u);
  EXPECT_EQ(Connections(udp), 0u) << "counters are per frontend";
  Translate(Hook::kIngress, eth0, Packet(client.mac, eth0.mac, client.ip4, kClientPort, udp));
  EXPECT_EQ(Connections(udp), 1u);
}

TEST_F(TcPacketTest, ConntrackEntriesRecordWhenTheyWereLastSeen) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestPeer& client = TestNode::client();
  const L4Address frontend = Tcp(eth0.ip4, 30080);
  ASSERT_OK(prog_->frontends().Upsert(frontend, {Tcp(kRemotePodA4, 8080)}));
  Translate(Hook::kIngress, eth0, Packet(client.mac, eth0.mac, client.ip4, kClientPort, frontend));
  ASSERT_OK_AND_ASSIGN(auto entries, prog_->CtEntries());
  ASSERT_EQ(entries.size(), 2u);
  for (const auto& [key, value] : entries) {
    EXPECT_GT(value.last_seen_ns, 0u) << "dir " << int{key.dir};
    EXPECT_EQ(value.pad0, 0);
    EXPECT_EQ(key.pad0, 0);
  }
}

TEST_F(TcPacketTest, NewFlowsSpreadOverAllBackends) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestPeer& client = TestNode::client();
  const L4Address frontend = Tcp(eth0.ip4, 30080);
  ASSERT_OK(
      prog_->frontends().Upsert(frontend, {Tcp(kRemotePodA4, 8080), Tcp(kRemotePodB4, 8080), Tcp(kRemotePodC4, 8080)}));
  // 60 flows over 3 backends: one left out has a probability of 3 * (2/3)^60, about 1e-10.
  std::set<std::string> seen;
  for (uint16_t i = 0; i < 60; ++i) {
    ParsedPacket out =
        Translate(Hook::kIngress, eth0, Packet(client.mac, eth0.mac, client.ip4, kClientPort + i, frontend));
    seen.insert(out.dst.ToString());
  }
  EXPECT_THAT(seen, ElementsAre("10.244.1.5", "10.244.1.6", "10.244.1.7"));
}

// ---------------------------------------------------------------------------
// Special routes: a backend that is a node address, an unresolved next hop,
// an expiring TTL, and replies leaving through egress.

TEST_F(TcPacketTest, BackendOnANodeAddressGetsDnatOnlyAndGoesUpTheStack) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestDevice& eth1 = TestNode::eth1();
  const TestPeer& client = TestNode::client();
  const L4Address frontend = Tcp(eth0.ip4, 30082);
  ASSERT_OK(prog_->frontends().Upsert(frontend, {Tcp(eth1.ip4, 9090)}));

  // A hostNetwork endpoint: SNAT to a local address would make a martian.
  PacketSpec syn = Packet(client.mac, eth0.mac, client.ip4, kClientPort, frontend);
  PacketSpec dnat = syn;
  dnat.dst = eth1.ip4;
  dnat.dport = 9090;
  Expect(Hook::kIngress, eth0, syn, {TC_ACT_OK, dnat});

  // Its answer leaves through eth0's egress and is translated there.
  PacketSpec answer = Packet(eth0.mac, client.mac, eth1.ip4, 9090, Tcp(client.ip4, kClientPort));
  answer.tcp_flags = kTcpSyn | kTcpAck;
  PacketSpec translated = answer;
  translated.src = eth0.ip4;
  translated.sport = 30082;
  Expect(Hook::kEgress, eth0, answer, {TC_ACT_OK, translated});
}

TEST_F(TcPacketTest, SnatUsesTheIngressDeviceWhenTheEgressDeviceIsUnmanaged) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestDevice& pod0 = TestNode::pod0();
  const TestPeer& client = TestNode::client();
  const TestPeer& pod = TestNode::local_pod();
  const L4Address frontend = Tcp(eth0.ip4, 30080);
  ASSERT_OK(prog_->frontends().Upsert(frontend, {Tcp(pod.ip4, 8080)}));
  ASSERT_OK(prog_->EraseDevice(pod0_));
  PacketSpec syn = Packet(client.mac, eth0.mac, client.ip4, kClientPort, frontend);
  Expect(Hook::kIngress, eth0, syn,
         {TC_ACT_REDIRECT, Forwarded(syn, pod0.mac, pod.mac, eth0.ip4, kClientPort, pod.ip4, 8080)});

  SCOPED_TRACE("neither device has an address of the family: dropped");
  ASSERT_OK(prog_->EraseDevice(eth0_));
  ExpectBytes(Hook::kIngress, eth0, BuildPacket(Packet(client.mac, eth0.mac, client.ip4, kClientPort + 1, frontend)),
              {TC_ACT_SHOT, std::nullopt, std::nullopt});
}

TEST_F(TcPacketTest, UnresolvedNextHopIsLeftToTheNeighbourSubsystem) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestDevice& eth1 = TestNode::eth1();
  const TestPeer& client = TestNode::client();
  const L4Address frontend = Tcp(eth0.ip4, 30080);
  const IpAddress unresolved = Ip("192.168.60.77");  // on eth1's subnet, no neighbour entry
  ASSERT_OK(prog_->frontends().Upsert(frontend, {Tcp(unresolved, 8080)}));
  PacketSpec syn = Packet(client.mac, eth0.mac, client.ip4, kClientPort, frontend);
  // bpf_redirect_neigh() fills the MACs when it transmits; here they are still the input's.
  PacketSpec translated = Forwarded(syn, client.mac, eth0.mac, eth1.ip4, kClientPort, unresolved, 8080);
  translated.eth_src = syn.eth_src;
  translated.eth_dst = syn.eth_dst;
  Expect(Hook::kIngress, eth0, syn, {TC_ACT_REDIRECT, translated});
}

TEST_F(TcPacketTest, ExpiringTtlIsDropped) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestPeer& client = TestNode::client();
  const L4Address frontend = Tcp(eth0.ip4, 30080);
  ASSERT_OK(prog_->frontends().Upsert(frontend, {Tcp(kRemotePodA4, 8080)}));
  PacketSpec syn = Packet(client.mac, eth0.mac, client.ip4, kClientPort, frontend);
  syn.ttl = 1;
  ExpectBytes(Hook::kIngress, eth0, BuildPacket(syn), {TC_ACT_SHOT, std::nullopt, std::nullopt});
}

TEST_F(TcPacketTest, EgressTranslatesAnswersOfLocalBackendsWithThePodDeviceUnmanaged) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestPeer& client = TestNode::client();
  const TestPeer& pod = TestNode::local_pod();
  for (const bool v4 : {true, false}) {
    SCOPED_TRACE(v4 ? "IPv4" : "IPv6");
    const L4Address frontend = Tcp(v4 ? eth0.ip4 : eth0.ip6, 30081);
    const IpAddress& client_ip = v4 ? client.ip4 : client.ip6;
    const IpAddress& pod_ip = v4 ? pod.ip4 : pod.ip6;
    ASSERT_OK(prog_->frontends().Upsert(frontend, {Tcp(pod_ip, 8080)}));
    ASSERT_OK(prog_->SetPolicy(frontend, LB_POL_F_PRESERVE_SOURCE | LB_POL_F_DROP_NO_BACKEND));
    Translate(Hook::kIngress, eth0, Packet(client.mac, eth0.mac, client_ip, kClientPort, frontend));

    // The stack routed the pod's answer to eth0 (TTL already decremented).
    PacketSpec answer = Packet(eth0.mac, client.mac, pod_ip, 8080, Tcp(client_ip, kClientPort));
    answer.tcp_flags = kTcpSyn | kTcpAck;
    answer.ttl = 63;
    PacketSpec translated = answer;
    translated.src = frontend.ip;
    translated.sport = frontend.port;
    Expect(Hook::kEgress, eth0, answer, {TC_ACT_OK, translated});
  }
}

// ---------------------------------------------------------------------------
// loadBalancerSourceRanges.

TEST_F(TcPacketTest, SourceRangesAdmitOnlyMatchingClients) {
  const TestDevice& eth0 = TestNode::eth0();
  const MacAddress& gateway = TestNode::gateway().mac;
  const L4Address lb4 = Tcp(kLbIp4, 80);
  const L4Address lb6 = Tcp(kLbIp6, 80);
  const L4Address other4 = Tcp(kLbIp4, 443);  // a frontend whose ranges do not contain the clients
  ASSERT_OK(prog_->frontends().Upsert(lb4, {Tcp(kRemotePodA4, 8080)}));
  ASSERT_OK(prog_->frontends().Upsert(lb6, {Tcp(kRemotePodA6, 8080)}));
  ASSERT_OK(prog_->frontends().Upsert(other4, {Tcp(kRemotePodA4, 8443)}));
  ASSERT_OK(prog_->SetPolicy(lb4, LB_POL_F_SOURCE_RANGES, {{Ip("192.168.50.0"), 25}, {Ip("198.51.100.7"), 32}}));
  ASSERT_OK(prog_->SetPolicy(lb6, LB_POL_F_SOURCE_RANGES, {{Ip("fd00:50::"), 64}}));
  ASSERT_OK(prog_->SetPolicy(other4, LB_POL_F_SOURCE_RANGES, {{Ip("10.0.0.0"), 8}}));

  struct Case {
    std::string description;
    const char* client;
    L4Address frontend;
    int verdict;
  };
  const std::vector<Case> cases = {
      {"IPv4 inside 192.168.50.0/25", "192.168.50.100", lb4, TC_ACT_REDIRECT},
      {"IPv4 just outside 192.168.50.0/25", "192.168.50.128", lb4, TC_ACT_SHOT},
      {"IPv4 matching a /32", "198.51.100.7", lb4, TC_ACT_REDIRECT},
      {"IPv4 next to the /32", "198.51.100.8", lb4, TC_ACT_SHOT},
      {"IPv4 allowed on another frontend only", "192.168.50.100", other4, TC_ACT_SHOT},
      {"IPv6 inside fd00:50::/64", "fd00:50::100", lb6, TC_ACT_REDIRECT},
      {"IPv6 outside fd00:50::/64", "2001:db8:100::7", lb6, TC_ACT_SHOT},
      {"IPv6 just outside fd00:50::/64", "fd00:50:0:1::100", lb6, TC_ACT_SHOT},
  };
  uint16_t port = kClientPort;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    PacketSpec syn = Packet(gateway, eth0.mac, Ip(c.client), port++, c.frontend);
    if (c.verdict == TC_ACT_SHOT) {
      ExpectBytes(Hook::kIngress, eth0, BuildPacket(syn), {TC_ACT_SHOT, std::nullopt, std::nullopt});
    } else {
      ParsedPacket out = Translate(Hook::kIngress, eth0, syn);
      EXPECT_EQ(out.dst, c.frontend.ip.is_v4() ? kRemotePodA4 : kRemotePodA6);
    }
  }
  EXPECT_EQ(CtLines().size(), 6u) << "only admitted flows are tracked";
}

// ---------------------------------------------------------------------------
// Frontends without backends.

struct RefuseCase {
  std::string description;
  PacketSpec input;
  Outcome want;
};

// The RST a TCP stack sends for |in| (RFC 9293 3.10.7.1).
PacketSpec RstFor(const PacketSpec& in, uint32_t seq, uint32_t ack, uint8_t flags) {
  PacketSpec r;
  r.eth_src = in.eth_dst;
  r.eth_dst = in.eth_src;
  r.src = in.dst;
  r.dst = in.src;
  r.sport = in.dport;
  r.dport = in.sport;
  r.proto = kIpProtoTcp;
  r.ttl = 64;
  r.ipv4_id = 0;
  r.ipv4_frag = 0x4000;  // DF
  r.tcp_flags = flags;
  r.seq = seq;
  r.ack = ack;
  r.tcp_window = 0;
  return r;
}

TEST_F(TcPacketTest, FrontendWithoutBackendsRefusesTheClient) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestPeer& client = TestNode::client();
  const L4Address tcp4 = Tcp(eth0.ip4, 30090);
  const L4Address tcp6 = Tcp(eth0.ip6, 30090);
  const L4Address udp4 = Udp(eth0.ip4, 30090);
  const L4Address udp6 = Udp(eth0.ip6, 30090);
  for (const L4Address& f : {tcp4, tcp6, udp4, udp6}) ASSERT_OK(prog_->frontends().Upsert(f, {}));

  auto in = [&](const IpAddress& src, const L4Address& to) {
    return Packet(client.mac, eth0.mac, src, kClientPort, to);
  };
  PacketSpec syn4 = in(client.ip4, tcp4);
  PacketSpec syn4_data = syn4;
  syn4_data.payload = Bytes(10, 'x');
  PacketSpec fin4 = syn4;
  fin4.tcp_flags = kTcpFin;
  PacketSpec ack4 = syn4;
  ack4.tcp_flags = kTcpAck | kTcpPsh;
  ack4.ack = 777;
  ack4.payload = Bytes(100, 'x');
  PacketSpec rst4 = syn4;
  rst4.tcp_flags = kTcpRst;
  PacketSpec syn6 = in(client.ip6, tcp6);
  PacketSpec dgram4 = in(client.ip4, udp4);
  PacketSpec dgram4_big = dgram4;
  dgram4_big.payload = Bytes(300, 'x');
  PacketSpec dgram4_options = dgram4;
  dgram4_options.ipv4_options = {1, 1, 1, 1, 1, 1, 1, 0};
  PacketSpec dgram4_short = dgram4;
  dgram4_short.payload = {};
  PacketSpec dgram6 = in(client.ip6, udp6);
  dgram6.payload = Bytes(200, 'x');

  const std::vector<RefuseCase> cases = {
      {"TCP SYN: RST|ACK acknowledging the SYN", syn4, {TC_ACT_REDIRECT, RstFor(syn4, 0, 1001 + 4, kTcpRst | kTcpAck)}},
      {"TCP SYN with data: the data is acknowledged too",
       syn4_data,
       {TC_ACT_REDIRECT, RstFor(syn4, 0, 1001 + 10, kTcpRst | kTcpAck)}},
      {"TCP FIN: the FIN counts", fin4, {TC_ACT_REDIRECT, RstFor(fin4, 0, 1001 + 4, kTcpRst | kTcpAck)}},
      {"TCP segment with ACK: RST with its ack number as seq, payload trimmed",
       ack4,
       {TC_ACT_REDIRECT, RstFor(ack4, 777, 0, kTcpRst)}},
      {"TCP RST is never answered", rst4, {TC_ACT_SHOT}},
      {"IPv6 TCP SYN: RST|ACK", syn6, {TC_ACT_REDIRECT, RstFor(syn6, 0, 1001 + 4, kTcpRst | kTcpAck)}},
      {"UDP: ICMP port unreachable quoting IP header + 8 bytes", dgram4, {TC_ACT_REDIRECT, {}, IcmpExpect{3, 3, 28}}},
      {"UDP, large datagram: the answer is trimmed", dgram4_big, {TC_ACT_REDIRECT, {}, IcmpExpect{3, 3, 28}}},
      {"UDP with IP options: they are quoted", dgram4_options, {TC_ACT_REDIRECT, {}, IcmpExpect{3, 3, 36}}},
      {"UDP without payload: the answer is longer than the datagram",
       dgram4_short,
       {TC_ACT_REDIRECT, {}, IcmpExpect{3, 3, 28}}},
      {"IPv6 UDP: ICMPv6 port unreachable", dgram6, {TC_ACT_REDIRECT, {}, IcmpExpect{1, 4, 48}}},
  };
  for (const RefuseCase& c : cases) {
    SCOPED_TRACE(c.description);
    Expect(Hook::kIngress, eth0, c.input, c.want);
  }
  EXPECT_THAT(CtLines(), ::testing::IsEmpty());
}

TEST_F(TcPacketTest, FrontendThatDropsWithoutBackendsDrops) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestPeer& client = TestNode::client();
  for (const L4Address& f : {Tcp(eth0.ip4, 30091), Udp(eth0.ip6, 30091)}) {
    SCOPED_TRACE(f.ToString());
    ASSERT_OK(prog_->frontends().Upsert(f, {}));
    ASSERT_OK(prog_->SetPolicy(f, LB_POL_F_PRESERVE_SOURCE | LB_POL_F_DROP_NO_BACKEND));
    PacketSpec p = Packet(client.mac, eth0.mac, f.ip.is_v4() ? client.ip4 : client.ip6, kClientPort, f);
    ExpectBytes(Hook::kIngress, eth0, BuildPacket(p), {TC_ACT_SHOT, std::nullopt, std::nullopt});
  }
}

// ---------------------------------------------------------------------------
// Everything that is not ours passes byte for byte.

TEST_F(TcPacketTest, TrafficThatIsNotOursPassesUntouched) {
  const TestDevice& eth0 = TestNode::eth0();
  const TestPeer& client = TestNode::client();
  const L4Address tcp4 = Tcp(eth0.ip4, 30080);
  const L4Address udp6 = Udp(eth0.ip6, 30053);
  ASSERT_OK(prog_->frontends().Upsert(tcp4, {Tcp(kRemotePodA4, 8080)}));
  ASSERT_OK(prog_->frontends().Upsert(udp6, {Udp(kRemotePodA6, 5353)}));

  auto to = [&](const IpAddress& src, const L4Address& dst) {
    return BuildPacket(Packet(client.mac, eth0.mac, src, kClientPort, dst));
  };
  PacketSpec first_fragment = Packet(client.mac, eth0.mac, client.ip4, kClientPort, tcp4);
  first_fragment.ipv4_frag = 0x2000;  // MF
  PacketSpec later_fragment = first_fragment;
  later_fragment.ipv4_frag = 0x0010;  // offset 128 bytes
  PacketSpec hop_by_hop = Packet(client.mac, eth0.mac, client.ip6, kClientPort, udp6);
  hop_by_hop.ipv6_hop_by_hop = true;
  PacketSpec other_host = Packet(client.mac, Mac("02:00:00:00:00:99"), client.ip4, kClientPort, tcp4);

  struct Case {
    std::string description;
    Hook hook;
    Bytes input;
  };
  const std::vector<Case> cases = {
      {"TCP to a node port that is no frontend", Hook::kIngress, to(client.ip4, Tcp(eth0.ip4, 22))},
      {"UDP to the frontend's port with TCP", Hook::kIngress, to(client.ip4, Udp(eth0.ip4, 30080))},
      {"IPv6 to another address", Hook::kIngress, to(client.ip6, Udp(Ip("fd00:50::2"), 30053))},
      {"ARP", Hook::kIngress, BuildArpRequest(client.mac, client.ip4, eth0.ip4)},
      {"IPv4 first fragment to a frontend", Hook::kIngress, BuildPacket(first_fragment)},
      {"IPv4 later fragment to a frontend", Hook::kIngress, BuildPacket(later_fragment)},
      {"IPv6 with an extension header to a frontend", Hook::kIngress, BuildPacket(hop_by_hop)},
      {"a frame for another host's MAC to a frontend", Hook::kIngress, BuildPacket(other_host)},
      {"truncated TCP header to a frontend", Hook::kIngress,
       [&] {
         Bytes b = to(client.ip4, tcp4);
         b.resize(kEthHeaderLen + 20 + 10);
         return b;
       }()},
      {"egress: the node's own connection", Hook::kEgress, to(eth0.ip4, Tcp(client.ip4, 22))},
      {"egress: a packet to a frontend (egress starts no flow)", Hook::kEgress, to(client.ip4, tcp4)},
      {"egress: ARP", Hook::kEgress, BuildArpRequest(eth0.mac, eth0.ip4, client.ip4)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    ExpectBytes(c.hook, eth0, c.input, {TC_ACT_OK, std::nullopt, std::nullopt});
  }
  EXPECT_THAT(CtLines(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace bpfproxy::packet
