// The DaemonSet takes kube-proxy's place: scheduling, identity, the flags it
// passes (parsed by the daemon's own parser), the configuration it reads, the
// mounts the datapath needs, and probes on the health server's real port.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/flags.h"
#include "proxy/kube_proxy_config.h"
#include "tests/manifests/manifest_files.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::manifests {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Str(const YAML::Node& n) { return n.as<std::string>(""); }

// The volume mounted at the deepest mountPath that contains |path|, with
// the mount: {volume, mount}; Null nodes if none.
std::pair<YAML::Node, YAML::Node> VolumeHolding(const YAML::Node& pod_spec, const YAML::Node& container,
                                                const std::string& path) {
  YAML::Node best_mount;
  for (const YAML::Node& m : container["volumeMounts"]) {
    std::string mount_path = Str(m["mountPath"]);
    bool holds = path == mount_path || absl::StartsWith(path, absl::StrCat(mount_path, "/"));
    if (holds && (!best_mount || mount_path.size() > Str(best_mount["mountPath"]).size())) best_mount = m;
  }
  if (!best_mount) return {};
  for (const YAML::Node& v : pod_spec["volumes"]) {
    if (Str(v["name"]) == Str(best_mount["name"])) return {v, best_mount};
  }
  return {};
}

// kube-proxy's ConfigMap as bpfproxy reads it: the standalone one shipped
// here, and kubeadm's (tests/proxy/testdata).
std::vector<std::pair<std::string, YAML::Node>> KubeProxyConfigMaps(const std::vector<Manifest>& all) {
  YAML::Node kubeadm =
      YAML::Load(ReadText(absl::StrCat(SourceDir(), "/tests/proxy/testdata/kubeadm-kube-proxy-configmap.yaml")));
  return {{"standalone", Find(all, "standalone/kube-proxy-configmap.yaml", "ConfigMap", "kube-proxy")},
          {"kubeadm", kubeadm}};
}

class DaemonSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    all_ = LoadAll();
    ds_ = Find(all_, "daemonset.yaml", "DaemonSet", "bpfproxy");
    ASSERT_TRUE(ds_.IsMap());
    pod_ = ds_["spec"]["template"]["spec"];
    container_ = Container(pod_, "bpfproxy");
    ASSERT_TRUE(container_.IsMap());
    args_ = Arguments(container_, {{"NODE_NAME", "node-a"}});
  }

  std::vector<Manifest> all_;
  YAML::Node ds_, pod_, container_;
  std::vector<std::string> args_;
};

TEST_F(DaemonSetTest, IsScheduledLikeKubeProxy) {
  EXPECT_EQ(Str(ds_["metadata"]["namespace"]), "kube-system");
  EXPECT_TRUE(pod_["hostNetwork"].as<bool>(false));
  EXPECT_EQ(Str(pod_["priorityClassName"]), "system-node-critical");
  EXPECT_EQ(Str(pod_["nodeSelector"]["kubernetes.io/os"]), "linux");
  std::vector<std::string> tolerations;
  for (const YAML::Node& t : pod_["tolerations"]) {
    tolerations.push_back(absl::StrCat(Str(t["key"]), "/", Str(t["operator"]), "/", Str(t["effect"])));
  }
  EXPECT_THAT(tolerations, Contains("CriticalAddonsOnly/Exists/"));
  EXPECT_THAT(tolerations, Contains("/Exists/")) << "runs on every node, whatever its taints";
  // Selected by its own label; kube-proxy's label on the pods for monitoring.
  const YAML::Node& labels = ds_["spec"]["template"]["metadata"]["labels"];
  for (auto it = ds_["spec"]["selector"]["matchLabels"].begin(); it != ds_["spec"]["selector"]["matchLabels"].end();
       ++it) {
    EXPECT_EQ(Str(labels[Str(it->first)]), Str(it->second)) << "the selector must match the template";
    EXPECT_NE(Str(it->first), "k8s-app") << "selecting k8s-app: kube-proxy would overlap kube-proxy's DaemonSet";
  }
  EXPECT_EQ(Str(labels["k8s-app"]), "kube-proxy");
}

TEST_F(DaemonSetTest, RunsAsTheBoundServiceAccount) {
  std::string account = Str(pod_["serviceAccountName"]);
  YAML::Node sa = Find(all_, "serviceaccount.yaml", "ServiceAccount", account);
  EXPECT_EQ(Str(sa["metadata"]["namespace"]), "kube-system");
  YAML::Node binding = Find(all_, "rbac.yaml", "ClusterRoleBinding", "bpfproxy");
  ASSERT_EQ(binding["subjects"].size(), 1u);
  EXPECT_EQ(Str(binding["subjects"][0]["kind"]), "ServiceAccount");
  EXPECT_EQ(Str(binding["subjects"][0]["name"]), account);
  EXPECT_EQ(Str(binding["subjects"][0]["namespace"]), "kube-system");
  EXPECT_EQ(Str(binding["roleRef"]["kind"]), "ClusterRole");
  Find(all_, "rbac.yaml", "ClusterRole", Str(binding["roleRef"]["name"]));
}

TEST_F(DaemonSetTest, FlagsAreOnesTheDaemonAccepts) {
  ASSERT_OK_AND_ASSIGN(DaemonConfig c, ParseFlags(args_));
  EXPECT_EQ(c.hostname_override, "node-a");
  EXPECT_THAT(c.ignored, IsEmpty()) << "the DaemonSet should pass no flag that has no effect";
  // The node's name comes from the pod's spec.nodeName.
  EXPECT_THAT(absl::StrJoin(Arguments(container_, {}), " "), HasSubstr("--hostname-override=$(NODE_NAME)"));
  bool node_name_from_spec = false;
  for (const YAML::Node& e : container_["env"]) {
    node_name_from_spec |=
        Str(e["name"]) == "NODE_NAME" && Str(e["valueFrom"]["fieldRef"]["fieldPath"]) == "spec.nodeName";
  }
  EXPECT_TRUE(node_name_from_spec);
  EXPECT_EQ(Str(container_["command"][0]), "/usr/local/bin/bpfproxy") << "where manifests/image/Dockerfile puts it";
}

TEST_F(DaemonSetTest, ReadsKubeProxysConfigMap) {
  DaemonConfig c = ParseFlags(args_).value();
  ASSERT_FALSE(c.config_file.empty());
  auto [volume, mount] = VolumeHolding(pod_, container_, c.config_file);
  ASSERT_TRUE(volume.IsMap()) << c.config_file << " is on no volume";
  EXPECT_EQ(Str(volume["configMap"]["name"]), "kube-proxy");
  std::string key = std::filesystem::path(c.config_file).filename();
  std::string mount_dir = Str(mount["mountPath"]);
  for (const auto& [which, config_map] : KubeProxyConfigMaps(all_)) {
    SCOPED_TRACE(which);
    ASSERT_TRUE(config_map["data"][key].IsScalar()) << "no " << key << " in the ConfigMap";
    ASSERT_OK_AND_ASSIGN(DaemonConfig file, DecodeKubeProxyConfiguration(Str(config_map["data"][key])));
    EXPECT_THAT(file.warnings, IsEmpty());
    for (const IgnoredSetting& i : file.ignored) {
      EXPECT_TRUE(absl::StartsWith(i.setting, "clusterCIDR: ")) << i.setting << " has no effect on bpfproxy";
    }
    // Its kubeconfig is the ConfigMap's other key, mounted next to it, and
    // authenticates with the pod's service-account token.
    ASSERT_TRUE(absl::StartsWith(file.kubeconfig, mount_dir + "/")) << file.kubeconfig;
    std::string kubeconfig_key = file.kubeconfig.substr(mount_dir.size() + 1);
    YAML::Node kubeconfig = YAML::Load(Str(config_map["data"][kubeconfig_key]));
    EXPECT_EQ(Str(kubeconfig["users"][0]["user"]["tokenFile"]), "/var/run/secrets/kubernetes.io/serviceaccount/token");
  }
}

TEST_F(DaemonSetTest, MountsWhatTheDatapathNeeds) {
  DaemonConfig c = ParseFlags(args_).value();
  auto [bpffs, bpffs_mount] = VolumeHolding(pod_, container_, c.datapath.bpf_root);
  ASSERT_TRUE(bpffs.IsMap()) << "--bpf-root " << c.datapath.bpf_root << " is on no volume: pins would die with the pod";
  EXPECT_EQ(Str(bpffs["hostPath"]["path"]), "/sys/fs/bpf");
  EXPECT_EQ(Str(bpffs_mount["mountPropagation"]), "Bidirectional")
      << "a bpffs bpfproxy mounts must reach the host, or pins die with the pod";
  EXPECT_TRUE(container_["securityContext"]["privileged"].as<bool>(false))
      << "Bidirectional propagation is only allowed in privileged containers";

  ASSERT_FALSE(c.datapath.cgroup_root.empty())
      << "without --cgroup-root the pod's own cgroup namespace root would be used";
  auto [cgroup, cgroup_mount] = VolumeHolding(pod_, container_, c.datapath.cgroup_root);
  ASSERT_TRUE(cgroup.IsMap());
  EXPECT_EQ(Str(cgroup_mount["mountPath"]), c.datapath.cgroup_root) << "the host's cgroup2 root itself";
  EXPECT_EQ(Str(cgroup["hostPath"]["path"]), "/sys/fs/cgroup");
}

TEST_F(DaemonSetTest, ProbesAndPortsMatchTheServers) {
  // The addresses come from the ConfigMap (--config wins over flags).
  for (const auto& [which, config_map] : KubeProxyConfigMaps(all_)) {
    SCOPED_TRACE(which);
    ASSERT_OK_AND_ASSIGN(DaemonConfig c, DecodeKubeProxyConfiguration(Str(config_map["data"]["config.conf"])));
    ASSERT_OK(ApplyFlagsOverConfigFile(args_, c));
    int healthz_port = std::stoi(c.healthz_bind_address.substr(c.healthz_bind_address.rfind(':') + 1));
    int metrics_port = std::stoi(c.metrics_bind_address.substr(c.metrics_bind_address.rfind(':') + 1));
    EXPECT_EQ(Str(container_["livenessProbe"]["httpGet"]["path"]), "/livez");
    EXPECT_EQ(container_["livenessProbe"]["httpGet"]["port"].as<int>(0), healthz_port);
    EXPECT_EQ(Str(container_["readinessProbe"]["httpGet"]["path"]), "/healthz");
    EXPECT_EQ(container_["readinessProbe"]["httpGet"]["port"].as<int>(0), healthz_port);
    std::map<std::string, int> ports;
    for (const YAML::Node& p : container_["ports"]) ports[Str(p["name"])] = p["containerPort"].as<int>(0);
    EXPECT_EQ(ports["healthz"], healthz_port);
    EXPECT_EQ(ports["metrics"], metrics_port);
  }
}

TEST_F(DaemonSetTest, CapabilitiesOverlayDropsPrivilegeOnly) {
  YAML::Node patch = Find(all_, "capabilities/capabilities.yaml", "DaemonSet", "bpfproxy");
  YAML::Node c = Container(patch["spec"]["template"]["spec"], "bpfproxy");
  ASSERT_TRUE(c.IsMap());
  EXPECT_FALSE(c["securityContext"]["privileged"].as<bool>(true));
  std::vector<std::string> caps;
  for (const YAML::Node& cap : c["securityContext"]["capabilities"]["add"]) caps.push_back(Str(cap));
  EXPECT_EQ(caps, (std::vector<std::string>{"BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE"}));
  ASSERT_EQ(c["volumeMounts"].size(), 1u);
  EXPECT_EQ(Str(c["volumeMounts"][0]["mountPath"]), "/sys/fs/bpf");
  EXPECT_EQ(Str(c["volumeMounts"][0]["mountPropagation"]), "HostToContainer")
      << "Bidirectional is refused without privileged";
}

TEST_F(DaemonSetTest, CleanupDaemonSetsRunTheRightCleanup) {
  YAML::Node ours = Find(all_, "migration/bpfproxy-cleanup.yaml", "DaemonSet", "bpfproxy-cleanup");
  YAML::Node pod = ours["spec"]["template"]["spec"];
  YAML::Node cleanup = Container(pod, "cleanup", /*init=*/true);
  ASSERT_TRUE(cleanup.IsMap());
  ASSERT_OK_AND_ASSIGN(DaemonConfig c, ParseFlags(Arguments(cleanup, {})));
  EXPECT_TRUE(c.cleanup);
  EXPECT_EQ(c.datapath.bpf_root, ParseFlags(args_).value().datapath.bpf_root) << "the pins the DaemonSet made";
  auto [bpffs, mount] = VolumeHolding(pod, cleanup, c.datapath.bpf_root);
  ASSERT_TRUE(bpffs.IsMap());
  EXPECT_EQ(Str(bpffs["hostPath"]["path"]), "/sys/fs/bpf");
  EXPECT_TRUE(pod["hostNetwork"].as<bool>(false)) << "tc programs are detached from the node's devices";

  YAML::Node theirs = Find(all_, "migration/kube-proxy-cleanup.yaml", "DaemonSet", "kube-proxy-cleanup");
  YAML::Node kube_proxy = Container(theirs["spec"]["template"]["spec"], "cleanup", /*init=*/true);
  EXPECT_THAT(Str(kube_proxy["image"]), HasSubstr("registry.k8s.io/kube-proxy:"));
  EXPECT_THAT(Arguments(kube_proxy, {}), Contains("--cleanup"));
}

}  // namespace
}  // namespace bpfproxy::manifests
