#include "proxy/kube_proxy_config.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/oom_score_adj.h"
#include "tests/util/status_macros.h"
#include "yaml-cpp/yaml.h"

namespace bpfproxy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string TestData(const std::string& name) {
  return ReadFile(absl::StrCat(BPFPROXY_SOURCE_DIR, "/tests/proxy/testdata/", name));
}

// config.conf of kubeadm's kube-proxy ConfigMap.
std::string KubeadmConfigConf() {
  return YAML::Load(TestData("kubeadm-kube-proxy-configmap.yaml"))["data"]["config.conf"].as<std::string>();
}

std::vector<std::string> Settings(const std::vector<IgnoredSetting>& ignored) {
  std::vector<std::string> out;
  for (const IgnoredSetting& i : ignored) out.push_back(i.setting);
  return out;
}

constexpr char kHeader[] = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n";

// A scratch directory removed when the test ends.
class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/kube_proxy_config_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << text;
    return path;
  }

  std::string dir_;
};

TEST(KubeProxyConfigTest, KubeadmConfigMapLoadsAsKubeProxysDefaults) {
  ASSERT_OK_AND_ASSIGN(DaemonConfig c, DecodeKubeProxyConfiguration(KubeadmConfigConf()));
  EXPECT_EQ(c.kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf");
  EXPECT_THAT(c.cluster_cidrs, ElementsAre("10.244.0.0/16"));
  EXPECT_EQ(c.healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(c.metrics_bind_address, "127.0.0.1:10249");
  EXPECT_EQ(c.bind_address, "0.0.0.0");
  EXPECT_EQ(c.sync_period, absl::Seconds(30));
  EXPECT_EQ(c.min_sync_period, absl::Seconds(1));
  EXPECT_EQ(c.config_sync_period, absl::Minutes(15));
  EXPECT_EQ(c.oom_score_adj, -999);
  EXPECT_EQ(c.proxy_mode, "");
  EXPECT_EQ(c.hostname_override, "");
  EXPECT_THAT(c.nodeport_addresses, IsEmpty());
  EXPECT_EQ(c.verbosity, 0);
  EXPECT_TRUE(c.localhost_nodeports);
  EXPECT_THAT(Settings(c.ignored), ElementsAre("clusterCIDR: 10.244.0.0/16"))
      << "kubeadm sets only the pods' CIDR, which bpfproxy has no use for";
  EXPECT_THAT(c.warnings, IsEmpty());
}

TEST(KubeProxyConfigTest, AnOlderKubeadmFileLoadsLenientlyLikeKubeProxy) {
  ASSERT_OK_AND_ASSIGN(DaemonConfig c, DecodeKubeProxyConfiguration(TestData("kubeadm-1.22-config.conf")));
  EXPECT_THAT(c.warnings,
              ElementsAre("strict decoding error: unknown field \"conntrack.max\"; decoded leniently and ignored, as "
                          "kube-proxy does",
                          "strict decoding error: unknown field \"udpIdleTimeout\"; decoded leniently and ignored, as "
                          "kube-proxy does"));
  EXPECT_EQ(c.proxy_mode, "ipvs");
  EXPECT_EQ(c.min_sync_period, absl::ZeroDuration()) << "ipvs.minSyncPeriod has no default";
  EXPECT_EQ(c.metrics_bind_address, "0.0.0.0:10249");
  EXPECT_THAT(Settings(c.ignored), ElementsAre("mode: ipvs", "clusterCIDR: 192.168.0.0/16", "ipvs.strictARP: true"));
}

TEST(KubeProxyConfigTest, EveryMeaningfulField) {
  ASSERT_OK_AND_ASSIGN(DaemonConfig c, DecodeKubeProxyConfiguration(absl::StrCat(kHeader, R"(
clientConnection: {kubeconfig: /etc/kp/kubeconfig}
hostnameOverride: " Node-7 "
bindAddress: 10.0.0.7
healthzBindAddress: 10.0.0.7
metricsBindAddress: 0.0.0.0:9100
bindAddressHardFail: true
clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
detectLocalMode: InterfaceNamePrefix
detectLocal: {bridgeInterface: cbr0, interfaceNamePrefix: veth}
nodePortAddresses: [10.0.0.0/8, "fd00::/64"]
oomScoreAdj: -500
configSyncPeriod: 5m
featureGates: {TopologyAwareHints: true, Foo: false}
logging: {verbosity: 4, flushFrequency: 5s}
iptables: {syncPeriod: 1m, minSyncPeriod: 2s, localhostNodePorts: false}
)")));
  EXPECT_EQ(c.kubeconfig, "/etc/kp/kubeconfig");
  EXPECT_FALSE(c.localhost_nodeports);
  EXPECT_EQ(c.hostname_override, "node-7");
  EXPECT_EQ(c.bind_address, "10.0.0.7");
  EXPECT_EQ(c.healthz_bind_address, "10.0.0.7:10256") << "a bare IP gets the port";
  EXPECT_EQ(c.metrics_bind_address, "0.0.0.0:9100");
  EXPECT_TRUE(c.bind_address_hard_fail);
  EXPECT_THAT(c.cluster_cidrs, ElementsAre("10.244.0.0/16", "fd00:10:244::/56"));
  EXPECT_EQ(c.detect_local_mode, "InterfaceNamePrefix");
  EXPECT_EQ(c.pod_bridge_interface, "cbr0");
  EXPECT_EQ(c.pod_interface_name_prefix, "veth");
  EXPECT_THAT(c.nodeport_addresses, ElementsAre("10.0.0.0/8", "fd00::/64"));
  EXPECT_EQ(c.oom_score_adj, -500);
  EXPECT_EQ(c.config_sync_period, absl::Minutes(5));
  EXPECT_EQ(c.feature_gates, (absl::btree_map<std::string, bool>{{"Foo", false}, {"TopologyAwareHints", true}}));
  EXPECT_EQ(c.verbosity, 4);
  EXPECT_EQ(c.sync_period, absl::Minutes(1));
  EXPECT_EQ(c.min_sync_period, absl::Seconds(2));
  EXPECT_THAT(Settings(c.ignored),
              ElementsAre("configSyncPeriod: 5m", "clusterCIDR: 10.244.0.0/16,fd00:10:244::/56",
                          "detectLocalMode: InterfaceNamePrefix", "detectLocal.bridgeInterface: cbr0",
                          "detectLocal.interfaceNamePrefix: veth"));
  EXPECT_THAT(c.warnings, IsEmpty());
}

TEST(KubeProxyConfigTest, IPv6BindAddressGivesIPv6ServerDefaults) {
  ASSERT_OK_AND_ASSIGN(DaemonConfig c, DecodeKubeProxyConfiguration(absl::StrCat(kHeader, "bindAddress: '::'\n")));
  EXPECT_EQ(c.healthz_bind_address, "[::]:10256");
  EXPECT_EQ(c.metrics_bind_address, "[::1]:10249");
}

TEST(KubeProxyConfigTest, SyncPeriodsComeFromTheModesSection) {
  struct Case {
    std::string mode;
    absl::Duration sync, min;
  };
  const std::string sections = R"(
iptables: {syncPeriod: 11s, minSyncPeriod: 1100ms}
ipvs: {syncPeriod: 22s, minSyncPeriod: 2200ms}
nftables: {syncPeriod: 33s, minSyncPeriod: 3300ms}
)";
  for (const Case& c : std::vector<Case>{{"", absl::Seconds(11), absl::Milliseconds(1100)},
                                         {"iptables", absl::Seconds(11), absl::Milliseconds(1100)},
                                         {"ipvs", absl::Seconds(22), absl::Milliseconds(2200)},
                                         {"nftables", absl::Seconds(33), absl::Milliseconds(3300)}}) {
    SCOPED_TRACE(c.mode);
    ASSERT_OK_AND_ASSIGN(DaemonConfig got,
                         DecodeKubeProxyConfiguration(absl::StrCat(kHeader, "mode: '", c.mode, "'", sections)));
    EXPECT_EQ(got.sync_period, c.sync);
    EXPECT_EQ(got.min_sync_period, c.min);
    // The other modes' periods differ from the defaults: listed as unused.
    EXPECT_EQ(got.ignored.size(), c.mode.empty() ? 4u : 5u) << absl::StrJoin(Settings(got.ignored), "; ");
  }
}

TEST(KubeProxyConfigTest, SettingsWithoutEffectAreListedWhenNotDefault) {
  ASSERT_OK_AND_ASSIGN(DaemonConfig c, DecodeKubeProxyConfiguration(absl::StrCat(kHeader, R"(
mode: nftables
clientConnection: {qps: 50, burst: 10, contentType: application/json}
iptables: {masqueradeAll: true, masqueradeBit: 14, localhostNodePorts: false}
nftables: {masqueradeBit: 15}
conntrack: {maxPerCore: 0, min: 131072, tcpEstablishedTimeout: 24h, tcpCloseWaitTimeout: 2h, tcpBeLiberal: true}
ipvs: {scheduler: rr, strictARP: false, excludeCIDRs: [10.0.0.0/8]}
logging: {format: json, vmodule: [{filePattern: proxier, verbosity: 5}], options: {text: {splitStream: true}}}
enableProfiling: true
winkernel: {enableDSR: true}
portRange: 30000-32767
)")));
  EXPECT_THAT(
      Settings(c.ignored),
      ElementsAre("clientConnection.qps: 50", "clientConnection.contentType: application/json", "logging.format: json",
                  "logging.vmodule: [{filePattern: proxier, verbosity: 5}]", "logging.options.text.splitStream: true",
                  "mode: nftables", "nftables.masqueradeBit: 15", "iptables.masqueradeAll: true", "ipvs.scheduler: rr",
                  "ipvs.excludeCIDRs: [10.0.0.0/8]", "conntrack.maxPerCore: 0", "conntrack.tcpCloseWaitTimeout: 2h",
                  "conntrack.tcpBeLiberal: true", "enableProfiling: true", "portRange: 30000-32767",
                  "winkernel.enableDSR: true"));
  for (const IgnoredSetting& i : c.ignored) EXPECT_FALSE(i.reason.empty()) << i.setting;
  EXPECT_FALSE(c.localhost_nodeports) << "iptables.localhostNodePorts is honoured, not ignored";
  EXPECT_EQ(c.ignored[5].reason,
            "bpfproxy replaces kube-proxy's nftables mode: its eBPF datapath serves every Service");
}

TEST(KubeProxyConfigTest, ErrorsNameTheField) {
  struct Case {
    std::string yaml;  // After the header unless it has its own.
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"iptables: {syncPeriod: 30}", "iptables.syncPeriod: expected a duration string such as \"30s\", got 30"},
           {"iptables: {syncPeriod: soon}", "iptables.syncPeriod: not a duration"},
           {"iptables: {syncPeriod: -5s}", "iptables.syncPeriod: must be greater than 0"},
           {"iptables: {minSyncPeriod: 1m}", "iptables.minSyncPeriod: 1m0s must not exceed iptables.syncPeriod (30s)"},
           {"mode: ipvs\nipvs: {minSyncPeriod: -1s}", "ipvs.minSyncPeriod: must not be negative"},
           {"configSyncPeriod: -1m", "configSyncPeriod: must be greater than 0"},
           {"oomScoreAdj: 1001", "oomScoreAdj: must be within [-1000, 1000]"},
           {"oomScoreAdj: '-999'", "oomScoreAdj: expected a 32-bit integer, got \"-999\""},
           {"oomScoreAdj: 4294967296", "oomScoreAdj: expected a 32-bit integer"},
           {"bindAddressHardFail: 'true'", "bindAddressHardFail: expected true or false, got \"true\""},
           {"hostnameOverride: 1234", "hostnameOverride: expected a string (quote it), got 1234"},
           {"mode: kernelspace", "mode: \"kernelspace\" is not a kube-proxy mode"},
           {"mode: [ipvs]", "mode: expected a single value, got a list"},
           {"iptables: 5", "iptables: expected a map, got 5"},
           {"clusterCIDR: 10.0.0.0", "clusterCIDR: not a CIDR"},
           {"nodePortAddresses: 10.0.0.0/8", "nodePortAddresses: expected a list of strings, got \"10.0.0.0/8\""},
           {"nodePortAddresses: [eth0]", "nodePortAddresses: not a CIDR"},
           {"healthzBindAddress: localhost:10256",
            "healthzBindAddress: \"localhost\" in \"localhost:10256\" is not an IP"},
           {"metricsBindAddress: 0.0.0.0:99999", "metricsBindAddress: \"99999\" in \"0.0.0.0:99999\" is not a port"},
           {"bindAddress: node-1", "bindAddress: not an IP address"},
           {"detectLocalMode: Pods", "detectLocalMode: \"Pods\" is not a detect-local mode"},
           {"featureGates: {A: maybe}", "featureGates.A: expected true or false, got \"maybe\""},
           {"iptables: {masqueradeBit: 32}", "iptables.masqueradeBit: must be within [0, 31]"},
           {"conntrack: {min: -1}", "conntrack.min: must not be negative"},
           {"clientConnection: {burst: -1}", "clientConnection.burst: must not be negative"},
           {"logging: {format: xml}", "logging.format: unsupported log format \"xml\""},
           {"logging: {vmodule: [{filePattern: x, verbosity: high}]}",
            "logging.vmodule[0].verbosity: expected a 32-bit integer, got \"high\""},
           {"ipvs: {excludeCIDRs: [10.0.0.1]}", "ipvs.excludeCIDRs: not a CIDR"},
           // The document itself.
           {"apiVersion: kubeproxy.config.k8s.io/v1alpha2\nkind: KubeProxyConfiguration",
            "apiVersion: must be kubeproxy.config.k8s.io/v1alpha1, not \"kubeproxy.config.k8s.io/v1alpha2\""},
           {"apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration",
            "kind: must be KubeProxyConfiguration, not \"KubeletConfiguration\""},
           {"apiVersion: kubeproxy.config.k8s.io/v1alpha1", "kind: must be KubeProxyConfiguration, not \"\""},
           {"kind: KubeProxyConfiguration", "apiVersion: must be kubeproxy.config.k8s.io/v1alpha1, not \"\""},
           {"", "the document is empty"},
           {"- a\n- b", "the document: expected a map, got a list"},
           {"mode: [ipvs", "not YAML: line 3"},
       }) {
    bool own_header = c.yaml.find("apiVersion") != std::string::npos || c.yaml.find("kind:") != std::string::npos ||
                      c.yaml.empty() || c.yaml[0] == '-';
    absl::StatusOr<DaemonConfig> got =
        DecodeKubeProxyConfiguration(own_header ? c.yaml : absl::StrCat(kHeader, c.yaml));
    ASSERT_FALSE(got.ok()) << c.yaml;
    EXPECT_THAT(got.status().message(), HasSubstr(c.message)) << c.yaml;
  }
}

TEST(KubeProxyConfigTest, UnknownAndDuplicateFieldsAreWarningsNamingThem) {
  ASSERT_OK_AND_ASSIGN(DaemonConfig c, DecodeKubeProxyConfiguration(absl::StrCat(kHeader, R"(
metadata: {name: x}
mode: iptables
mode: ipvs
iptables: {syncPeriod: 10s, flushInterval: 1s}
socketLB: host-only
)")));
  EXPECT_THAT(c.warnings, ElementsAre(HasSubstr("unknown field \"metadata\""), HasSubstr("duplicate field \"mode\""),
                                      HasSubstr("unknown field \"iptables.flushInterval\""),
                                      HasSubstr("unknown field \"socketLB\"")));
  EXPECT_EQ(c.proxy_mode, "ipvs") << "the later duplicate wins, as in Go's JSON decoding";
}

TEST_F(ConfigFileTest, KubeadmDaemonSetCommandLine) {
  std::string path = Write("config.conf", KubeadmConfigConf());
  ASSERT_OK_AND_ASSIGN(DaemonConfig c,
                       LoadDaemonConfig({absl::StrCat("--config=", path), "--hostname-override=Node-A"}));
  EXPECT_EQ(c.config_file, path);
  EXPECT_EQ(c.hostname_override, "node-a");
  EXPECT_EQ(c.kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf");
  EXPECT_THAT(c.cluster_cidrs, ElementsAre("10.244.0.0/16"));
  EXPECT_THAT(Settings(c.ignored), ElementsAre("clusterCIDR: 10.244.0.0/16"));
}

TEST_F(ConfigFileTest, PrecedenceFileOverFlagsExceptHostnameLoggingAndOurs) {
  std::string path = Write("config.conf", absl::StrCat(kHeader, R"(
hostnameOverride: from-file
clientConnection: {kubeconfig: /file/kubeconfig}
iptables: {syncPeriod: 45s}
metricsBindAddress: 0.0.0.0:10249
logging: {verbosity: 1}
)"));
  struct Case {
    std::vector<std::string> flags;
    std::string hostname;
    int verbosity;
    std::vector<std::string> ignored;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "from-file", 1, {}},
           {{"--hostname-override=from-flag", "--v=5"}, "from-flag", 5, {}},
           {{"--iptables-sync-period=5s", "--metrics-bind-address=127.0.0.1:1", "--kubeconfig=/flag"},
            "from-file",
            1,
            {"--iptables-sync-period=5s", "--metrics-bind-address=127.0.0.1:1", "--kubeconfig=/flag"}},
       }) {
    std::vector<std::string> args = {absl::StrCat("--config=", path), "--master=https://api:6443",
                                     "--bpf-root=/sys/fs/bpf/other", "--per-packet-lb=false"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    SCOPED_TRACE(absl::StrJoin(args, " "));
    ASSERT_OK_AND_ASSIGN(DaemonConfig got, LoadDaemonConfig(args));
    EXPECT_EQ(got.hostname_override, c.hostname);
    EXPECT_EQ(got.verbosity, c.verbosity);
    EXPECT_EQ(got.kubeconfig, "/file/kubeconfig");
    EXPECT_EQ(got.sync_period, absl::Seconds(45));
    EXPECT_EQ(got.metrics_bind_address, "0.0.0.0:10249");
    EXPECT_EQ(got.master, "https://api:6443") << "--master is not part of the file: it applies";
    EXPECT_EQ(got.datapath.bpf_root, "/sys/fs/bpf/other");
    EXPECT_FALSE(got.per_packet_lb);
    EXPECT_EQ(Settings(got.ignored), c.ignored);
  }
}

TEST_F(ConfigFileTest, ErrorsNameTheFileOrTheFlag) {
  std::string bad_field = Write("bad.conf", absl::StrCat(kHeader, "iptables: {syncPeriod: 30}\n"));
  std::string good = Write("good.conf", kHeader);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--config=/nonexistent/config.conf"},
            "--config /nonexistent/config.conf: cannot read the file: No such file or directory"},
           {{absl::StrCat("--config=", dir_)},
            absl::StrCat("--config ", dir_, ": cannot read the file: Is a directory")},
           {{absl::StrCat("--config=", bad_field)},
            absl::StrCat("--config ", bad_field, ": iptables.syncPeriod: expected a duration string")},
           {{absl::StrCat("--config=", good), "--no-such-flag"}, "unknown flag --no-such-flag"},
           {{absl::StrCat("--config=", good), "--ipvs-sync-period=1x"},
            "invalid value \"1x\" for flag --ipvs-sync-period"},
       }) {
    absl::StatusOr<DaemonConfig> got = LoadDaemonConfig(c.args);
    ASSERT_FALSE(got.ok()) << absl::StrJoin(c.args, " ");
    EXPECT_THAT(got.status().message(), HasSubstr(c.message));
  }
}

TEST_F(ConfigFileTest, WarningsNameTheFile) {
  std::string path = Write("old.conf", TestData("kubeadm-1.22-config.conf"));
  ASSERT_OK_AND_ASSIGN(DaemonConfig c, LoadDaemonConfig({absl::StrCat("--config=", path)}));
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_EQ(c.warnings[1], absl::StrCat(path,
                                        ": strict decoding error: unknown field \"udpIdleTimeout\"; decoded "
                                        "leniently and ignored, as kube-proxy does"));
}

TEST_F(ConfigFileTest, WriteConfigToRoundTrips) {
  DaemonConfig in = ParseFlags({"--kubeconfig=/k", "--hostname-override=n1", "--bind-address=10.1.2.3",
                                "--healthz-bind-address=10.1.2.3:1111", "--metrics-bind-address=0.0.0.0:2222",
                                "--bind-address-hard-fail", "--cluster-cidr=10.0.0.0/8,fd00::/48",
                                "--detect-local-mode=BridgeInterface", "--pod-bridge-interface=cbr0",
                                "--nodeport-addresses=primary", "--oom-score-adj=-10", "--config-sync-period=3m",
                                "--feature-gates=X=true", "--v=3", "--proxy-mode=ipvs", "--ipvs-sync-period=40s",
                                "--ipvs-min-sync-period=0", "--iptables-localhost-nodeports=false"})
                        .value();
  std::string path = absl::StrCat(dir_, "/written.conf");
  ASSERT_OK(WriteKubeProxyConfiguration(in, path));
  ASSERT_OK_AND_ASSIGN(DaemonConfig out, DecodeKubeProxyConfiguration(ReadFile(path)));
  EXPECT_THAT(out.warnings, IsEmpty()) << ReadFile(path);
  EXPECT_EQ(out.kubeconfig, in.kubeconfig);
  EXPECT_EQ(out.hostname_override, in.hostname_override);
  EXPECT_EQ(out.bind_address, in.bind_address);
  EXPECT_EQ(out.healthz_bind_address, in.healthz_bind_address);
  EXPECT_EQ(out.metrics_bind_address, in.metrics_bind_address);
  EXPECT_EQ(out.bind_address_hard_fail, in.bind_address_hard_fail);
  EXPECT_EQ(out.cluster_cidrs, in.cluster_cidrs);
  EXPECT_EQ(out.detect_local_mode, in.detect_local_mode);
  EXPECT_EQ(out.pod_bridge_interface, in.pod_bridge_interface);
  EXPECT_EQ(out.nodeport_addresses, in.nodeport_addresses);
  EXPECT_EQ(out.oom_score_adj, in.oom_score_adj);
  EXPECT_EQ(out.localhost_nodeports, in.localhost_nodeports);
  EXPECT_EQ(out.config_sync_period, in.config_sync_period);
  EXPECT_EQ(out.feature_gates, in.feature_gates);
  EXPECT_EQ(out.verbosity, in.verbosity);
  EXPECT_EQ(out.proxy_mode, "ipvs");
  EXPECT_EQ(out.sync_period, absl::Seconds(40));
  EXPECT_EQ(out.min_sync_period, absl::ZeroDuration());
  EXPECT_FALSE(WriteKubeProxyConfiguration(in, "/nonexistent/dir/x.conf").ok());
}

TEST_F(ConfigFileTest, OomScoreAdjIsWrittenToTheFile) {
  std::string path = Write("oom_score_adj", "0\n");
  ASSERT_OK(ApplyOomScoreAdj(-999, path));
  EXPECT_EQ(ReadFile(path), "-999\n");
  EXPECT_THAT(ApplyOomScoreAdj(5, "/nonexistent/oom_score_adj").message(),
              HasSubstr("cannot write 5 to /nonexistent/oom_score_adj: No such file or directory"));
  EXPECT_FALSE(ApplyOomScoreAdj(1001, path).ok());
  EXPECT_EQ(ReadFile(path), "-999\n") << "an out-of-range value is not written";
}

TEST(OomScoreAdjTest, AppliesToThisProcess) {
  // Raising the score needs no privilege; the kernel reports what it took.
  std::string before = ReadFile("/proc/self/oom_score_adj");
  int current = std::stoi(before);
  int raised = current < 1000 ? current + 1 : current;
  ASSERT_OK(ApplyOomScoreAdj(raised));
  EXPECT_EQ(std::stoi(ReadFile("/proc/self/oom_score_adj")), raised);
}

}  // namespace
}  // namespace bpfproxy
