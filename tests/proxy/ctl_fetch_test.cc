// What `bpfproxyctl explain` lists from the API server (proxy/ctl/
// cluster_fetch.h): the Node by name, every Service (all pages), and the
// EndpointSlices of only the Services that match the query; objects that do
// not decode are skipped with a warning, as the daemon skips them.
#include "proxy/ctl/cluster_fetch.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/k8s/objects_fixtures.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::ctl {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Answers LISTs by "path?labelSelector&fieldSelector" from pages set up by
// the test (the continue token picks the page), and records every request.
class PathApiClient : public k8s::ApiClient {
 public:
  void Serve(const std::string& key, std::vector<std::vector<json>> pages) { pages_[key] = std::move(pages); }
  const std::vector<std::string>& requests() const { return requests_; }

  absl::StatusOr<k8s::ListPage> List(const k8s::ResourceRequest& request, int64_t limit,
                                     const std::string& continue_token) override {
    const std::string key = absl::StrCat(request.path, "?", request.label_selector, "&", request.field_selector);
    requests_.push_back(continue_token.empty() ? key : absl::StrCat(key, " continue=", continue_token));
    auto it = pages_.find(key);
    if (it == pages_.end()) return k8s::ApiError(403, "Forbidden", "not allowed: " + key);
    const size_t page = continue_token.empty() ? 0 : std::stoul(continue_token);
    k8s::ListPage out{.items = it->second[page], .resource_version = "7"};
    if (page + 1 < it->second.size()) out.continue_token = absl::StrCat(page + 1);
    return out;
  }
  absl::StatusOr<std::unique_ptr<k8s::WatchStream>> Watch(const k8s::ResourceRequest&, const std::string&,
                                                          absl::Duration) override {
    return absl::UnimplementedError("explain never watches");
  }

 private:
  std::map<std::string, std::vector<std::vector<json>>> pages_;
  std::vector<std::string> requests_;
};

constexpr char kNodes[] = "/api/v1/nodes?&metadata.name=node-a";
constexpr char kServices[] = "/api/v1/services?&";

json Service(const std::string& name, const std::string& ip) {
  return k8s::testing::MakeService("default", name, {ip}, {{"http", 80, "TCP", 8080}});
}

TEST(FetchExplainInputTest, ListsTheNodeEveryServiceAndTheMatchingServicesSlices) {
  PathApiClient client;
  client.Serve(kNodes, {{k8s::testing::MakeNode("node-a", "zone-a")}});
  json broken = Service("broken", "10.96.0.99");
  broken["spec"]["ports"][0]["port"] = "eighty";
  client.Serve(kServices, {{Service("web", "10.96.0.10"), broken}, {Service("db", "10.96.0.11")}});
  client.Serve("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?kubernetes.io/service-name=web&",
               {{k8s::testing::MakeSlice("default", "web-1", "web", "IPv4", {{"http", 8080}},
                                         {k8s::testing::Ready("10.244.1.1")})}});
  ASSERT_OK_AND_ASSIGN(
      Fetched fetched,
      FetchExplainInput(client, ExplainQuery::Parse("10.96.0.10:80").value(),
                        {.node_name = "node-a",
                         .node_addresses = {IpAddress::Parse("192.168.1.2").value(),
                                            IpAddress::Parse("10.0.0.2").value()},
                         .nodeport_addresses_flag = {"primary"},
                         .bind_address = "10.0.0.2"}));
  EXPECT_THAT(client.requests(),
              ElementsAre(kNodes, kServices, std::string(kServices) + " continue=1",
                          "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?kubernetes.io/"
                          "service-name=web&"));
  ASSERT_TRUE(fetched.input.node.has_value());
  EXPECT_EQ(fetched.input.node->zone, "zone-a");
  // "primary": --bind-address overrides the first node address, as in the daemon.
  EXPECT_THAT(fetched.input.nodeport_addresses, ElementsAre(IpAddress::Parse("10.0.0.2").value()));
  EXPECT_FALSE(fetched.input.localhost_nodeports);
  EXPECT_EQ(fetched.input.services.size(), 2u);
  EXPECT_EQ(fetched.input.slices.size(), 1u);
  EXPECT_THAT(fetched.warnings, ElementsAre(HasSubstr("skipped: Service default/broken")));
}

TEST(FetchExplainInputTest, AnApiErrorNamesWhatFailed) {
  PathApiClient client;
  absl::StatusOr<Fetched> fetched =
      FetchExplainInput(client, ExplainQuery::Parse("10.96.0.10:80").value(), {.node_name = "node-a"});
  ASSERT_FALSE(fetched.ok());
  EXPECT_THAT(fetched.status().message(), HasSubstr("list nodes: HTTP 403 (Forbidden)"));
}

TEST(FetchExplainInputTest, BadNodePortAddressesAreAnError) {
  PathApiClient client;
  client.Serve(kNodes, {{}});
  absl::StatusOr<Fetched> fetched = FetchExplainInput(
      client, ExplainQuery::Parse("10.96.0.10:80").value(), {.node_name = "node-a", .nodeport_addresses_flag = {"x"}});
  EXPECT_FALSE(fetched.ok());
}

}  // namespace
}  // namespace bpfproxy::ctl
