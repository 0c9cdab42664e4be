#include "proxy/ctl/cluster_fetch.h"

#include <utility>

#include "absl/container/btree_set.h"
#include "absl/strings/str_cat.h"
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

absl::Status FetchNode(k8s::ApiClient& client, const FetchOptions& options, Fetched& out) {
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

absl::StatusOr<Fetched> FetchExplainInput(k8s::ApiClient& client, const ExplainQuery& query,
                                          const FetchOptions& options) {
  Fetched out;
  out.input.node_name = options.node_name;
  out.input.service_proxy_name = options.service_proxy_name;
  absl::StatusOr<std::vector<IpAddress>> nodeports = SelectNodePortAddresses(
      options.node_addresses, options.nodeport_addresses_flag, PrimaryIps(options.bind_address));
  if (!nodeports.ok()) return nodeports.status();
  out.input.nodeport_addresses = *std::move(nodeports);
  out.input.localhost_nodeports =
      LocalhostNodePorts(options.nodeport_addresses_flag, options.iptables_localhost_nodeports);
  if (absl::Status s = FetchNode(client, options, out); !s.ok()) return s;
  if (absl::Status s = FetchServices(client, out); !s.ok()) return s;
  if (absl::Status s = FetchSlices(client, query, out); !s.ok()) return s;
  return out;
}

}  // namespace bpfproxy::ctl
