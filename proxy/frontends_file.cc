#include "proxy/frontends_file.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace bpfproxy {

absl::StatusOr<DesiredFrontends> ParseFrontendsJson(const std::string& text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("frontends") || !doc["frontends"].is_array()) {
    return absl::InvalidArgumentError("expected {\"frontends\": [...]}");
  }
  DesiredFrontends out;
  for (const nlohmann::json& entry : doc["frontends"]) {
    if (!entry.is_object() || !entry.contains("frontend") || !entry["frontend"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("frontend entry without \"frontend\": ", entry.dump()));
    }
    absl::StatusOr<L4Address> frontend = L4Address::Parse(entry["frontend"].get<std::string>());
    if (!frontend.ok()) return frontend.status();
    std::vector<L4Address>& backends = out[*frontend];
    for (const nlohmann::json& b : entry.value("backends", nlohmann::json::array())) {
      if (!b.is_string()) return absl::InvalidArgumentError(absl::StrCat("backend is not a string: ", b.dump()));
      absl::StatusOr<L4Address> backend = L4Address::Parse(b.get<std::string>());
      if (!backend.ok()) return backend.status();
      backends.push_back(*backend);
    }
  }
  return out;
}

absl::StatusOr<DesiredFrontends> ReadFrontendsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<DesiredFrontends> parsed = ParseFrontendsJson(text.str());
  if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", parsed.status().message()));
  return parsed;
}

}  // namespace bpfproxy
