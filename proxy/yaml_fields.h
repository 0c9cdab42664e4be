// Decoding a Kubernetes component configuration document (YAML) against a
// schema, the way apimachinery does for kube-proxy: YAML is read as JSON
// would be (a plain 30 is a number, "30" and 30s are strings), a value of the
// wrong type is an error naming its field, and what strict decoding refuses
// (an unknown field, a field given twice) is a warning: kube-proxy decodes
// v1alpha1 leniently when strict decoding fails, and logs why.
#ifndef BPFPROXY_PROXY_YAML_FIELDS_H_
#define BPFPROXY_PROXY_YAML_FIELDS_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace bpfproxy::yaml_fields {

enum class Kind {
  kString,
  kBool,
  kInt,            // int32
  kFloat,          // a number
  kDuration,       // metav1.Duration: a string such as "30s"
  kIntOrDuration,  // a string duration, or an integer of nanoseconds
  kQuantity,       // resource.Quantity: a string or a number
  kStringList,     // a sequence of strings
  kBoolMap,        // a map of names to booleans (featureGates)
  kObject,         // a map with the given fields
  kObjectList,     // a sequence of maps with the given fields
};

struct Field {
  std::string name;
  Kind kind;
  std::vector<Field> fields;  // For kObject and kObjectList.
};

// A field's value: the string of a kString or kQuantity, bool, int64_t
// (kInt, and the item count of a kObjectList), double, absl::Duration, a
// list, a map; objects have no value of their own.
using Value = std::variant<std::monostate, std::string, bool, int64_t, double, absl::Duration, std::vector<std::string>,
                           absl::btree_map<std::string, bool>>;

// The fields a document gave (present and not null), by path:
// "iptables.syncPeriod", "logging.vmodule[0].filePattern".
class Document {
 public:
  // Errors name the field: `iptables.syncPeriod: expected a duration string
  // such as "30s", got 30`.
  static absl::StatusOr<Document> Decode(absl::string_view yaml, const std::vector<Field>& schema);

  bool Has(const std::string& path) const { return values_.contains(path); }
  // The value at |path|, or |fallback| when absent or null. The type is the
  // schema's, so a mismatch here is a bug in the caller.
  template <typename T>
  T Get(const std::string& path, T fallback) const {
    auto it = values_.find(path);
    return it == values_.end() ? fallback : std::get<T>(it->second.value);
  }
  // The value as written, for messages ("true", "30s", "[a, b]").
  std::string Text(const std::string& path) const;
  // What kube-proxy's strict decoding refuses, one line each:
  //   unknown field "udpIdleTimeout"
  //   duplicate field "mode"
  const std::vector<std::string>& strict_errors() const { return strict_errors_; }

 private:
  struct Entry {
    Value value;
    std::string text;
  };
  friend class Decoder;
  absl::btree_map<std::string, Entry> values_;
  std::vector<std::string> strict_errors_;
};

}  // namespace bpfproxy::yaml_fields

#endif  // BPFPROXY_PROXY_YAML_FIELDS_H_
