// Random mutations of real objects: the decoders answer OK or
// InvalidArgument, never anything else, never throw, never crash.
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "k8s/objects.h"
#include "tests/k8s/objects_fixtures.h"
#include "tests/k8s/objects_mutator.h"

namespace bpfproxy::k8s {
namespace {

using json = nlohmann::json;

void ExpectOkOrInvalid(const absl::Status& status, const json& input) {
  if (status.ok() || status.code() == absl::StatusCode::kInvalidArgument) return;
  ADD_FAILURE() << status << "\ninput: " << input.dump(-1, ' ', false, json::error_handler_t::replace);
}

TEST(DecodeFuzzTest, RandomMutationsOfEveryFixtureNeverCrash) {
  const std::vector<json> fixtures = {
      testing::ClusterIpServiceFixture(), testing::LoadBalancerServiceFixture(), testing::ExternalNameServiceFixture(),
      testing::HeadlessServiceFixture(),  testing::EndpointSliceFixture(),       testing::NodeFixture(),
  };
  testing::Mutator mutator(/*seed=*/20240501);
  size_t decoded_ok = 0, rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    json object = fixtures[round % fixtures.size()];
    const int mutations = 1 + round % 3;
    for (int i = 0; i < mutations; ++i) mutator.Mutate(object);
    // Every decoder sees every mutant: a Node fed to the Service decoder
    // is malformed input too.
    for (const absl::Status& status : {DecodeService(object).status(), DecodeEndpointSlice(object).status(),
                                       DecodeNode(object).status(), DecodeObjectMeta(object, "Service").status()}) {
      ExpectOkOrInvalid(status, object);
      (status.ok() ? decoded_ok : rejected)++;
    }
  }
  // The mutations must exercise both outcomes to mean anything.
  EXPECT_GT(decoded_ok, 1000u);
  EXPECT_GT(rejected, 1000u);
}

TEST(DecodeFuzzTest, HostileScalarsEverywhere) {
  // Each scalar in turn replaces every node of every fixture.
  for (const json& fixture :
       {testing::LoadBalancerServiceFixture(), testing::EndpointSliceFixture(), testing::NodeFixture()}) {
    for (const json::json_pointer& pointer : testing::Mutator::AllPointers(fixture)) {
      for (const json& value : testing::Mutator::HostileValues()) {
        json object = fixture;
        if (pointer.empty()) {
          object = value;
        } else {
          object[pointer] = value;
        }
        ExpectOkOrInvalid(DecodeService(object).status(), object);
        ExpectOkOrInvalid(DecodeEndpointSlice(object).status(), object);
        ExpectOkOrInvalid(DecodeNode(object).status(), object);
      }
    }
  }
}

}  // namespace
}  // namespace bpfproxy::k8s
