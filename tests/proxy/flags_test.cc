#include "proxy/flags.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bpfproxy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// "setting -> reason" lines, for readable comparisons.
std::vector<std::string> Settings(const std::vector<IgnoredSetting>& ignored) {
  std::vector<std::string> out;
  for (const IgnoredSetting& i : ignored) out.push_back(i.setting);
  return out;
}

TEST(FlagsTest, DefaultsMatchKubeProxyAndOurMaps) {
  DaemonConfig c = ParseFlags({}).value();
  // kube-proxy's defaults (cmd/kube-proxy/app/options.go, v1alpha1 defaults.go).
  EXPECT_EQ(c.min_sync_period, absl::Seconds(1));
  EXPECT_EQ(c.sync_period, absl::Seconds(30));
  EXPECT_EQ(c.config_sync_period, absl::Minutes(15));
  EXPECT_EQ(c.healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(c.metrics_bind_address, "127.0.0.1:10249");
  EXPECT_EQ(c.bind_address, "0.0.0.0");
  EXPECT_FALSE(c.bind_address_hard_fail);
  EXPECT_EQ(c.oom_score_adj, -999);
  EXPECT_EQ(c.proxy_mode, "");
  EXPECT_THAT(c.nodeport_addresses, IsEmpty());
  EXPECT_TRUE(c.localhost_nodeports);
  EXPECT_THAT(c.cluster_cidrs, IsEmpty());
  EXPECT_EQ(c.detect_local_mode, "");
  EXPECT_THAT(c.feature_gates, IsEmpty());
  EXPECT_FALSE(c.cleanup);
  EXPECT_FALSE(c.init_only);
  EXPECT_EQ(c.verbosity, 0);
  EXPECT_EQ(c.kubeconfig, "");
  EXPECT_EQ(c.hostname_override, "");
  // Ours.
  EXPECT_EQ(c.datapath.bpf_root, "/sys/fs/bpf/bpfproxy");
  EXPECT_EQ(c.datapath.cgroup_root, "");
  EXPECT_EQ(c.datapath.capacity.services, LB_DEFAULT_SERVICE_ENTRIES);
  EXPECT_EQ(c.socket_lb, SocketLbMode::kAll);
  EXPECT_TRUE(c.per_packet_lb);
  EXPECT_THAT(c.ignored, IsEmpty());
  EXPECT_THAT(c.warnings, IsEmpty());
}

TEST(FlagsTest, AcceptsEveryForm) {
  DaemonConfig c =
      ParseFlags({"--kubeconfig=/etc/kube/config", "--hostname-override", "Node-1", "-v=4",
                  "--iptables-min-sync-period=0", "--iptables-sync-period", "1m30s", "--cleanup",
                  "--bpf-lb-backends-max=4096", "--master=https://10.0.0.1:6443", "--bind_address_hard_fail",
                  "--nodeport-addresses=10.0.0.0/8, 192.168.0.0/16", "--nodeport-addresses=fd00::/64",
                  "--feature-gates=A=true,B=false", "--feature-gates", "C=1", "-oom-score-adj=-500"})
          .value();
  EXPECT_EQ(c.kubeconfig, "/etc/kube/config");
  EXPECT_EQ(c.hostname_override, "node-1") << "lowercased, as kube-proxy does";
  EXPECT_EQ(c.verbosity, 4);
  EXPECT_EQ(c.min_sync_period, absl::ZeroDuration());
  EXPECT_EQ(c.sync_period, absl::Seconds(90));
  EXPECT_TRUE(c.cleanup);
  EXPECT_TRUE(c.bind_address_hard_fail) << "underscores are dashes";
  EXPECT_EQ(c.datapath.capacity.backends, 4096u);
  EXPECT_EQ(c.master, "https://10.0.0.1:6443");
  EXPECT_THAT(c.nodeport_addresses, ElementsAre("10.0.0.0/8", "192.168.0.0/16", "fd00::/64"))
      << "a repeated list flag appends, like pflag's StringSlice";
  EXPECT_EQ(c.feature_gates, (absl::btree_map<std::string, bool>{{"A", true}, {"B", false}, {"C", true}}));
  EXPECT_EQ(c.oom_score_adj, -500);
  EXPECT_FALSE(ParseFlags({"--cleanup=false"}).value().cleanup);
  EXPECT_THAT(c.ignored, IsEmpty());
}

TEST(FlagsTest, HealthAndMetricsAddresses) {
  struct Case {
    std::vector<std::string> args;
    std::string healthz, metrics;
  };
  for (const Case& c : std::vector<Case>{
           {{"--healthz-bind-address=127.0.0.1:1234"}, "127.0.0.1:1234", "127.0.0.1:10249"},
           {{"--metrics-bind-address=0.0.0.0"}, "0.0.0.0:10256", "0.0.0.0:10249"},
           {{"--metrics-bind-address=::"}, "0.0.0.0:10256", "[::]:10249"},
           {{"--healthz-bind-address="}, "", "127.0.0.1:10249"},
           // The deprecated ports: 0 disables; another port only fills a
           // missing one (kube-proxy's addressFromDeprecatedFlags).
           {{"--healthz-port=0"}, "", "127.0.0.1:10249"},
           {{"--metrics-port=9999"}, "0.0.0.0:10256", "127.0.0.1:10249"},
       }) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    DaemonConfig got = ParseFlags(c.args).value();
    EXPECT_EQ(got.healthz_bind_address, c.healthz);
    EXPECT_EQ(got.metrics_bind_address, c.metrics);
  }
  EXPECT_THAT(ParseFlags({"--healthz-port=0"}).value().warnings,
              ElementsAre("--healthz-port=0: deprecated (as in kube-proxy); use --healthz-bind-address instead"));
}

TEST(FlagsTest, SyncPeriodsFollowTheProxyMode) {
  struct Case {
    std::vector<std::string> args;
    absl::Duration sync, min;
    std::vector<std::string> ignored;
  };
  for (const Case& c : std::vector<Case>{
           {{"--iptables-sync-period=10s", "--ipvs-sync-period=20s"},
            absl::Seconds(10),
            absl::Seconds(1),
            {"--ipvs-sync-period=20s"}},
           {{"--proxy-mode=ipvs", "--iptables-sync-period=10s", "--ipvs-sync-period=20s", "--ipvs-min-sync-period=2s"},
            absl::Seconds(20),
            absl::Seconds(2),
            {"--proxy-mode=ipvs", "--iptables-sync-period=10s"}},
           {{"--ipvs-min-sync-period=5s", "--proxy-mode", "nftables", "--iptables-min-sync-period=3s"},
            absl::Seconds(30),
            absl::Seconds(3),
            {"--proxy-mode=nftables", "--ipvs-min-sync-period=5s"}},
       }) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    DaemonConfig got = ParseFlags(c.args).value();
    EXPECT_EQ(got.sync_period, c.sync);
    EXPECT_EQ(got.min_sync_period, c.min);
    EXPECT_EQ(Settings(got.ignored), c.ignored);
  }
}

TEST(FlagsTest, ErrorsNameTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--no-such-flag"}, "unknown flag --no-such-flag"},
           {{"--iptables-min-sync-period=soon"},
            "invalid value \"soon\" for flag --iptables-min-sync-period: not a duration (like \"30s\", \"1m30s\", "
            "\"500ms\"): \"soon\""},
           {{"--iptables-sync-period=inf"}, "invalid value \"inf\" for flag --iptables-sync-period: not a duration"},
           {{"--iptables-min-sync-period=-1s"}, "--iptables-min-sync-period must not be negative"},
           {{"--iptables-sync-period=0"}, "--iptables-sync-period must be greater than 0"},
           {{"--iptables-min-sync-period=1m"},
            "--iptables-min-sync-period (1m0s) must not exceed --iptables-sync-period (30s)"},
           {{"--proxy-mode=ipvs", "--ipvs-sync-period=0"}, "--ipvs-sync-period must be greater than 0"},
           {{"--bpf-lb-services-max=0"}, "invalid value \"0\" for flag --bpf-lb-services-max: must be within [1, "},
           {{"--bpf-root=relative"}, "invalid value \"relative\" for flag --bpf-root: must be an absolute path"},
           {{"--v=loud"}, "invalid value \"loud\" for flag --v: not an integer"},
           {{"--cleanup=maybe"}, "invalid value \"maybe\" for flag --cleanup: not a boolean"},
           {{"--cleanup=yes"}, "invalid value \"yes\" for flag --cleanup: not a boolean"},
           {{"--kubeconfig"}, "flag --kubeconfig needs a value"},
           {{"stray"}, "unexpected argument \"stray\""},
           {{"--cleanup", "true"}, "unexpected argument \"true\""},
           {{"--proxy-mode=userspace"},
            "invalid value \"userspace\" for flag --proxy-mode: \"userspace\" is not a "
            "kube-proxy mode"},
           {{"--oom-score-adj=-1001"},
            "invalid value \"-1001\" for flag --oom-score-adj: must be within [-1000, 1000]"},
           {{"--healthz-bind-address=localhost:10256"}, "for flag --healthz-bind-address: \"localhost\" in"},
           {{"--metrics-bind-address=1.2.3.4:0"},
            "for flag --metrics-bind-address: \"0\" in \"1.2.3.4:0\" is not a port"},
           {{"--metrics-bind-address=::1:10249"}, "IPv6 in brackets"},
           {{"--cluster-cidr=10.0.0.0/8,10.1.0.0/16"}, "two CIDRs must be one IPv4 and one IPv6"},
           {{"--cluster-cidr=10.0.0.0/33"}, "not a CIDR"},
           {{"--nodeport-addresses=primary,10.0.0.0/8"}, "\"primary\" cannot be combined with CIDRs"},
           {{"--nodeport-addresses=eth0"},
            "not a CIDR (like \"10.0.0.0/8\" or \"fd00::/64\"): \"eth0\" (or \"primary\")"},
           {{"--bind-address=node1"}, "invalid value \"node1\" for flag --bind-address: not an IP address"},
           {{"--detect-local-mode=Pods"}, "\"Pods\" is not a detect-local mode"},
           {{"--feature-gates=A"}, "\"A\" is not Name=true|false"},
           {{"--feature-gates=A=maybe"}, "feature gate A: not a boolean"},
           {{"--hostname-override=  "}, "empty hostname-override is invalid"},
           {{"--socket-lb=some"}, "must be all or host-only"},
           // Ignored flags are still validated like kube-proxy does.
           {{"--iptables-masquerade-bit=32"}, "for flag --iptables-masquerade-bit: must be within [0, 31]"},
           {{"--conntrack-tcp-timeout-established=1day"},
            "for flag --conntrack-tcp-timeout-established: not a duration"},
           {{"--masquerade-all=sometimes"}, "for flag --masquerade-all: not a boolean"},
           {{"--logging-format=xml"}, "unsupported log format \"xml\""},
           {{"--ipvs-exclude-cidrs=10.0.0.1"}, "for flag --ipvs-exclude-cidrs: not a CIDR"},
       }) {
    absl::StatusOr<DaemonConfig> got = ParseFlags(c.args);
    ASSERT_FALSE(got.ok()) << absl::StrJoin(c.args, " ");
    EXPECT_THAT(got.status().message(), HasSubstr(c.message)) << absl::StrJoin(c.args, " ");
  }
}

TEST(FlagsTest, IgnoredFlagsAreListedWithTheirReason) {
  DaemonConfig c = ParseFlags({"--proxy-mode=iptables", "--masquerade-all", "--conntrack-max-per-core=0",
                               "--cluster-cidr=10.244.0.0/16", "--iptables-localhost-nodeports=false",
                               "--ipvs-scheduler=rr", "--iptables-masquerade-bit=14", "--kube-api-qps=50",
                               "--profiling=false", "--config-sync-period=1m", "--logtostderr=false",
                               "--logtostderr=true", "--alsologtostderr", "--log-file=/var/log/kube-proxy.log",
                               "--logging-format=json", "--logging-format=text", "--vmodule=proxier=4", "--v=2"})
                       .value();
  EXPECT_THAT(Settings(c.ignored),
              ElementsAre("--proxy-mode=iptables", "--masquerade-all=true", "--conntrack-max-per-core=0",
                          "--cluster-cidr=10.244.0.0/16", "--ipvs-scheduler=rr", "--iptables-masquerade-bit=14",
                          "--kube-api-qps=50", "--profiling=false", "--config-sync-period=1m", "--logtostderr=false",
                          "--log-file=/var/log/kube-proxy.log", "--logging-format=json", "--vmodule=proxier=4"))
      << "every ignored flag given is listed, including values equal to the defaults; logging flags that "
         "bpfproxy honours (--logtostderr=true, --alsologtostderr, --logging-format=text, --v) are not";
  std::map<std::string, std::string> reason;
  for (const IgnoredSetting& i : c.ignored) reason[i.setting] = i.reason;
  EXPECT_THAT(reason["--proxy-mode=iptables"], HasSubstr("bpfproxy replaces kube-proxy's iptables mode"));
  EXPECT_THAT(reason["--masquerade-all=true"], HasSubstr("nothing to masquerade"));
  EXPECT_THAT(reason["--conntrack-max-per-core=0"], HasSubstr("nf_conntrack sysctls"));
  EXPECT_THAT(reason["--ipvs-scheduler=rr"], HasSubstr("IPVS"));
  EXPECT_THAT(reason["--cluster-cidr=10.244.0.0/16"], HasSubstr("needs no local-traffic detection"));
  EXPECT_THAT(c.cluster_cidrs, ElementsAre("10.244.0.0/16")) << "kept for --write-config-to";
  EXPECT_FALSE(c.localhost_nodeports) << "honoured: NodePorts on 127.0.0.1 are bpfproxy's to serve or not";
  EXPECT_THAT(reason["--log-file=/var/log/kube-proxy.log"], HasSubstr("stderr"));
  EXPECT_EQ(c.config_sync_period, absl::Minutes(1)) << "kept, though without effect";
  EXPECT_EQ(c.proxy_mode, "iptables");
  EXPECT_EQ(c.verbosity, 2);
  EXPECT_THAT(ParseFlags({"--proxy-mode="}).value().ignored,
              ElementsAre(IgnoredSetting{"--proxy-mode=",
                                         "bpfproxy replaces kube-proxy's default (iptables) mode: its "
                                         "eBPF datapath serves every Service"}));
}

// Command lines of kube-proxy DaemonSets in the wild run unchanged.
TEST(FlagsTest, KubeProxyDaemonSetCommandLinesParse) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           // kubeadm.
           {"--config=/var/lib/kube-proxy/config.conf", "--hostname-override=node-a"},
           // Older, flag-configured DaemonSets with klog's flags.
           {"--alsologtostderr=true",
            "--log-file=/var/log/kube-proxy.log",
            "--hostname-override=node-a",
            "--kubeconfig=/var/lib/kube-proxy/kubeconfig",
            "--proxy-mode=ipvs",
            "--ipvs-scheduler=lc",
            "--ipvs-strict-arp",
            "--cluster-cidr=10.244.0.0/16,fd00:10:244::/56",
            "--masquerade-all=false",
            "--conntrack-max-per-core=0",
            "--conntrack-min=0",
            "--oom-score-adj=-998",
            "--v=2",
            "--feature-gates=TopologyAwareHints=true",
            "--metrics-bind-address=0.0.0.0:10249",
            "--healthz-bind-address=0.0.0.0:10256",
            "--iptables-sync-period=1m",
            "--ipvs-sync-period=1m",
            "--log_file_max_size=100",
            "--logtostderr=false",
            "--kube-api-content-type=application/json",
            "--detect-local-mode=ClusterCIDR",
            "--nodeport-addresses=primary",
            "--bind-address-hard-fail",
            "--udp-timeout=250ms",
            "--proxy-port-range=30000-32767",
            "--profiling"},
       }) {
    absl::StatusOr<DaemonConfig> c = ParseFlags(args);
    EXPECT_TRUE(c.ok()) << absl::StrJoin(args, " ") << ": " << c.status();
  }
}

TEST(FlagsTest, UsageListsEveryFlagByGroupWithDefaults) {
  std::string usage = FlagsUsage();
  for (const std::string& name : FlagNames()) EXPECT_THAT(usage, HasSubstr(absl::StrCat("--", name))) << name;
  for (const char* text :
       {"kube-proxy flags:", "kube-proxy flags accepted and ignored", "Logging flags",
        "bpfproxy flags (not part of the --config file):", "--iptables-sync-period=DURATION", "(default 30s)",
        "(default 0.0.0.0:10256)", "(default 127.0.0.1:10249)", "(default -999)", "(default /sys/fs/bpf/bpfproxy)",
        "--masquerade-all ", "[ignored] bpfproxy logs to stderr only", "--kubeconfig=PATH", "--cgroup-root=DIR",
        "--bpf-lb-sockets-max=N"}) {
    EXPECT_THAT(usage, HasSubstr(text));
  }
  // Each group's flags are under its heading.
  EXPECT_LT(usage.find("kube-proxy flags:"), usage.find("--kubeconfig=PATH"));
  EXPECT_LT(usage.find("accepted and ignored"), usage.find("--masquerade-all"));
  EXPECT_LT(usage.find("--masquerade-all"), usage.find("Logging flags"));
  EXPECT_LT(usage.find("bpfproxy flags"), usage.find("--bpf-root=DIR"));
}

TEST(FlagsTest, FlagsOverAConfigFileFollowKubeProxysPrecedence) {
  DaemonConfig from_file;
  from_file.hostname_override = "from-file";
  from_file.sync_period = absl::Seconds(45);
  from_file.kubeconfig = "/var/lib/kube-proxy/kubeconfig.conf";
  ASSERT_TRUE(ApplyFlagsOverConfigFile({"--config=/c.conf", "--hostname-override=From-Flag", "--v=3",
                                        "--iptables-sync-period=10s", "--kubeconfig=/other", "--master=https://m",
                                        "--bpf-root=/sys/fs/bpf/x", "--socket-lb=host-only", "--masquerade-all"},
                                       from_file)
                  .ok());
  EXPECT_EQ(from_file.hostname_override, "from-flag");
  EXPECT_EQ(from_file.verbosity, 3);
  EXPECT_EQ(from_file.sync_period, absl::Seconds(45));
  EXPECT_EQ(from_file.kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf");
  EXPECT_EQ(from_file.master, "https://m");
  EXPECT_EQ(from_file.config_file, "/c.conf");
  EXPECT_EQ(from_file.datapath.bpf_root, "/sys/fs/bpf/x");
  EXPECT_EQ(from_file.socket_lb, SocketLbMode::kHostOnly);
  EXPECT_EQ(from_file.ignored,
            (std::vector<IgnoredSetting>{
                {"--iptables-sync-period=10s", "the --config file's setting wins (as with kube-proxy)"},
                {"--kubeconfig=/other", "the --config file's setting wins (as with kube-proxy)"},
                {"--masquerade-all=true",
                 "ClusterIP traffic is translated at the socket, with no NAT: there is nothing to masquerade"}}));
  DaemonConfig scratch;
  EXPECT_THAT(ApplyFlagsOverConfigFile({"--iptables-sync-period=soon"}, scratch).message(),
              HasSubstr("invalid value \"soon\" for flag --iptables-sync-period"))
      << "flags the file overrides are still validated";
}

}  // namespace
}  // namespace bpfproxy
