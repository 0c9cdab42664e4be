// The YAML under manifests/, loaded for the checks in this directory.
#ifndef BPFPROXY_TESTS_MANIFESTS_MANIFEST_FILES_H_
#define BPFPROXY_TESTS_MANIFESTS_MANIFEST_FILES_H_

#include <string>
#include <vector>

#include "yaml-cpp/yaml.h"

namespace bpfproxy::manifests {

// A document of a file under manifests/.
struct Manifest {
  std::string file;  // Relative to manifests/, e.g. "standalone/kube-proxy-configmap.yaml".
  YAML::Node doc;
};

// The repository's top directory.
std::string SourceDir();

// Every document of every *.yaml file under manifests/, in path order. A file
// that is not YAML fails the calling test (ADD_FAILURE) and is skipped.
std::vector<Manifest> LoadAll();

// The one document of |kind| named |name| in |file|; a failure if not exactly one.
YAML::Node Find(const std::vector<Manifest>& all, const std::string& file, const std::string& kind,
                const std::string& name);

// The container named |name| of a pod template's spec; Null if none.
YAML::Node Container(const YAML::Node& pod_spec, const std::string& name, bool init = false);

// |container|'s command line after the executable: command[1..] then args,
// with $(VAR) replaced by |env_values|' value for VAR.
std::vector<std::string> Arguments(const YAML::Node& container,
                                   const std::vector<std::pair<std::string, std::string>>& env_values);

// The file's whole text; empty if it cannot be read.
std::string ReadText(const std::string& path);

}  // namespace bpfproxy::manifests

#endif  // BPFPROXY_TESTS_MANIFESTS_MANIFEST_FILES_H_
