// Objects as text (--objects files, /emulator/bulk bodies): every accepted
// shape, YAML scalar typing, and rejected input.
#include <string>
#include <vector>

#include "e2e/apiserver/objects_file.h"
#include "gtest/gtest.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::e2e::apiserver {
namespace {

struct Case {
  std::string name;
  std::string text;
  std::string expected;  // JSON array of the objects
};

TEST(ObjectsFileTest, AcceptedShapesAllGiveTheSameObjects) {
  const std::string two = R"([{"kind":"Node","apiVersion":"v1","metadata":{"name":"a"}},
                              {"kind":"Node","apiVersion":"v1","metadata":{"name":"b"}}])";
  const std::vector<Case> cases = {
      {"JSON array", two, two},
      {"JSON List", R"({"kind":"List","apiVersion":"v1","items":)" + two + "}", two},
      {"JSON NodeList", R"({"kind":"NodeList","apiVersion":"v1","metadata":{},"items":)" + two + "}", two},
      {"YAML documents", "kind: Node\napiVersion: v1\nmetadata: {name: a}\n---\n---\n"
                         "kind: Node\napiVersion: v1\nmetadata:\n  name: b\n", two},
      {"YAML List", "kind: List\napiVersion: v1\nitems:\n- {kind: Node, apiVersion: v1, metadata: {name: a}}\n"
                    "- {kind: Node, apiVersion: v1, metadata: {name: b}}\n", two},
      {"one JSON object", R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"a"}})",
       R"([{"kind":"Node","apiVersion":"v1","metadata":{"name":"a"}}])"},
      {"empty YAML", "", "[]"},
  };
  for (const Case& c : cases) {
    ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> objects, ParseObjects(c.text));
    EXPECT_EQ(nlohmann::json(objects), nlohmann::json::parse(c.expected)) << c.name;
  }
}

TEST(ObjectsFileTest, YamlScalarsResolveLikeTheCoreSchema) {
  ASSERT_OK_AND_ASSIGN(std::vector<nlohmann::json> objects, ParseObjects(R"(
kind: Service
apiVersion: v1
spec:
  port: 80
  quoted: "80"
  single: '443'
  ratio: 0.5
  ready: true
  off: false
  none: null
  tilde: ~
  empty:
  ip: 10.96.0.1
  name: web
  block: |
    line
)"));
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_EQ(objects[0]["spec"], nlohmann::json::parse(R"({"port":80,"quoted":"80","single":"443","ratio":0.5,
    "ready":true,"off":false,"none":null,"tilde":null,"empty":null,"ip":"10.96.0.1","name":"web","block":"line\n"})"));
}

TEST(ObjectsFileTest, RejectsWhatIsNotObjects) {
  for (std::string text : {"{not json", "[1, 2]", "- just\n- strings\n", "key: [unclosed\n", "\"a string\""}) {
    EXPECT_FALSE(ParseObjects(text).ok()) << text;
  }
  EXPECT_FALSE(LoadObjectsFile("/nonexistent/objects.yaml").ok());
}

}  // namespace
}  // namespace bpfproxy::e2e::apiserver
