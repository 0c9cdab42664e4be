// Objects given as text (the --objects file, /emulator/bulk bodies): a JSON
// object, a JSON array, a JSON List (`kind: ...List` with `items`), or YAML
// with one or more `---`-separated documents, each an object or a List.
// YAML scalars resolve like YAML 1.2's core schema: unquoted 80 is a
// number, true a boolean, null/~ null; quoted scalars stay strings.
#ifndef BPFPROXY_E2E_APISERVER_OBJECTS_FILE_H_
#define BPFPROXY_E2E_APISERVER_OBJECTS_FILE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::e2e::apiserver {

absl::StatusOr<std::vector<nlohmann::json>> ParseObjects(std::string_view text);
absl::StatusOr<std::vector<nlohmann::json>> LoadObjectsFile(const std::string& path);

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_OBJECTS_FILE_H_
