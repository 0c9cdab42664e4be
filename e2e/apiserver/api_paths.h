// Resource paths of the Kubernetes API:
//   /api/v1[/watch][/namespaces/{ns}]/{plural}[/{name}]
//   /apis/{group}/{version}[/watch][/namespaces/{ns}]/{plural}[/{name}]
#ifndef BPFPROXY_E2E_APISERVER_API_PATHS_H_
#define BPFPROXY_E2E_APISERVER_API_PATHS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "e2e/apiserver/resources.h"

namespace bpfproxy::e2e::apiserver {

struct ApiPath {
  Resource resource;
  std::string ns;    // empty: all namespaces (or a cluster-scoped resource)
  std::string name;  // empty: the collection
  bool watch_prefix = false;  // the legacy /watch/ form
};

// NotFound ("the server could not find the requested resource") for any
// path that is not a served resource.
absl::StatusOr<ApiPath> ParseApiPath(std::string_view path);

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_API_PATHS_H_
