// Every manifest parses and is reachable: each kustomization's resources and
// patches exist, each patch targets an object its bases define, the image
// name they set is the one the containers use, and no file is left out of
// every kustomization by mistake.
#include <filesystem>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/manifests/manifest_files.h"

namespace bpfproxy::manifests {
namespace {

namespace fs = std::filesystem;

std::string Str(const YAML::Node& n) { return n.as<std::string>(""); }

// Applied with `kubectl apply -f` on their own (see the migration guide).
const std::set<std::string> kStandaloneFiles = {"migration/kube-proxy-cleanup.yaml"};

// "kind/name" of every object a kustomization directory produces (its
// resources, recursively), and the files it reads.
void Collect(const std::vector<Manifest>& all, const fs::path& dir, std::set<std::string>& objects,
             std::set<std::string>& files) {
  fs::path root = fs::path(SourceDir()) / "manifests";
  std::string kustomization = fs::relative(dir / "kustomization.yaml", root).lexically_normal();
  files.insert(kustomization);
  for (const Manifest& m : all) {
    if (m.file != kustomization) continue;
    for (const YAML::Node& r : m.doc["resources"]) {
      fs::path target = (dir / Str(r)).lexically_normal();
      if (fs::is_directory(target)) {
        Collect(all, target, objects, files);
        continue;
      }
      std::string file = fs::relative(target, root);
      files.insert(file);
      for (const Manifest& doc : all) {
        if (doc.file == file) objects.insert(absl::StrCat(Str(doc.doc["kind"]), "/", Str(doc.doc["metadata"]["name"])));
      }
    }
    for (const YAML::Node& p : m.doc["patches"])
      files.insert(fs::relative((dir / Str(p["path"])).lexically_normal(), root));
  }
}

TEST(ManifestsTest, EveryDocumentHasAKindAndAVersion) {
  std::vector<Manifest> all = LoadAll();
  EXPECT_GE(all.size(), 14u);
  for (const Manifest& m : all) {
    EXPECT_FALSE(Str(m.doc["apiVersion"]).empty()) << m.file;
    EXPECT_FALSE(Str(m.doc["kind"]).empty()) << m.file;
    if (Str(m.doc["kind"]) != "Kustomization" && Str(m.doc["kind"]) != "ClusterRole" &&
        Str(m.doc["kind"]) != "ClusterRoleBinding") {
      EXPECT_EQ(Str(m.doc["metadata"]["namespace"]), "kube-system") << m.file << " " << Str(m.doc["kind"]);
    }
  }
}

TEST(ManifestsTest, KustomizationsReferenceFilesThatExistAndPatchWhatTheirBasesDefine) {
  std::vector<Manifest> all = LoadAll();
  fs::path root = fs::path(SourceDir()) / "manifests";
  std::set<std::string> referenced;
  int kustomizations = 0;
  for (const Manifest& m : all) {
    if (Str(m.doc["kind"]) != "Kustomization") continue;
    ++kustomizations;
    fs::path dir = (root / m.file).parent_path();
    for (const YAML::Node& r : m.doc["resources"]) {
      fs::path target = dir / Str(r);
      EXPECT_TRUE(fs::is_regular_file(target) || fs::is_regular_file(target / "kustomization.yaml"))
          << m.file << ": resource " << Str(r) << " does not exist";
    }
    std::set<std::string> objects, files;
    Collect(all, dir, objects, files);
    referenced.insert(files.begin(), files.end());
    for (const YAML::Node& p : m.doc["patches"]) {
      std::string file = fs::relative((dir / Str(p["path"])).lexically_normal(), root);
      ASSERT_TRUE(fs::is_regular_file(root / file)) << m.file << ": patch " << file << " does not exist";
      for (const Manifest& patch : all) {
        if (patch.file != file) continue;
        std::string target = absl::StrCat(Str(patch.doc["kind"]), "/", Str(patch.doc["metadata"]["name"]));
        EXPECT_TRUE(objects.contains(target))
            << m.file << ": patch " << file << " targets " << target << ", which its resources do not define";
      }
    }
    for (const YAML::Node& image : m.doc["images"]) {
      EXPECT_EQ(Str(image["name"]), "bpfproxy") << m.file;
      EXPECT_FALSE(Str(image["newName"]).empty()) << m.file;
    }
  }
  EXPECT_GE(kustomizations, 5);
  for (const Manifest& m : all) {
    EXPECT_TRUE(referenced.contains(m.file) || kStandaloneFiles.contains(m.file))
        << m.file << " is in no kustomization";
  }
}

TEST(ManifestsTest, ContainersUsingOurImageRunOurBinary) {
  int checked = 0;
  for (const Manifest& m : LoadAll()) {
    if (Str(m.doc["kind"]) != "DaemonSet") continue;
    const YAML::Node pod = m.doc["spec"]["template"]["spec"];
    if (!pod.IsDefined() || !pod.IsMap()) continue;  // A patch of the template's metadata only.
    for (const char* list : {"containers", "initContainers"}) {
      for (const YAML::Node& c : pod[list]) {
        if (Str(c["image"]) != "bpfproxy") continue;
        EXPECT_EQ(Str(c["command"][0]), "/usr/local/bin/bpfproxy") << m.file;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 2) << "the DaemonSet and the cleanup DaemonSet";
}

}  // namespace
}  // namespace bpfproxy::manifests
