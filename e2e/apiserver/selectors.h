// Label and field selectors with the Kubernetes syntax and matching rules
// (k8s.io/apimachinery labels and fields packages).
//
// Labels: comma-separated requirements, all of which must hold:
//   key  !key  key=v  key==v  key!=v  key in (a,b)  key notin (a,b)  key>N  key<N
// `!=` and `notin` also match objects without the key, as upstream.
// Fields: comma-separated `field=v`, `field==v`, `field!=v` on
// metadata.name and metadata.namespace.
#ifndef BPFPROXY_E2E_APISERVER_SELECTORS_H_
#define BPFPROXY_E2E_APISERVER_SELECTORS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::e2e::apiserver {

class LabelSelector {
 public:
  enum class Op { kExists, kDoesNotExist, kIn, kNotIn, kGreaterThan, kLessThan };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;  // one for =, ==, !=, >, <
  };

  // The empty selector matches everything.
  static absl::StatusOr<LabelSelector> Parse(std::string_view text);

  bool Matches(const nlohmann::json& object) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

class FieldSelector {
 public:
  struct Term {
    std::string field;  // "metadata.name" or "metadata.namespace"
    bool equal;         // false for !=
    std::string value;
  };

  static absl::StatusOr<FieldSelector> Parse(std::string_view text);

  bool Matches(const nlohmann::json& object) const;
  bool empty() const { return terms_.empty(); }

 private:
  std::vector<Term> terms_;
};

// What a LIST or WATCH asks for: a namespace (empty = all) and selectors.
struct ObjectFilter {
  std::string ns;
  LabelSelector labels;
  FieldSelector fields;

  bool Matches(const nlohmann::json& object) const;
  bool HasSelectors() const { return !labels.empty() || !fields.empty(); }
};

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_SELECTORS_H_
