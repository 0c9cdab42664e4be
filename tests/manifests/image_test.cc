// manifests/image/Dockerfile, checked without docker: the build stage builds
// the way the repository does, and the run stage installs every shared
// library the binaries built here load (ldd), mapped to Debian packages with
// dpkg -S and closed over the packages' dependencies as apt would install
// them. Runs on Debian bookworm, the release both stages use.
#include <stdio.h>

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/manifests/manifest_files.h"

namespace bpfproxy::manifests {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// Runs |command| through the shell; its stdout, or "" when it fails.
std::string Shell(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  return pclose(pipe) == 0 ? out : "";
}

struct Stage {
  std::string from;
  std::vector<std::string> lines;  // Instructions, continuations joined.
};

std::vector<Stage> ParseDockerfile(const std::string& text) {
  std::vector<Stage> stages;
  std::string joined = std::regex_replace(text, std::regex(R"(\\\n)"), " ");
  for (absl::string_view raw : absl::StrSplit(joined, '\n')) {
    std::string line(absl::StripAsciiWhitespace(raw));
    if (line.empty() || line[0] == '#') continue;
    if (absl::StartsWith(line, "FROM ")) stages.push_back({line.substr(5), {}});
    if (!stages.empty()) stages.back().lines.push_back(line);
  }
  return stages;
}

// The package names of the "apt-get install" in |stage|.
std::vector<std::string> InstalledPackages(const Stage& stage) {
  std::vector<std::string> packages;
  for (const std::string& line : stage.lines) {
    size_t install = line.find("apt-get install");
    if (install == std::string::npos) continue;
    for (absl::string_view word : absl::StrSplit(line.substr(install + 15), ' ', absl::SkipWhitespace())) {
      if (word == "&&") break;
      if (!absl::StartsWith(word, "-")) packages.emplace_back(word);
    }
  }
  return packages;
}

// The package owning each of |libraries|, with one dpkg -S (each is looked
// up as ldd names it and under /usr: with merged /usr, dpkg may know either).
std::map<std::string, std::string> OwningPackages(const std::set<std::string>& libraries) {
  std::string command = "dpkg -S";
  for (const std::string& lib : libraries) absl::StrAppend(&command, " ", lib, " /usr", lib);
  std::map<std::string, std::string> owner;
  // "libbpf1:amd64: /usr/lib/x86_64-linux-gnu/libbpf.so.1"; unknown paths only go to stderr.
  for (absl::string_view line : absl::StrSplit(Shell(absl::StrCat(command, " 2>/dev/null; true")), '\n')) {
    size_t sep = line.find(": /");
    if (sep == absl::string_view::npos) continue;
    std::string path(line.substr(sep + 2));
    if (absl::StartsWith(path, "/usr/") && !libraries.contains(path)) path = path.substr(4);
    owner[path] = std::string(line.substr(0, line.find(':')));
  }
  return owner;
}

// |roots| and everything they depend on, as dpkg records it here (one
// dpkg-query for every installed package).
std::set<std::string> DependencyClosure(const std::vector<std::string>& roots) {
  std::map<std::string, std::vector<std::string>> depends;
  std::string table = Shell("dpkg-query -W -f='${Package}\t${Depends},${Pre-Depends}\n'");
  for (absl::string_view line : absl::StrSplit(table, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> row = absl::StrSplit(line, absl::MaxSplits('\t', 1));
    // "libc6 (>= 2.34), libssl3 (>= 3.0.0) | libssl1.1": every alternative.
    for (absl::string_view item : absl::StrSplit(row.second, absl::ByAnyChar(",|"), absl::SkipWhitespace())) {
      std::string name(absl::StripAsciiWhitespace(item.substr(0, item.find('('))));
      name = name.substr(0, name.find(':'));  // "python3:any"
      if (!name.empty()) depends[std::string(row.first)].push_back(name);
    }
  }
  std::set<std::string> seen;
  std::vector<std::string> todo(roots.begin(), roots.end());
  while (!todo.empty()) {
    std::string package = todo.back();
    todo.pop_back();
    if (!seen.insert(package).second) continue;
    for (const std::string& d : depends[package]) todo.push_back(d);
  }
  return seen;
}

std::vector<std::string> Libraries(const std::string& binary) {
  std::vector<std::string> libs;
  for (absl::string_view line : absl::StrSplit(Shell(absl::StrCat("ldd ", binary)), '\n')) {
    size_t arrow = line.find("=> /");
    if (arrow == absl::string_view::npos) continue;
    absl::string_view path = line.substr(arrow + 3);
    libs.emplace_back(path.substr(0, path.find(' ')));
  }
  return libs;
}

class ImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stages_ = ParseDockerfile(ReadText(absl::StrCat(SourceDir(), "/manifests/image/Dockerfile")));
    ASSERT_EQ(stages_.size(), 2u) << "a build stage and a run stage";
  }
  std::vector<Stage> stages_;
};

TEST_F(ImageTest, BuildsTheWayTheRepositoryDoes) {
  const Stage& build = stages_[0];
  EXPECT_EQ(build.from, "debian:bookworm-slim AS build");
  std::string all = absl::StrJoin(build.lines, "\n");
  EXPECT_THAT(all, HasSubstr("RUN scripts/install-deps.sh"));
  EXPECT_THAT(all, HasSubstr("scripts/build.sh"));
  const Stage& run = stages_[1];
  EXPECT_EQ(run.from, "debian:bookworm-slim") << "the release the binaries were built on";
  EXPECT_THAT(run.lines, Contains("COPY --from=build /src/build/bpfproxy /src/build/bpfproxyctl /usr/local/bin/"));
  EXPECT_THAT(run.lines, Contains("ENTRYPOINT [\"/usr/local/bin/bpfproxy\"]"));
  std::string ignore = ReadText(absl::StrCat(SourceDir(), "/manifests/image/Dockerfile.dockerignore"));
  for (const char* excluded : {".git", "build", "build-*"}) {
    EXPECT_THAT(absl::StrSplit(ignore, '\n'), Contains(excluded)) << "the build context would carry " << excluded;
  }
}

TEST_F(ImageTest, RunStageInstallsEveryLibraryTheBinariesLoad) {
  ASSERT_FALSE(Shell("grep -q 'VERSION_CODENAME=bookworm' /etc/os-release && echo yes").empty())
      << "needs Debian bookworm, the image's release (and the project's), to map libraries to its packages";
  std::vector<std::string> packages = InstalledPackages(stages_[1]);
  ASSERT_FALSE(packages.empty());
  for (const std::string& p : packages) {
    EXPECT_FALSE(Shell(absl::StrCat("dpkg-query -W ", p, " 2>/dev/null")).empty()) << p << " is not a bookworm package";
  }
  std::set<std::string> available = DependencyClosure(packages);
  available.insert("libc6");                           // Essential: in every Debian image.
  std::map<std::string, std::set<std::string>> users;  // library -> binaries
  for (const std::string& binary : std::vector<std::string>{BPFPROXY_DAEMON, BPFPROXY_CTL}) {
    std::vector<std::string> libs = Libraries(binary);
    EXPECT_GT(libs.size(), 5u) << "ldd " << binary;
    for (const std::string& lib : libs) users[lib].insert(binary);
  }
  std::set<std::string> libraries;
  for (const auto& [lib, unused] : users) libraries.insert(lib);
  std::map<std::string, std::string> owner = OwningPackages(libraries);
  int checked = 0;
  for (const auto& [lib, binaries] : users) {
    std::string package = owner[lib];
    EXPECT_FALSE(package.empty()) << lib << " (needed by " << absl::StrJoin(binaries, ", ")
                                  << ") belongs to no package";
    EXPECT_TRUE(available.contains(package)) << absl::StrJoin(binaries, ", ") << " load " << lib << " from " << package
                                             << ", which the run stage does not install";
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

}  // namespace
}  // namespace bpfproxy::manifests
