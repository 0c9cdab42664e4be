#include "e2e/apiserver/resources.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "e2e/apiserver/string_compat.h"

namespace bpfproxy::e2e::apiserver {
namespace {

constexpr ResourceInfo kResources[] = {
    {Resource::kServices, "", "v1", "services", "Service", "ServiceList", true},
    {Resource::kEndpointSlices, "discovery.k8s.io", "v1", "endpointslices", "EndpointSlice",
     "EndpointSliceList", true},
    {Resource::kNodes, "", "v1", "nodes", "Node", "NodeList", false},
};

std::string StringField(const nlohmann::json& object, const char* field) {
  auto it = object.find(field);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string ResourceInfo::ApiVersion() const {
  return group.empty() ? std::string(version) : absl::StrCat(AbslView(group), "/", AbslView(version));
}

absl::Span<const ResourceInfo> AllResources() { return kResources; }

const ResourceInfo& InfoOf(Resource resource) {
  for (const ResourceInfo& info : kResources) {
    if (info.resource == resource) return info;
  }
  return kResources[0];  // unreachable: every enumerator is in the table
}

std::optional<Resource> ResourceByPath(std::string_view group, std::string_view version,
                                       std::string_view plural) {
  for (const ResourceInfo& info : kResources) {
    if (info.group == group && info.version == version && info.plural == plural) return info.resource;
  }
  return std::nullopt;
}

std::optional<Resource> ResourceByPlural(std::string_view plural) {
  for (const ResourceInfo& info : kResources) {
    if (info.plural == plural) return info.resource;
  }
  return std::nullopt;
}

std::optional<Resource> ResourceByKind(std::string_view api_version, std::string_view kind) {
  for (const ResourceInfo& info : kResources) {
    if (info.kind == kind && info.ApiVersion() == api_version) return info.resource;
  }
  return std::nullopt;
}

std::string ObjectKey(const ResourceInfo& info, std::string_view ns, std::string_view name) {
  return info.namespaced ? absl::StrCat(AbslView(ns), "/", AbslView(name)) : std::string(name);
}

absl::StatusOr<ObjectIdentity> IdentifyObject(nlohmann::json& object) {
  if (!object.is_object()) return absl::InvalidArgumentError("object is not a JSON object");
  std::string api_version = StringField(object, "apiVersion"), kind = StringField(object, "kind");
  std::optional<Resource> resource = ResourceByKind(api_version, kind);
  if (!resource) {
    return absl::InvalidArgumentError(
        absl::StrCat("no resource served for kind \"", kind, "\" in apiVersion \"", api_version, "\""));
  }
  nlohmann::json& metadata = object["metadata"];
  if (!metadata.is_object()) return absl::InvalidArgumentError("metadata must be an object");
  ObjectIdentity id{*resource, StringField(metadata, "namespace"), StringField(metadata, "name"), ""};
  if (id.name.empty() || id.name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError("metadata.name must be a non-empty name without '/'");
  }
  const ResourceInfo& info = InfoOf(*resource);
  if (!info.namespaced) {
    id.ns.clear();
    metadata.erase("namespace");
  } else {
    if (id.ns.empty()) id.ns = "default";
    if (id.ns.find('/') != std::string::npos) return absl::InvalidArgumentError("invalid metadata.namespace");
    metadata["namespace"] = id.ns;
  }
  id.key = ObjectKey(info, id.ns, id.name);
  return id;
}

}  // namespace bpfproxy::e2e::apiserver
