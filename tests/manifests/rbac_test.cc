// The ClusterRole grants exactly what the daemon uses. What it uses is read
// from the source, not restated: every API path literal in k8s/ and proxy/
// (comments stripped), the HTTP methods the REST client sends, and whether the
// reflector watches. A new request in the code fails this test until the
// ClusterRole (and, for a new kind of request, this derivation) follows.
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/manifests/manifest_files.h"

namespace bpfproxy::manifests {
namespace {

// (API group, resource, verb); "" is the core group.
using Grant = std::tuple<std::string, std::string, std::string>;

std::string StripComments(const std::string& code) {
  static const std::regex* kComment = new std::regex(R"(//[^\n]*|/\*[\s\S]*?\*/)");
  return std::regex_replace(code, *kComment, "");
}

// The daemon's source files: k8s/ and proxy/, without bpfproxyctl's
// (proxy/ctl/, ctl_main.cc), which runs with the admin's credentials, not
// the DaemonSet's service account. Tests and the API server emulator are
// elsewhere.
std::vector<std::string> DaemonSources() {
  std::vector<std::string> files;
  for (const char* dir : {"k8s", "proxy"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(absl::StrCat(SourceDir(), "/", dir))) {
      std::string ext = entry.path().extension();
      std::string relative = std::filesystem::relative(entry.path(), SourceDir());
      bool ctl = relative.starts_with("proxy/ctl/") || relative.starts_with("proxy/ctl_main");
      if (entry.is_regular_file() && (ext == ".cc" || ext == ".h") && !ctl) files.push_back(entry.path());
    }
  }
  return files;
}

// "/api/v1/services" -> ("", "services"); "/apis/discovery.k8s.io/v1/endpointslices"
// -> ("discovery.k8s.io", "endpointslices"); namespaced paths skip the namespace.
std::pair<std::string, std::string> GroupAndResource(const std::string& path) {
  std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  size_t first = parts[0] == "api" ? 2 : 3;  // After "api/v1" or "apis/<group>/<version>".
  std::string group = parts[0] == "api" ? "" : parts[1];
  if (parts.size() > first + 1 && parts[first] == "namespaces") first += 2;
  return {group, parts.size() > first ? parts[first] : ""};
}

struct ApiUse {
  std::set<Grant> grants;
  std::set<std::string> methods;
  std::vector<std::string> paths;
};

ApiUse DeriveApiUse() {
  static const std::regex* kPath = new std::regex(R"re("(/apis?/[^"]*)")re");
  static const std::regex* kMethod = new std::regex(R"(methods::(\w+))");
  ApiUse use;
  bool watches = false;
  std::set<std::pair<std::string, std::string>> resources;
  for (const std::string& file : DaemonSources()) {
    std::string code = StripComments(ReadText(file));
    for (std::sregex_iterator it(code.begin(), code.end(), *kPath), end; it != end; ++it) {
      std::string path = (*it)[1];
      use.paths.push_back(path);
      auto [group, resource] = GroupAndResource(path);
      if (resource.empty()) continue;
      // A path that ends in "/" has an object name appended: a GET of one object.
      if (path.back() == '/') use.grants.insert({group, resource, "get"});
      resources.insert({group, resource});
    }
    for (std::sregex_iterator it(code.begin(), code.end(), *kMethod), end; it != end; ++it)
      use.methods.insert((*it)[1]);
    watches |= code.find("\"watch\"") != std::string::npos || code.find("watch=") != std::string::npos;
  }
  // Collections are read by the reflector: LIST, then WATCH.
  for (const auto& [group, resource] : resources) {
    use.grants.insert({group, resource, "list"});
    if (watches) use.grants.insert({group, resource, "watch"});
  }
  return use;
}

std::set<Grant> Granted(const YAML::Node& role) {
  std::set<Grant> granted;
  for (const YAML::Node& rule : role["rules"]) {
    EXPECT_FALSE(rule["resourceNames"]) << "unexpected resourceNames";
    EXPECT_FALSE(rule["nonResourceURLs"]) << "unexpected nonResourceURLs";
    for (const YAML::Node& g : rule["apiGroups"]) {
      for (const YAML::Node& r : rule["resources"]) {
        for (const YAML::Node& v : rule["verbs"]) {
          granted.insert({g.as<std::string>(), r.as<std::string>(), v.as<std::string>()});
        }
      }
    }
  }
  return granted;
}

std::string Describe(const std::set<Grant>& grants) {
  std::vector<std::string> lines;
  for (const auto& [group, resource, verb] : grants) lines.push_back(absl::StrCat(group, "/", resource, ":", verb));
  return absl::StrJoin(lines, " ");
}

TEST(RbacTest, TheDerivationSeesTheDaemonsRequests) {
  // Guards the derivation itself: if the code moved its paths out of sight
  // (say, built them from pieces), this fails instead of the ClusterRole
  // check passing on nothing.
  ApiUse use = DeriveApiUse();
  EXPECT_THAT(use.paths, ::testing::Contains("/api/v1/services"));
  EXPECT_THAT(use.paths, ::testing::Contains("/apis/discovery.k8s.io/v1/endpointslices"));
  EXPECT_THAT(use.paths, ::testing::Contains("/api/v1/nodes"));
  EXPECT_THAT(use.methods, ::testing::Contains("GET"));
}

TEST(RbacTest, ClusterRoleGrantsExactlyWhatTheDaemonUses) {
  ApiUse use = DeriveApiUse();
  ASSERT_EQ(use.methods, std::set<std::string>{"GET"})
      << "the REST client sends " << absl::StrJoin(use.methods, ", ")
      << ": derive the verbs of the new requests here and grant them in manifests/rbac.yaml";
  YAML::Node role = Find(LoadAll(), "rbac.yaml", "ClusterRole", "bpfproxy");
  std::set<Grant> granted = Granted(role);
  EXPECT_EQ(Describe(granted), Describe(use.grants))
      << "left: manifests/rbac.yaml; right: what k8s/ and proxy/ request";
  EXPECT_EQ(Describe(use.grants),
            "/nodes:list /nodes:watch /services:list /services:watch discovery.k8s.io/endpointslices:list "
            "discovery.k8s.io/endpointslices:watch")
      << "no events, no endpoints, no get: kube-proxy's system:node-proxier grants those, bpfproxy uses none";
}

TEST(RbacTest, PathParsing) {
  EXPECT_EQ(GroupAndResource("/api/v1/services"), (std::pair<std::string, std::string>{"", "services"}));
  EXPECT_EQ(GroupAndResource("/apis/events.k8s.io/v1/namespaces/"),
            (std::pair<std::string, std::string>{"events.k8s.io", "namespaces"}));
  EXPECT_EQ(GroupAndResource("/api/v1/namespaces/default/events"), (std::pair<std::string, std::string>{"", "events"}));
  EXPECT_EQ(StripComments("a // \"/api/v1/pods\"\nb /* \"/api/v1/secrets\" */ c"), "a \nb  c");
}

}  // namespace
}  // namespace bpfproxy::manifests
