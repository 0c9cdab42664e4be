#include "proxy/ip_address.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bpfproxy {
namespace {

TEST(IpAddressTest, ParsesAndPrintsBothFamilies) {
  struct Case {
    std::string in, out;
    bool v4;
  };
  for (const Case& c : std::vector<Case>{{"10.96.0.1", "10.96.0.1", true},
                                         {"0.0.0.0", "0.0.0.0", true},
                                         {"fd00:96::10", "fd00:96::10", false},
                                         {"FD00:0096:0:0::0010", "fd00:96::10", false},
                                         {"::ffff:10.1.2.3", "10.1.2.3", true},
                                         {"::1", "::1", false}}) {
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(c.in);
    ASSERT_TRUE(ip.ok()) << c.in;
    EXPECT_EQ(ip->ToString(), c.out) << c.in;
    EXPECT_EQ(ip->is_v4(), c.v4) << c.in;
  }
}

TEST(IpAddressTest, StoresIpv4V4MappedInNetworkOrder) {
  IpAddress ip = IpAddress::Parse("10.96.0.1").value();
  std::array<uint8_t, 16> want = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 96, 0, 1};
  EXPECT_EQ(ip.bytes(), want);
}

TEST(IpAddressTest, RejectsWhatIsNoAddress) {
  for (const char* in : {"", "10.96.0", "10.96.0.256", "fd00:::1", "example.com", "10.0.0.1/24", " 10.0.0.1"}) {
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(in);
    EXPECT_EQ(ip.status().code(), absl::StatusCode::kInvalidArgument) << in;
  }
}

TEST(L4AddressTest, RoundTripsItsTextForm) {
  for (const char* text : {"10.96.0.1:80/TCP", "[fd00::1]:53/UDP", "10.0.0.1:65535/SCTP"}) {
    absl::StatusOr<L4Address> a = L4Address::Parse(text);
    ASSERT_TRUE(a.ok()) << text << ": " << a.status();
    EXPECT_EQ(a->ToString(), text);
  }
  L4Address a = L4Address::Parse("[fd00::1]:53/UDP").value();
  EXPECT_EQ(a.port, 53);
  EXPECT_EQ(a.proto, Protocol::kUdp);
}

TEST(L4AddressTest, RejectsMalformedText) {
  for (const char* text : {"10.96.0.1:80", "10.96.0.1/TCP", "fd00::1:53/UDP", "10.96.0.1:0/TCP",
                           "10.96.0.1:65536/TCP", "10.96.0.1:80/ICMP", "10.96.0.1:x/TCP", "[10.96.0.1:80/TCP"}) {
    EXPECT_FALSE(L4Address::Parse(text).ok()) << text;
  }
}

TEST(L4AddressTest, OrdersByAddressThenPortThenProtocol) {
  L4Address a = L4Address::Parse("10.0.0.1:80/TCP").value();
  L4Address b = L4Address::Parse("10.0.0.1:80/UDP").value();
  L4Address c = L4Address::Parse("10.0.0.1:81/TCP").value();
  L4Address d = L4Address::Parse("10.0.0.2:1/TCP").value();
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(c, d);
}

TEST(ProtocolTest, NamesAndNumbers) {
  EXPECT_EQ(ParseProtocol("SCTP").value(), Protocol::kSctp);
  EXPECT_FALSE(ParseProtocol("tcp").ok()) << "Kubernetes spells protocols in capitals";
  EXPECT_EQ(ProtocolFromNumber(17).value(), Protocol::kUdp);
  EXPECT_FALSE(ProtocolFromNumber(1).ok());
  EXPECT_EQ(ProtocolName(Protocol::kTcp), "TCP");
}

}  // namespace
}  // namespace bpfproxy
