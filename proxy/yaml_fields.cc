#include "proxy/yaml_fields.h"

#include <regex>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proxy/config_values.h"
#include "yaml-cpp/yaml.h"

namespace bpfproxy::yaml_fields {
namespace {

// What JSON type a YAML scalar becomes when sigs.k8s.io/yaml converts the
// document (go-yaml v2's resolution: YAML 1.1 booleans such as yes/on).
enum class ScalarType { kNull, kBool, kInt, kFloat, kString };

ScalarType Classify(const YAML::Node& node) {
  if (node.IsNull()) return ScalarType::kNull;
  const std::string& tag = node.Tag();
  const std::string& s = node.Scalar();
  if (tag == "tag:yaml.org,2002:bool") return ScalarType::kBool;
  if (tag == "tag:yaml.org,2002:int") return ScalarType::kInt;
  if (tag == "tag:yaml.org,2002:float") return ScalarType::kFloat;
  if (tag != "?") return ScalarType::kString;  // Quoted, or !!str.
  static const std::regex* kBool = new std::regex(
      "y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|"
      "on|On|ON|off|Off|OFF");
  static const std::regex* kInt = new std::regex("[-+]?[0-9]+|0x[0-9a-fA-F]+");
  static const std::regex* kFloat =
      new std::regex("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
  if (std::regex_match(s, *kBool)) return ScalarType::kBool;
  if (std::regex_match(s, *kInt)) return ScalarType::kInt;
  if (std::regex_match(s, *kFloat)) return ScalarType::kFloat;
  return ScalarType::kString;
}

bool TrueWord(const std::string& s) {
  for (const char* t : {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}) {
    if (s == t) return true;
  }
  return false;
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return Classify(node) == ScalarType::kString ? absl::StrCat("\"", node.Scalar(), "\"") : node.Scalar();
  }
}

std::string Flow(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

}  // namespace

class Decoder {
 public:
  explicit Decoder(Document& doc) : doc_(doc) {}

  absl::Status Object(const YAML::Node& node, const std::vector<Field>& fields, const std::string& prefix) {
    if (node.IsNull()) return absl::OkStatus();
    if (!node.IsMap()) return Mismatch(prefix.empty() ? "the document" : prefix, "a map", node);
    absl::btree_map<std::string, int> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string name = it->first.IsScalar() ? it->first.Scalar() : Flow(it->first);
      std::string path = prefix.empty() ? name : absl::StrCat(prefix, ".", name);
      if (++seen[name] == 2) doc_.strict_errors_.push_back(absl::StrCat("duplicate field \"", path, "\""));
      const Field* field = FindField(fields, name);
      if (field == nullptr) {
        doc_.strict_errors_.push_back(absl::StrCat("unknown field \"", path, "\""));
        continue;
      }
      // As in Go's JSON decoding, a later duplicate wins.
      if (absl::Status s = One(it->second, *field, path); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  static const Field* FindField(const std::vector<Field>& fields, const std::string& name) {
    for (const Field& f : fields) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }

  static absl::Status Mismatch(const std::string& path, absl::string_view expected, const YAML::Node& got) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected ", expected, ", got ", Describe(got)));
  }

  void Store(const std::string& path, Value value, const YAML::Node& node) {
    doc_.values_.erase(path);
    doc_.values_.emplace(path, Document::Entry{std::move(value), node.IsScalar() ? node.Scalar() : Flow(node)});
  }

  absl::Status One(const YAML::Node& node, const Field& field, const std::string& path) {
    if (node.IsNull()) {
      doc_.values_.erase(path);  // null: unset, the default applies.
      return absl::OkStatus();
    }
    switch (field.kind) {
      case Kind::kObject:
        return Object(node, field.fields, path);
      case Kind::kObjectList:
        return ObjectList(node, field, path);
      case Kind::kStringList:
        return StringList(node, path);
      case Kind::kBoolMap:
        return BoolMap(node, path);
      default:
        if (!node.IsScalar()) return Mismatch(path, "a single value", node);
        return Scalar(node, field.kind, path);
    }
  }

  absl::Status Scalar(const YAML::Node& node, Kind kind, const std::string& path) {
    ScalarType type = Classify(node);
    const std::string& s = node.Scalar();
    switch (kind) {
      case Kind::kString:
        if (type != ScalarType::kString) return Mismatch(path, "a string (quote it)", node);
        Store(path, s, node);
        return absl::OkStatus();
      case Kind::kQuantity:
        if (type != ScalarType::kString && type != ScalarType::kInt && type != ScalarType::kFloat) {
          return Mismatch(path, "a quantity such as \"64Ki\"", node);
        }
        Store(path, s, node);
        return absl::OkStatus();
      case Kind::kBool:
        if (type != ScalarType::kBool) return Mismatch(path, "true or false", node);
        Store(path, TrueWord(s), node);
        return absl::OkStatus();
      case Kind::kInt: {
        absl::StatusOr<int64_t> v = ParseIntInRange(s, INT32_MIN, INT32_MAX);
        if (type != ScalarType::kInt || !v.ok()) return Mismatch(path, "a 32-bit integer", node);
        Store(path, *v, node);
        return absl::OkStatus();
      }
      case Kind::kFloat: {
        double v = 0;
        if ((type != ScalarType::kInt && type != ScalarType::kFloat) || !absl::SimpleAtod(s, &v)) {
          return Mismatch(path, "a number", node);
        }
        Store(path, v, node);
        return absl::OkStatus();
      }
      case Kind::kDuration:
      case Kind::kIntOrDuration:
        return Duration(node, type, kind, path);
      default:
        return absl::InternalError(absl::StrCat(path, ": not a scalar kind"));
    }
  }

  absl::Status Duration(const YAML::Node& node, ScalarType type, Kind kind, const std::string& path) {
    int64_t ns = 0;
    if (kind == Kind::kIntOrDuration && type == ScalarType::kInt && absl::SimpleAtoi(node.Scalar(), &ns)) {
      Store(path, absl::Nanoseconds(ns), node);
      return absl::OkStatus();
    }
    if (type != ScalarType::kString) return Mismatch(path, "a duration string such as \"30s\"", node);
    absl::StatusOr<absl::Duration> d = ParseGoDuration(node.Scalar());
    if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", d.status().message()));
    Store(path, *d, node);
    return absl::OkStatus();
  }

  absl::Status StringList(const YAML::Node& node, const std::string& path) {
    if (!node.IsSequence()) return Mismatch(path, "a list of strings", node);
    std::vector<std::string> items;
    for (size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsScalar() || Classify(node[i]) != ScalarType::kString) {
        return Mismatch(absl::StrCat(path, "[", i, "]"), "a string (quote it)", node[i]);
      }
      items.push_back(node[i].Scalar());
    }
    Store(path, std::move(items), node);
    return absl::OkStatus();
  }

  absl::Status BoolMap(const YAML::Node& node, const std::string& path) {
    if (!node.IsMap()) return Mismatch(path, "a map of names to true or false", node);
    absl::btree_map<std::string, bool> map;
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string name = it->first.Scalar();
      if (!it->second.IsScalar() || Classify(it->second) != ScalarType::kBool) {
        return Mismatch(absl::StrCat(path, ".", name), "true or false", it->second);
      }
      map[name] = TrueWord(it->second.Scalar());
    }
    Store(path, std::move(map), node);
    return absl::OkStatus();
  }

  absl::Status ObjectList(const YAML::Node& node, const Field& field, const std::string& path) {
    if (!node.IsSequence()) return Mismatch(path, "a list", node);
    for (size_t i = 0; i < node.size(); ++i) {
      if (absl::Status s = Object(node[i], field.fields, absl::StrCat(path, "[", i, "]")); !s.ok()) return s;
    }
    Store(path, static_cast<int64_t>(node.size()), node);
    return absl::OkStatus();
  }

  Document& doc_;
};

absl::StatusOr<Document> Document::Decode(absl::string_view yaml, const std::vector<Field>& schema) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("not YAML: line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  }
  if (root.IsNull()) return absl::InvalidArgumentError("the document is empty");
  Document doc;
  Decoder decoder(doc);
  if (absl::Status s = decoder.Object(root, schema, ""); !s.ok()) return s;
  return doc;
}

std::string Document::Text(const std::string& path) const {
  auto it = values_.find(path);
  return it == values_.end() ? "" : it->second.text;
}

}  // namespace bpfproxy::yaml_fields
