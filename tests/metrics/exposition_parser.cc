#include "tests/metrics/exposition_parser.h"

#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bpfproxy::testing_util {
namespace {

bool IsNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

bool ValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0)) return false;
  }
  return true;
}

absl::Status LineError(int number, absl::string_view line, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("line ", number, " \"", line, "\": ", why));
}

bool ParseValue(absl::string_view text, double* value) {
  if (text == "+Inf") {
    *value = std::numeric_limits<double>::infinity();
  } else if (text == "-Inf") {
    *value = -std::numeric_limits<double>::infinity();
  } else if (text == "NaN") {
    *value = std::nan("");
  } else {
    return absl::SimpleAtod(text, value);
  }
  return true;
}

// Parses `{a="x",b="y"}` at the start of |rest|; leaves |rest| after it.
bool ParseLabels(absl::string_view& rest, std::map<std::string, std::string>& labels) {
  if (!absl::ConsumePrefix(&rest, "{")) return true;
  while (!absl::ConsumePrefix(&rest, "}")) {
    size_t eq = rest.find('=');
    if (eq == absl::string_view::npos || !ValidName(rest.substr(0, eq))) return false;
    std::string name(rest.substr(0, eq));
    rest.remove_prefix(eq + 1);
    if (!absl::ConsumePrefix(&rest, "\"")) return false;
    std::string value;
    for (;;) {
      if (rest.empty()) return false;
      char c = rest[0];
      rest.remove_prefix(1);
      if (c == '"') break;
      if (c == '\\') {
        if (rest.empty()) return false;
        char e = rest[0];
        rest.remove_prefix(1);
        if (e == 'n') {
          value += '\n';
        } else if (e == '\\' || e == '"') {
          value += e;
        } else {
          return false;
        }
      } else {
        value += c;
      }
    }
    if (!labels.emplace(name, value).second) return false;  // Duplicate label.
    absl::ConsumePrefix(&rest, ",");
  }
  return true;
}

bool BelongsTo(const std::string& sample, const std::string& family, const std::string& type) {
  if (sample == family) return type != "histogram";
  if (type == "histogram") {
    return sample == family + "_bucket" || sample == family + "_sum" || sample == family + "_count";
  }
  if (type == "summary") return sample == family + "_sum" || sample == family + "_count";
  return false;
}

}  // namespace

const ParsedSample* ParsedFamily::Find(const std::string& name,
                                       const std::map<std::string, std::string>& labels) const {
  for (const ParsedSample& sample : samples) {
    if (sample.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = sample.labels.find(k);
      match = match && it != sample.labels.end() && it->second == v;
    }
    if (match) return &sample;
  }
  return nullptr;
}

std::vector<std::string> ParsedFamily::BucketBounds(const std::map<std::string, std::string>& labels) const {
  std::vector<std::string> bounds;
  for (const ParsedSample& sample : samples) {
    if (!absl::EndsWith(sample.name, "_bucket")) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = sample.labels.find(k);
      match = match && it != sample.labels.end() && it->second == v;
    }
    if (match) bounds.push_back(sample.labels.at("le"));
  }
  return bounds;
}

absl::StatusOr<ParsedExposition> ParseExposition(absl::string_view text) {
  ParsedExposition out;
  std::string current;  // The family the samples belong to.
  int number = 0;
  if (!text.empty() && !absl::EndsWith(text, "\n")) return absl::InvalidArgumentError("no final newline");
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++number;
    if (absl::ConsumePrefix(&line, "# HELP ")) {
      std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(' ', 1));
      if (!ValidName(parts.first)) return LineError(number, line, "bad name");
      if (!out[std::string(parts.first)].help.empty()) return LineError(number, line, "second HELP");
      out[std::string(parts.first)].help = std::string(parts.second);
      continue;
    }
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(' ', 1));
      static const char* kTypes[] = {"counter", "gauge", "histogram", "summary", "untyped"};
      bool known = false;
      for (const char* t : kTypes) known = known || parts.second == t;
      if (!ValidName(parts.first) || !known) return LineError(number, line, "bad TYPE");
      ParsedFamily& family = out[std::string(parts.first)];
      if (!family.type.empty()) return LineError(number, line, "second TYPE");
      family.type = std::string(parts.second);
      current = std::string(parts.first);
      continue;
    }
    if (absl::StartsWith(line, "#")) continue;  // A comment.
    absl::string_view rest = line;
    size_t name_end = 0;
    while (name_end < rest.size() && IsNameChar(rest[name_end], name_end == 0)) ++name_end;
    ParsedSample sample;
    sample.name = std::string(rest.substr(0, name_end));
    rest.remove_prefix(name_end);
    if (sample.name.empty() || !ParseLabels(rest, sample.labels)) return LineError(number, line, "bad sample");
    if (!absl::ConsumePrefix(&rest, " ")) return LineError(number, line, "no value");
    std::vector<absl::string_view> value_and_time = absl::StrSplit(rest, ' ');
    if (value_and_time.empty() || value_and_time.size() > 2 || !ParseValue(value_and_time[0], &sample.value)) {
      return LineError(number, line, "bad value");
    }
    if (current.empty() || !BelongsTo(sample.name, current, out[current].type)) {
      return LineError(number, line, absl::StrCat("sample outside its family (", current, ")"));
    }
    out[current].samples.push_back(std::move(sample));
  }
  return out;
}

}  // namespace bpfproxy::testing_util
