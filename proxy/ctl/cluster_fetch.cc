#include "proxy/ctl/cluster_fetch.h"

#include <utility>

#include "absl/container/btree_set.h"
#include "absl/strings/str_cat.h"
#include "proxy/ip_prefix.h"
#include "proxy/node_addresses.h"

namespace bpfproxy::ctl {
namespace {

// Pages of 500, as kubectl lists.
constexpr int64_t kPageSize = 500;

absl::StatusOr<std::vector<nlohmann::json>> ListAll(k8s::ApiClient& client, const k8s::ResourceRequest& request) {
  std::vector<nlohmann::json> items;
  std::string continue_token;
  do {
    absl::StatusOr<k8s::ListPage> page = client.List(request, kPageSize, continue_token);
    if (!page.ok()) {
      return absl::Status(page.status().code(),
                          absl::StrCat("list ", request.name_for_logs, ": ", page.status().message()));
    }
    for (nlohmann::json& item : page->items) items.push_back(std::move(item));
    continue_token = page->continue_token;
  } while (!continue_token.empty());
  return items;
}

absl::Status FetchNode(k8s::ApiClient& client, const FetchOptions& options, Fetched& out,
                       std::vector<IpAddress>& internal_ips) {
  absl::StatusOr<std::vector<nlohmann::json>> nodes =
      ListAll(client, {.path = "/api/v1/nodes",
                       .field_selector = absl::StrCat("metadata.name=", options.node_name),
                       .name_for_logs = "nodes"});
  if (!nodes.ok()) return nodes.status();
  for (const nlohmann::json& object : *nodes) {
    absl::StatusOr<k8s::Node> node = k8s::DecodeNode(object);
    if (!node.ok()) {
      out.warnings.push_back(std::string(node.status().message()));
      continue;
    }
    if (node->meta.name != options.node_name) continue;
    internal_ips = NodeInternalIps(object);
    out.input.node = *std::move(node);
  }
  return absl::OkStatus();
}

absl::Status FetchServices(k8s::ApiClient& client, Fetched& out) {
  absl::StatusOr<std::vector<nlohmann::json>> services =
      ListAll(client, {.path = "/api/v1/services", .name_for_logs = "services"});
  if (!services.ok()) return services.status();
  for (const nlohmann::json& object : *services) {
    absl::StatusOr<k8s::Service> service = k8s::DecodeService(object);
    if (!service.ok()) {
      out.warnings.push_back(absl::StrCat("skipped: ", service.status().message()));
      continue;
    }
    out.input.services.push_back(*std::move(service));
  }
  return absl::OkStatus();
}

absl::Status FetchSlices(k8s::ApiClient& client, const ExplainQuery& query, Fetched& out) {
  absl::btree_set<std::pair<std::string, std::string>> wanted;
  for (const FrontendMatch& match : MatchFrontends(query, out.input)) {
    wanted.insert({match.service->meta.namespace_, match.service->meta.name});
  }
  for (const auto& [ns, name] : wanted) {
    absl::StatusOr<std::vector<nlohmann::json>> slices =
        ListAll(client, {.path = absl::StrCat("/apis/discovery.k8s.io/v1/namespaces/", ns, "/endpointslices"),
                         .label_selector = absl::StrCat(k8s::kLabelServiceName, "=", name),
                         .name_for_logs = absl::StrCat("endpointslices of ", ns, "/", name)});
    if (!slices.ok()) return slices.status();
    for (const nlohmann::json& object : *slices) {
      absl::StatusOr<k8s::EndpointSlice> slice = k8s::DecodeEndpointSlice(object);
      if (!slice.ok()) {
        out.warnings.push_back(absl::StrCat("skipped: ", slice.status().message()));
        continue;
      }
      out.input.slices.push_back(*std::move(slice));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<IpAddress> NodeInternalIps(const nlohmann::json& node) {
  std::vector<IpAddress> ips;
  const nlohmann::json* addresses = nullptr;
  if (auto status = node.find("status"); status != node.end() && status->is_object()) {
    if (auto it = status->find("addresses"); it != status->end() && it->is_array()) addresses = &*it;
  }
  if (addresses == nullptr) return ips;
  for (const nlohmann::json& entry : *addresses) {
    if (!entry.is_object() || entry.value("type", nlohmann::json()) != "InternalIP") continue;
    const nlohmann::json address = entry.value("address", nlohmann::json());
    if (!address.is_string()) continue;
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(address.get<std::string>());
    if (ip.ok()) ips.push_back(*ip);
  }
  return ips;
}

bool LocalhostNodePorts(const std::vector<std::string>& nodeport_addresses_flag) {
  if (nodeport_addresses_flag.empty()) return true;
  const IpAddress localhost = IpAddress::Parse("127.0.0.1").value();
  for (const std::string& value : nodeport_addresses_flag) {
    absl::StatusOr<IpPrefix> prefix = ParseIpPrefix(value);
    if (prefix.ok() && PrefixContains(*prefix, localhost)) return true;
  }
  return false;
}

absl::StatusOr<Fetched> FetchExplainInput(k8s::ApiClient& client, const ExplainQuery& query,
                                          const FetchOptions& options) {
  Fetched out;
  out.input.node_name = options.node_name;
  out.input.service_proxy_name = options.service_proxy_name;
  std::vector<IpAddress> internal_ips;
  if (absl::Status s = FetchNode(client, options, out, internal_ips); !s.ok()) return s;
  absl::StatusOr<std::vector<IpAddress>> nodeports =
      SelectNodePortAddresses(options.node_addresses, options.nodeport_addresses_flag, internal_ips);
  if (!nodeports.ok()) return nodeports.status();
  out.input.nodeport_addresses = *std::move(nodeports);
  out.input.localhost_nodeports = LocalhostNodePorts(options.nodeport_addresses_flag);
  if (absl::Status s = FetchServices(client, out); !s.ok()) return s;
  if (absl::Status s = FetchSlices(client, query, out); !s.ok()) return s;
  return out;
}

}  // namespace bpfproxy::ctl
