#include "e2e/apiserver/objects_file.h"

#include <fstream>
#include <regex>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace bpfproxy::e2e::apiserver {
namespace {

nlohmann::json PlainScalar(const std::string& text) {
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (text == "null" || text == "Null" || text == "NULL" || text == "~") return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  int64_t integer = 0;
  if (absl::SimpleAtoi(text, &integer) && !absl::StrContains(text, ' ')) return integer;
  double real = 0;
  if (std::regex_match(text, kFloat) && absl::SimpleAtod(text, &real)) return real;
  return text;
}

nlohmann::json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      // "!" marks a quoted or block scalar: always a string.
      return node.Tag() == "!" ? nlohmann::json(node.Scalar()) : PlainScalar(node.Scalar());
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const YAML::Node& item : node) array.push_back(YamlToJson(item));
      return array;
    }
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& entry : node) object[entry.first.as<std::string>()] = YamlToJson(entry.second);
      return object;
    }
    default:
      return nullptr;
  }
}

absl::Status Append(const nlohmann::json& value, std::vector<nlohmann::json>& out) {
  if (value.is_null()) return absl::OkStatus();  // an empty YAML document
  if (value.is_array()) {
    for (const nlohmann::json& item : value) {
      if (absl::Status status = Append(item, out); !status.ok()) return status;
    }
    return absl::OkStatus();
  }
  if (!value.is_object()) return absl::InvalidArgumentError("expected an object or a list of objects");
  auto items = value.find("items");
  if (absl::EndsWith(value.value("kind", ""), "List") && items != value.end() && items->is_array()) {
    return Append(*items, out);
  }
  out.push_back(value);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<nlohmann::json>> ParseYaml(const std::string& text) {
  std::vector<nlohmann::json> out;
  try {
    for (const YAML::Node& document : YAML::LoadAll(text)) {
      if (absl::Status status = Append(YamlToJson(document), out); !status.ok()) return status;
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid YAML: ", e.what()));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<nlohmann::json>> ParseObjects(std::string_view text) {
  absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(absl::string_view(text.data(), text.size()));
  if (!absl::StartsWith(trimmed, "{") && !absl::StartsWith(trimmed, "[")) return ParseYaml(std::string(text));
  nlohmann::json value = nlohmann::json::parse(trimmed.begin(), trimmed.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return absl::InvalidArgumentError("invalid JSON");
  std::vector<nlohmann::json> out;
  if (absl::Status status = Append(value, out); !status.ok()) return status;
  return out;
}

absl::StatusOr<std::vector<nlohmann::json>> LoadObjectsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<nlohmann::json>> objects = ParseObjects(text.str());
  if (!objects.ok()) return absl::Status(objects.status().code(), absl::StrCat(path, ": ", objects.status().message()));
  return objects;
}

}  // namespace bpfproxy::e2e::apiserver
