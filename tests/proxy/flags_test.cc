#include "proxy/flags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bpfproxy {
namespace {

TEST(FlagsTest, DefaultsMatchKubeProxyAndOurMaps) {
  DaemonConfig c = ParseFlags({}).value();
  EXPECT_EQ(c.min_sync_period, absl::Seconds(1));
  EXPECT_EQ(c.sync_period, absl::Seconds(30));
  EXPECT_EQ(c.datapath.bpf_root, "/sys/fs/bpf/bpfproxy");
  EXPECT_EQ(c.datapath.cgroup_root, "");
  EXPECT_EQ(c.datapath.capacity.services, LB_DEFAULT_SERVICE_ENTRIES);
  EXPECT_FALSE(c.cleanup);
  EXPECT_EQ(c.kubeconfig, "");
}

TEST(FlagsTest, AcceptsEveryForm) {
  DaemonConfig c = ParseFlags({"--kubeconfig=/etc/kube/config", "--hostname-override", "node-1", "-v=4",
                               "--iptables-min-sync-period=0", "--iptables-sync-period", "1m30s", "--cleanup",
                               "--bpf-lb-backends-max=4096", "--master=https://10.0.0.1:6443"})
                       .value();
  EXPECT_EQ(c.kubeconfig, "/etc/kube/config");
  EXPECT_EQ(c.hostname_override, "node-1");
  EXPECT_EQ(c.verbosity, 4);
  EXPECT_EQ(c.min_sync_period, absl::ZeroDuration());
  EXPECT_EQ(c.sync_period, absl::Seconds(90));
  EXPECT_TRUE(c.cleanup);
  EXPECT_EQ(c.datapath.capacity.backends, 4096u);
  EXPECT_EQ(c.master, "https://10.0.0.1:6443");
  EXPECT_FALSE(ParseFlags({"--cleanup=false"}).value().cleanup);
}

TEST(FlagsTest, ErrorsNameTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--no-such-flag"}, "unknown flag --no-such-flag"},
           {{"--iptables-min-sync-period=soon"}, "invalid value \"soon\" for flag --iptables-min-sync-period"},
           {{"--iptables-min-sync-period=-1s"}, "invalid value \"-1s\" for flag --iptables-min-sync-period"},
           {{"--iptables-sync-period=0"}, "invalid value \"0\" for flag --iptables-sync-period"},
           {{"--bpf-lb-services-max=0"}, "invalid value \"0\" for flag --bpf-lb-services-max"},
           {{"--bpf-root=relative"}, "invalid value \"relative\" for flag --bpf-root"},
           {{"--v=loud"}, "invalid value \"loud\" for flag --v"},
           {{"--cleanup=maybe"}, "invalid value \"maybe\" for flag --cleanup"},
           {{"--kubeconfig"}, "flag --kubeconfig needs a value"},
           {{"stray"}, "unexpected argument \"stray\""},
       }) {
    absl::StatusOr<DaemonConfig> got = ParseFlags(c.args);
    ASSERT_FALSE(got.ok()) << c.args[0];
    EXPECT_EQ(got.status().message(), c.message);
  }
}

TEST(FlagsTest, UsageListsEveryFlag) {
  std::string usage = FlagsUsage();
  for (const char* name : {"--kubeconfig=PATH", "--master=URL", "--hostname-override=NAME", "--iptables-min-sync-period",
                           "--bpf-root=DIR", "--cgroup-root=DIR", "--cleanup", "--bpf-lb-sockets-max=N"}) {
    EXPECT_THAT(usage, ::testing::HasSubstr(name));
  }
}

}  // namespace
}  // namespace bpfproxy
