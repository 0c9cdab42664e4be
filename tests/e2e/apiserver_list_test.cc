// The emulator over HTTPS: authentication, objects, LIST with selectors and
// pagination, resourceVersion semantics, the /emulator/ controls.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/apiserver_test_util.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::e2e::apiserver::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

class ApiServerListTest : public EmulatorTest {
 protected:
  void SetUp() override { StartEmulator(); }

  // GET |target|, expecting |code|; the body as JSON.
  nlohmann::json GetJson(const std::string& target, int code = 200) {
    absl::StatusOr<Response> response = Client().Get(target);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok()) return nullptr;
    EXPECT_EQ(response->code, code) << target << ": " << response->body;
    EXPECT_EQ(response->headers["content-type"], "application/json");
    return response->Json();
  }

  static std::vector<std::string> Names(const nlohmann::json& list) {
    std::vector<std::string> names;
    for (const nlohmann::json& item : list["items"]) names.push_back(NameOf(item));
    return names;
  }
};

TEST_F(ApiServerListTest, RequestsWithoutTheRightBearerTokenGet401Status) {
  struct Case {
    std::string name, token;
  };
  for (const Case& c : {Case{"no token", ""}, Case{"wrong token", "nope"}, Case{"token prefix", pki().token + "x"}}) {
    for (std::string target : {"/api/v1/services", "/emulator/state"}) {
      ASSERT_OK_AND_ASSIGN(Response response, Client().WithToken(c.token).Get(target));
      EXPECT_EQ(response.code, 401) << c.name << " " << target;
      EXPECT_EQ(response.Json(), nlohmann::json::parse(R"({"kind":"Status","apiVersion":"v1","metadata":{},
        "status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})"))
          << c.name;
    }
  }
  ASSERT_OK_AND_ASSIGN(Response ok, Client().Get("/api/v1/services"));
  EXPECT_EQ(ok.code, 200);
}

TEST_F(ApiServerListTest, StoredObjectsCarryServerSetMetadata) {
  ASSERT_OK_AND_ASSIGN(nlohmann::json created, emulator().Apply(Service("default", "web")));
  nlohmann::json got = GetJson("/api/v1/namespaces/default/services/web");
  EXPECT_EQ(got["kind"], "Service");
  EXPECT_EQ(got["apiVersion"], "v1");
  EXPECT_EQ(got["metadata"]["uid"].get<std::string>().size(), 36u);
  EXPECT_THAT(got["metadata"]["creationTimestamp"].get<std::string>(), ::testing::MatchesRegex(
                                                                          "[0-9-]+T[0-9:]+Z"));
  EXPECT_EQ(got["metadata"]["generation"], 1);
  EXPECT_EQ(RvOf(got), emulator().ResourceVersion());
  EXPECT_EQ(got, created);

  nlohmann::json list = GetJson("/api/v1/services");
  EXPECT_EQ(list["kind"], "ServiceList");
  EXPECT_EQ(list["apiVersion"], "v1");
  EXPECT_EQ(list["metadata"]["resourceVersion"], absl::StrCat(emulator().ResourceVersion()));
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_FALSE(list["items"][0].contains("kind")) << "list items carry no kind, as upstream";
  EXPECT_FALSE(list["items"][0].contains("apiVersion"));
  EXPECT_EQ(list["items"][0]["metadata"], got["metadata"]);
}

TEST_F(ApiServerListTest, UpdatesKeepIdentityAndBumpGenerationOnlyForSpecChanges) {
  ASSERT_OK_AND_ASSIGN(nlohmann::json v1, emulator().Apply(Service("default", "web")));
  ASSERT_OK_AND_ASSIGN(nlohmann::json same, emulator().Apply(Service("default", "web")));
  EXPECT_EQ(RvOf(same), RvOf(v1)) << "a no-op update makes no new version";
  ASSERT_OK_AND_ASSIGN(nlohmann::json relabeled, emulator().Apply(Service("default", "web", {{"a", "b"}})));
  ASSERT_OK_AND_ASSIGN(nlohmann::json moved, emulator().Apply(Service("default", "web", {{"a", "b"}}, "10.96.0.99")));
  EXPECT_GT(RvOf(relabeled), RvOf(v1));
  EXPECT_GT(RvOf(moved), RvOf(relabeled));
  EXPECT_EQ(relabeled["metadata"]["generation"], 1);
  EXPECT_EQ(moved["metadata"]["generation"], 2);
  EXPECT_EQ(moved["metadata"]["uid"], v1["metadata"]["uid"]);
  EXPECT_EQ(moved["metadata"]["creationTimestamp"], v1["metadata"]["creationTimestamp"]);
}

TEST_F(ApiServerListTest, PagesOfAListAllComeFromTheFirstPagesSnapshot) {
  for (int i = 0; i < 7; ++i) ASSERT_OK(emulator().Apply(Service(i < 4 ? "a" : "b", absl::StrCat("svc-", i))).status());
  nlohmann::json first = GetJson("/api/v1/services?limit=3");
  std::string snapshot_rv = first["metadata"]["resourceVersion"];
  EXPECT_THAT(Names(first), ElementsAre("svc-0", "svc-1", "svc-2"));
  EXPECT_EQ(first["metadata"]["remainingItemCount"], 4);
  // Changes after the first page must not show up in the following pages.
  ASSERT_OK(emulator().Delete("services", "a", "svc-3").status());
  ASSERT_OK(emulator().Apply(Service("b", "svc-5", {{"changed", "yes"}})).status());
  ASSERT_OK(emulator().Apply(Service("b", "svc-9")).status());
  std::vector<std::string> names = Names(first);
  nlohmann::json page = first;
  int pages = 1;
  while (page["metadata"].contains("continue")) {
    page = GetJson(absl::StrCat("/api/v1/services?limit=3&continue=", page["metadata"]["continue"].get<std::string>()));
    EXPECT_EQ(page["metadata"]["resourceVersion"], snapshot_rv);
    for (const nlohmann::json& item : page["items"]) {
      names.push_back(NameOf(item));
      EXPECT_FALSE(item["metadata"].contains("labels")) << "svc-5 as it was in the snapshot";
    }
    ASSERT_LT(++pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(names, ElementsAre("svc-0", "svc-1", "svc-2", "svc-3", "svc-4", "svc-5", "svc-6"));
  EXPECT_THAT(Names(GetJson("/api/v1/namespaces/b/services?limit=10")), ElementsAre("svc-4", "svc-5", "svc-6", "svc-9"));
}

TEST_F(ApiServerListTest, LabelSelectorsFollowKubernetesSemantics) {
  ASSERT_OK(emulator().ApplyAll({Service("default", "web", {{"app", "web"}, {"tier", "front"}}),
                                 Service("default", "db", {{"app", "db"}}),
                                 Service("default", "plain"),
                                 Service("default", "headless", {{"service.kubernetes.io/headless", ""}}),
                                 Service("default", "other-proxy", {{"service.kubernetes.io/service-proxy-name", "x"}}),
                                 Service("default", "count", {{"replicas", "5"}})})
                .status());
  struct Case {
    std::string selector;
    std::vector<std::string> names;  // in key order
  };
  const std::vector<Case> cases = {
      {"", {"count", "db", "headless", "other-proxy", "plain", "web"}},
      {"app=web", {"web"}},
      {"app==web", {"web"}},
      {"app!=web", {"count", "db", "headless", "other-proxy", "plain"}},
      {"app", {"db", "web"}},
      {"!app", {"count", "headless", "other-proxy", "plain"}},
      {"app in (web,db)", {"db", "web"}},
      {"app notin (web)", {"count", "db", "headless", "other-proxy", "plain"}},
      {"app=web,tier=front", {"web"}},
      {"app=web,tier=back", {}},
      {"replicas>4", {"count"}},
      {"replicas<5", {}},
      {"!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name", {"count", "db", "plain", "web"}},
      {"service.kubernetes.io/service-proxy-name=x", {"other-proxy"}},
  };
  for (const Case& c : cases) {
    nlohmann::json list = GetJson(absl::StrCat("/api/v1/services?labelSelector=", UrlEncode(c.selector)));
    EXPECT_THAT(Names(list), ElementsAreArray(c.names)) << c.selector;
  }
}

TEST_F(ApiServerListTest, FieldSelectorsMatchNameAndNamespace) {
  ASSERT_OK(emulator().ApplyAll({Service("default", "a"), Service("kube-system", "a"), Service("kube-system", "b"),
                                 Node("node-1"), Node("node-2")})
                .status());
  struct Case {
    std::string path, selector;
    std::vector<std::string> names;
  };
  const std::vector<Case> cases = {
      {"/api/v1/services", "metadata.name=a", {"a", "a"}},
      {"/api/v1/services", "metadata.namespace!=default", {"a", "b"}},
      {"/api/v1/services", "metadata.namespace==kube-system,metadata.name!=a", {"b"}},
      {"/api/v1/namespaces/default/services", "metadata.namespace=kube-system", {}},
      {"/api/v1/nodes", "metadata.name=node-2", {"node-2"}},
      {"/api/v1/nodes", "metadata.namespace=", {"node-1", "node-2"}},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(Names(GetJson(absl::StrCat(c.path, "?fieldSelector=", UrlEncode(c.selector)))),
                ElementsAreArray(c.names))
        << c.path << "?" << c.selector;
  }
}

TEST_F(ApiServerListTest, MalformedSelectorsAre400) {
  for (std::string query : {"labelSelector=app in web", "labelSelector=a===b", "labelSelector=!",
                            "labelSelector=app in (web", "fieldSelector=spec.clusterIP=1", "fieldSelector=nonsense"}) {
    size_t eq = query.find('=');
    nlohmann::json status =
        GetJson(absl::StrCat("/api/v1/services?", query.substr(0, eq + 1), UrlEncode(query.substr(eq + 1))), 400);
    EXPECT_EQ(status["kind"], "Status") << query;
    EXPECT_EQ(status["reason"], "BadRequest") << query;
  }
}

TEST_F(ApiServerListTest, ResourcesAreServedAtTheirOwnPaths) {
  ASSERT_OK(emulator().ApplyAll({Service("ns1", "web"), EndpointSlice("ns1", "web-1", "web", "10.0.0.1"),
                                 EndpointSlice("ns2", "web-2", "web", "10.0.0.2"), Node("node-1")})
                .status());
  EXPECT_THAT(Names(GetJson("/apis/discovery.k8s.io/v1/endpointslices")), ElementsAre("web-1", "web-2"));
  nlohmann::json slices = GetJson("/apis/discovery.k8s.io/v1/namespaces/ns2/endpointslices");
  EXPECT_EQ(slices["kind"], "EndpointSliceList");
  EXPECT_EQ(slices["apiVersion"], "discovery.k8s.io/v1");
  EXPECT_THAT(Names(slices), ElementsAre("web-2"));
  nlohmann::json node = GetJson("/api/v1/nodes/node-1");
  EXPECT_EQ(node["kind"], "Node");
  EXPECT_FALSE(node["metadata"].contains("namespace"));
  for (std::string missing : {"/api/v1/namespaces/ns1/services/nope", "/api/v1/pods", "/api/v1/namespaces/x/nodes",
                              "/apis/discovery.k8s.io/v2/endpointslices", "/healthz"}) {
    EXPECT_EQ(GetJson(missing, 404)["reason"], "NotFound") << missing;
  }
  ASSERT_OK_AND_ASSIGN(Response post, Client().Request("POST", "/api/v1/namespaces/ns1/services", "{}"));
  EXPECT_EQ(post.code, 405);
}

TEST_F(ApiServerListTest, ExpiredContinueTokenIs410WithATokenToContinueInconsistently) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(emulator().Apply(Service("default", absl::StrCat("svc-", i))).status());
  nlohmann::json first = GetJson("/api/v1/services?limit=2");
  ASSERT_OK(emulator().Apply(Service("default", "svc-9")).status());
  emulator().Compact();
  std::string token = first["metadata"]["continue"];
  nlohmann::json expired = GetJson(absl::StrCat("/api/v1/services?limit=2&continue=", token), 410);
  EXPECT_EQ(expired["kind"], "Status");
  EXPECT_EQ(expired["reason"], "Expired");
  EXPECT_EQ(expired["code"], 410);
  ASSERT_TRUE(expired["metadata"].contains("continue"));
  nlohmann::json rest = GetJson(absl::StrCat("/api/v1/services?limit=10&continue=",
                                             expired["metadata"]["continue"].get<std::string>()));
  EXPECT_THAT(Names(rest), ElementsAre("svc-2", "svc-3", "svc-4", "svc-9"));
  EXPECT_EQ(rest["metadata"]["resourceVersion"], absl::StrCat(emulator().ResourceVersion()));
  EXPECT_EQ(GetJson("/api/v1/services?limit=2&continue=garbage", 400)["reason"], "BadRequest");
}

TEST_F(ApiServerListTest, ListResourceVersionSemantics) {
  ASSERT_OK_AND_ASSIGN(nlohmann::json a, emulator().Apply(Service("default", "a")));
  std::string rv_a = absl::StrCat(RvOf(a));
  ASSERT_OK(emulator().Apply(Service("default", "b")).status());
  std::string now = absl::StrCat(emulator().ResourceVersion()), future = absl::StrCat(emulator().ResourceVersion() + 5);
  EXPECT_THAT(Names(GetJson("/api/v1/services?resourceVersion=" + rv_a + "&resourceVersionMatch=Exact")), ElementsAre("a"));
  EXPECT_THAT(Names(GetJson("/api/v1/services?resourceVersion=" + rv_a + "&limit=5")), ElementsAre("a"))
      << "limit with a version and no match means Exact";
  EXPECT_THAT(Names(GetJson("/api/v1/services?resourceVersion=" + rv_a)), ElementsAre("a", "b"))
      << "a version without match or limit means NotOlderThan";
  EXPECT_THAT(Names(GetJson("/api/v1/services?resourceVersion=0")), ElementsAre("a", "b"));
  EXPECT_EQ(GetJson("/api/v1/services?resourceVersion=" + future + "&resourceVersionMatch=NotOlderThan", 504)["reason"],
            "Timeout");
  EXPECT_EQ(GetJson("/api/v1/services?resourceVersionMatch=Exact", 422)["reason"], "Invalid");
  EXPECT_EQ(GetJson("/api/v1/services?resourceVersion=" + now + "&resourceVersionMatch=Sometimes", 422)["reason"],
            "Invalid");
  emulator().Compact();
  nlohmann::json expired = GetJson("/api/v1/services?resourceVersion=" + rv_a + "&resourceVersionMatch=Exact", 410);
  EXPECT_EQ(expired["message"], absl::StrCat("too old resource version: ", rv_a, " (", now, ")"));
}

TEST_F(ApiServerListTest, ControlEndpointsCreateDeleteAndReportState) {
  TestClient client = Client();
  ASSERT_OK_AND_ASSIGN(Response created, client.Request("POST", "/emulator/objects", Service("default", "web").dump()));
  EXPECT_EQ(created.code, 200) << created.body;
  EXPECT_EQ(created.Json()["metadata"]["generation"], 1);
  const std::string yaml = R"(apiVersion: v1
kind: Node
metadata:
  name: node-1
  labels: {topology.kubernetes.io/zone: "1"}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: ["10.0.0.1"], conditions: {ready: true}}]
ports: [{name: http, port: 8080, protocol: TCP}]
)";
  ASSERT_OK_AND_ASSIGN(Response bulk, client.Request("POST", "/emulator/bulk", yaml));
  EXPECT_EQ(bulk.Json()["applied"], 2) << bulk.body;
  nlohmann::json slice = GetJson("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-1");
  EXPECT_EQ(slice["ports"][0]["port"], 8080) << "unquoted YAML numbers are numbers";
  EXPECT_EQ(GetJson("/api/v1/nodes/node-1")["metadata"]["labels"]["topology.kubernetes.io/zone"], "1");
  ASSERT_OK_AND_ASSIGN(Response deleted, client.Request("DELETE", "/emulator/objects/nodes/_/node-1"));
  EXPECT_EQ(deleted.code, 200);
  ASSERT_OK_AND_ASSIGN(Response again, client.Request("DELETE", "/emulator/objects/nodes/_/node-1"));
  EXPECT_EQ(again.code, 404);
  ASSERT_OK_AND_ASSIGN(Response bad, client.Request("POST", "/emulator/bulk", R"([{"kind":"Pod","apiVersion":"v1"}])"));
  EXPECT_EQ(bad.code, 400);
  ASSERT_OK_AND_ASSIGN(Response compacted, client.Request("POST", "/emulator/compact"));
  ASSERT_OK_AND_ASSIGN(Response state, client.Get("/emulator/state"));
  EXPECT_EQ(state.Json(), nlohmann::json({{"resourceVersion", absl::StrCat(emulator().ResourceVersion())},
                                          {"compactedResourceVersion", absl::StrCat(emulator().ResourceVersion())},
                                          {"openWatches", 0}}));
  EXPECT_EQ(compacted.Json()["compactedResourceVersion"], state.Json()["resourceVersion"]);
}

}  // namespace
}  // namespace bpfproxy::e2e::apiserver::testing
