// The resources the emulator serves and how their objects are keyed.
#ifndef BPFPROXY_E2E_APISERVER_RESOURCES_H_
#define BPFPROXY_E2E_APISERVER_RESOURCES_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::e2e::apiserver {

enum class Resource { kServices, kEndpointSlices, kNodes };

struct ResourceInfo {
  Resource resource;
  std::string_view group;      // "" for the core group
  std::string_view version;    // "v1"
  std::string_view plural;     // "services": the path segment
  std::string_view kind;       // "Service"
  std::string_view list_kind;  // "ServiceList"
  bool namespaced;

  // "v1" for the core group, "discovery.k8s.io/v1" otherwise.
  std::string ApiVersion() const;
};

absl::Span<const ResourceInfo> AllResources();
const ResourceInfo& InfoOf(Resource resource);
std::optional<Resource> ResourceByPath(std::string_view group, std::string_view version,
                                       std::string_view plural);
std::optional<Resource> ResourceByPlural(std::string_view plural);
std::optional<Resource> ResourceByKind(std::string_view api_version, std::string_view kind);

// Key of an object in the store, ordered like the real API server's etcd keys
// ("<namespace>/<name>", or "<name>" for cluster-scoped resources) so that
// lists and continue tokens walk objects in the same order.
std::string ObjectKey(const ResourceInfo& info, std::string_view ns, std::string_view name);

// Identifies an object given to the emulator: resource from kind/apiVersion,
// metadata.name required, metadata.namespace defaulted to "default" for
// namespaced resources and cleared for cluster-scoped ones (both in |object|).
struct ObjectIdentity {
  Resource resource;
  std::string ns;
  std::string name;
  std::string key;
};
absl::StatusOr<ObjectIdentity> IdentifyObject(nlohmann::json& object);

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_RESOURCES_H_
