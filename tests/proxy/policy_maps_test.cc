#include "proxy/policy_maps.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/ip_prefix.h"

namespace bpfproxy {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

L4Address Fe(const char* text) { return L4Address::Parse(text).value(); }
IpPrefix Pfx(const char* text) { return ParseIpPrefix(text).value(); }

FrontendPolicy Ranges(std::vector<IpPrefix> ranges, uint16_t extra_flags = 0) {
  return FrontendPolicy{static_cast<uint16_t>(LB_POL_F_SOURCE_RANGES | extra_flags), std::move(ranges)};
}

TEST(FrontendPolicyTest, ToStringNamesFlagsAndRanges) {
  struct Case {
    FrontendPolicy policy;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "flags=none"},
           {{LB_POL_F_PRESERVE_SOURCE, {}}, "flags=preserve-source"},
           {{LB_POL_F_PRESERVE_SOURCE | LB_POL_F_DROP_NO_BACKEND, {}}, "flags=preserve-source,drop-no-backend"},
           {Ranges({Pfx("10.0.0.0/8"), Pfx("2001:db8::/32")}), "flags=source-ranges ranges=10.0.0.0/8,2001:db8::/32"},
           {{0x8 | LB_POL_F_PRESERVE_SOURCE, {}}, "flags=preserve-source,0x8"},
       }) {
    EXPECT_EQ(c.policy.ToString(), c.want);
  }
}

TEST(FrontendPolicyTest, CanonicalMasksSortsAndDeduplicates) {
  FrontendPolicy p = Ranges({Pfx("192.168.1.7/24"), Pfx("10.9.9.9/8"), Pfx("192.168.1.0/24"), Pfx("fd00::1/64")});
  EXPECT_EQ(p.Canonical().ToString(), "flags=source-ranges ranges=10.0.0.0/8,192.168.1.0/24,fd00::/64");
}

TEST(ValidatePolicyTest, RefusesWhatTheDatapathCannotMean) {
  struct Case {
    const char* name;
    FrontendPolicy policy;
    bool ok;
  };
  IpPrefix too_long{IpAddress::Parse("10.0.0.0").value(), 33};
  for (const Case& c : std::vector<Case>{
           {"defaults", {}, true},
           {"every known flag", Ranges({Pfx("10.0.0.0/8")}, LB_POL_F_PRESERVE_SOURCE | LB_POL_F_DROP_NO_BACKEND), true},
           {"unknown flag", {0x10, {}}, false},
           {"ranges without flag", {0, {Pfx("10.0.0.0/8")}}, false},
           {"IPv4 /33", Ranges({too_long}), false},
       }) {
    absl::Status s = ValidatePolicy(Fe("1.2.3.4:80/TCP"), c.policy);
    EXPECT_EQ(s.ok(), c.ok) << c.name << ": " << s;
    if (!c.ok) {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.name;
      EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("1.2.3.4:80/TCP")) << c.name;
    }
  }
}

TEST(InMemoryPolicyMapsTest, UpsertRemovePruneAndLog) {
  InMemoryPolicyMaps maps;
  ASSERT_TRUE(maps.Upsert(Fe("1.2.3.4:80/TCP"), Ranges({Pfx("10.1.0.0/16"), Pfx("10.0.0.0/8")})).ok());
  ASSERT_TRUE(maps.Upsert(Fe("[fd00::1]:53/UDP"), {LB_POL_F_PRESERVE_SOURCE, {}}).ok());
  ASSERT_TRUE(maps.Upsert(Fe("5.6.7.8:443/TCP"), {LB_POL_F_DROP_NO_BACKEND, {}}).ok());
  // The default policy is the absence of an entry.
  ASSERT_TRUE(maps.Upsert(Fe("5.6.7.8:443/TCP"), {}).ok());
  ASSERT_TRUE(maps.Remove(Fe("9.9.9.9:1/TCP")).ok());  // Missing: fine.
  ASSERT_TRUE(maps.Prune({Fe("[fd00::1]:53/UDP")}).ok());
  ASSERT_TRUE(maps.Prune({Fe("[fd00::1]:53/UDP")}).ok());

  EXPECT_THAT(maps.log(), ElementsAre("upsert 1.2.3.4:80/TCP flags=source-ranges ranges=10.0.0.0/8,10.1.0.0/16",
                                      "upsert [fd00::1]:53/UDP flags=preserve-source",
                                      "upsert 5.6.7.8:443/TCP flags=drop-no-backend", "remove 5.6.7.8:443/TCP",
                                      "remove 9.9.9.9:1/TCP", "prune kept=1 removed=1.2.3.4:80/TCP",
                                      "prune kept=1 removed=none"));
  DesiredPolicies want = {{Fe("[fd00::1]:53/UDP"), {LB_POL_F_PRESERVE_SOURCE, {}}}};
  EXPECT_EQ(maps.Applied(), want);
}

TEST(InMemoryPolicyMapsTest, AppliedHoldsTheCanonicalForm) {
  InMemoryPolicyMaps maps;
  FrontendPolicy given = Ranges({Pfx("10.1.2.3/8"), Pfx("10.0.0.0/8")});
  ASSERT_TRUE(maps.Upsert(Fe("1.2.3.4:80/TCP"), given).ok());
  EXPECT_EQ(maps.Applied().at(Fe("1.2.3.4:80/TCP")), given.Canonical());
  EXPECT_THAT(maps.Applied().at(Fe("1.2.3.4:80/TCP")).source_ranges, ElementsAre(Pfx("10.0.0.0/8")));
}

TEST(InMemoryPolicyMapsTest, InjectedAndInvalidUpsertsChangeNothing) {
  InMemoryPolicyMaps maps;
  ASSERT_TRUE(maps.Upsert(Fe("1.2.3.4:80/TCP"), {LB_POL_F_PRESERVE_SOURCE, {}}).ok());
  maps.ClearLog();
  maps.fail_frontend = Fe("1.2.3.4:80/TCP");
  absl::Status s = maps.Upsert(Fe("1.2.3.4:80/TCP"), Ranges({Pfx("10.0.0.0/8")}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("bpfp_xpol_v1"));
  EXPECT_EQ(maps.Upsert(Fe("5.6.7.8:80/TCP"), {0, {Pfx("10.0.0.0/8")}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(maps.log(), IsEmpty());
  EXPECT_EQ(maps.Applied(), (DesiredPolicies{{Fe("1.2.3.4:80/TCP"), {LB_POL_F_PRESERVE_SOURCE, {}}}}));

  maps.fail_frontend.reset();
  EXPECT_TRUE(maps.Upsert(Fe("1.2.3.4:80/TCP"), Ranges({Pfx("10.0.0.0/8")})).ok());
}

TEST(IpPrefixTest, ParsesPrintsMasksAndContains) {
  EXPECT_EQ(IpPrefixString(Pfx(" 10.0.0.0/8 ")), "10.0.0.0/8");
  EXPECT_EQ(IpPrefixString(MaskedPrefix(Pfx("10.255.1.1/12"))), "10.240.0.0/12");
  EXPECT_EQ(IpPrefixString(MaskedPrefix(Pfx("fd00:1:2:3::9/49"))), "fd00:1:2::/49");
  EXPECT_EQ(IpPrefixString(MaskedPrefix(Pfx("1.2.3.4/0"))), "0.0.0.0/0");
  EXPECT_EQ(MappedPrefixLength(Pfx("10.0.0.0/8")), 104);
  EXPECT_EQ(MappedPrefixLength(Pfx("fd00::/8")), 8);

  struct Case {
    const char* prefix;
    const char* ip;
    bool in;
  };
  for (const Case& c : std::vector<Case>{{"10.0.0.0/8", "10.255.0.1", true},
                                         {"10.0.0.0/8", "11.0.0.1", false},
                                         {"0.0.0.0/0", "192.0.2.1", true},
                                         {"::/0", "192.0.2.1", false},
                                         {"0.0.0.0/0", "fd00::1", false},
                                         {"fd00::/64", "fd00::ffff", true},
                                         {"fd00::/64", "fd00:0:0:1::1", false},
                                         {"192.0.2.1/32", "192.0.2.1", true},
                                         {"192.0.2.1/32", "192.0.2.2", false}}) {
    EXPECT_EQ(PrefixContains(Pfx(c.prefix), IpAddress::Parse(c.ip).value()), c.in) << c.prefix << " " << c.ip;
  }
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "fd00::/129", "10.0.0/8", "10.0.0.0/x", "/8", "10.0.0.0/-1",
                          "10.0.0.0/99999999999"}) {
    absl::StatusOr<IpPrefix> p = ParseIpPrefix(bad);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace bpfproxy
