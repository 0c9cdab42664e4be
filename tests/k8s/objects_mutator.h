// Random, reproducible mutations of JSON objects for the fuzz-style tests of
// the decoders and the ServiceTracker.
#ifndef BPFPROXY_TESTS_K8S_OBJECTS_MUTATOR_H_
#define BPFPROXY_TESTS_K8S_OBJECTS_MUTATOR_H_

#include <cstdint>
#include <random>
#include <vector>

#include "nlohmann/json.hpp"

namespace bpfproxy::k8s::testing {

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  // One mutation at a random node: replaced by a hostile value, removed,
  // duplicated inside its array, or replaced by another node's subtree.
  void Mutate(nlohmann::json& object);

  // Every node's pointer, the root ("") first.
  static std::vector<nlohmann::json::json_pointer> AllPointers(const nlohmann::json& object);
  // Wrong types, edge numbers, near-miss strings (bad IPs, enum spellings,
  // invalid UTF-8), empty and nested containers.
  static const std::vector<nlohmann::json>& HostileValues();

 private:
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  std::mt19937_64 rng_;
};

}  // namespace bpfproxy::k8s::testing

#endif  // BPFPROXY_TESTS_K8S_OBJECTS_MUTATOR_H_
