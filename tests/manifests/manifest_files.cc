#include "tests/manifests/manifest_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"

namespace bpfproxy::manifests {

std::string SourceDir() { return BPFPROXY_SOURCE_DIR; }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<Manifest> LoadAll() {
  std::filesystem::path root = std::filesystem::path(SourceDir()) / "manifests";
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
      files.push_back(std::filesystem::relative(entry.path(), root).string());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<Manifest> all;
  for (const std::string& file : files) {
    try {
      for (const YAML::Node& doc : YAML::LoadAll(ReadText((root / file).string()))) {
        if (!doc.IsNull()) all.push_back({file, doc});
      }
    } catch (const YAML::Exception& e) {
      ADD_FAILURE() << file << " is not YAML: " << e.what();
    }
  }
  return all;
}

YAML::Node Find(const std::vector<Manifest>& all, const std::string& file, const std::string& kind,
                const std::string& name) {
  YAML::Node found;
  int count = 0;
  for (const Manifest& m : all) {
    if (m.file == file && m.doc["kind"].as<std::string>("") == kind &&
        m.doc["metadata"]["name"].as<std::string>("") == name) {
      found = m.doc;
      ++count;
    }
  }
  if (count != 1) ADD_FAILURE() << file << ": " << count << " " << kind << " named " << name << ", want 1";
  return found;
}

YAML::Node Container(const YAML::Node& pod_spec, const std::string& name, bool init) {
  for (const YAML::Node& c : pod_spec[init ? "initContainers" : "containers"]) {
    if (c["name"].as<std::string>("") == name) return c;
  }
  return YAML::Node();
}

std::vector<std::string> Arguments(const YAML::Node& container,
                                   const std::vector<std::pair<std::string, std::string>>& env_values) {
  std::vector<std::string> args;
  const YAML::Node& command = container["command"];
  for (size_t i = 1; command && i < command.size(); ++i) args.push_back(command[i].as<std::string>());
  for (const YAML::Node& a : container["args"]) args.push_back(a.as<std::string>());
  for (std::string& a : args) {
    for (const auto& [var, value] : env_values) a = absl::StrReplaceAll(a, {{absl::StrCat("$(", var, ")"), value}});
  }
  return args;
}

}  // namespace bpfproxy::manifests
