#include "e2e/apiserver/selectors.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "e2e/apiserver/string_compat.h"

namespace bpfproxy::e2e::apiserver {
namespace {

// Label selector tokens. Identifiers are maximal runs of characters that are
// not whitespace, operators, parentheses or commas.
enum class Tok { kIdent, kComma, kOpen, kClose, kEq, kDoubleEq, kNotEq, kNot, kGt, kLt, kEnd };

struct Token {
  Tok kind;
  std::string text;
};

bool IsSpecial(char c) {
  return c == ',' || c == '(' || c == ')' || c == '=' || c == '!' || c == '<' || c == '>' ||
         absl::ascii_isspace(static_cast<unsigned char>(c));
}

std::vector<Token> Lex(std::string_view text) {
  std::vector<Token> tokens;
  size_t i = 0;
  auto two = [&](char a, char b) { return text[i] == a && i + 1 < text.size() && text[i + 1] == b; };
  while (i < text.size()) {
    char c = text[i];
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) { ++i; continue; }
    if (two('=', '=')) { tokens.push_back({Tok::kDoubleEq, "=="}); i += 2; continue; }
    if (two('!', '=')) { tokens.push_back({Tok::kNotEq, "!="}); i += 2; continue; }
    Tok single = c == ',' ? Tok::kComma : c == '(' ? Tok::kOpen : c == ')' ? Tok::kClose
               : c == '=' ? Tok::kEq : c == '!' ? Tok::kNot : c == '>' ? Tok::kGt
               : c == '<' ? Tok::kLt : Tok::kIdent;
    if (single != Tok::kIdent) { tokens.push_back({single, std::string(1, c)}); ++i; continue; }
    size_t start = i;
    while (i < text.size() && !IsSpecial(text[i])) ++i;
    tokens.push_back({Tok::kIdent, std::string(text.substr(start, i - start))});
  }
  tokens.push_back({Tok::kEnd, ""});
  return tokens;
}

bool ValidLabelValue(std::string_view v) {
  if (v.size() > 63) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool ValidLabelKey(std::string_view k) {
  if (k.empty() || k.size() > 317) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
  });
}

class LabelParser {
 public:
  explicit LabelParser(std::string_view text) : tokens_(Lex(text)) {}

  absl::StatusOr<std::vector<LabelSelector::Requirement>> ParseAll() {
    std::vector<LabelSelector::Requirement> out;
    if (Peek().kind == Tok::kEnd) return out;
    while (true) {
      absl::StatusOr<LabelSelector::Requirement> r = ParseRequirement();
      if (!r.ok()) return r.status();
      out.push_back(*std::move(r));
      Token next = Take();
      if (next.kind == Tok::kEnd) return out;
      if (next.kind != Tok::kComma) return Error(absl::StrCat("expected ',' but found '", next.text, "'"));
    }
  }

 private:
  using Op = LabelSelector::Op;

  const Token& Peek() const { return tokens_[pos_]; }
  Token Take() { return pos_ + 1 < tokens_.size() ? tokens_[pos_++] : tokens_.back(); }
  static absl::Status Error(std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("unable to parse requirement: ", AbslView(what)));
  }

  absl::StatusOr<std::string> Key() {
    Token key = Take();
    if (key.kind != Tok::kIdent || !ValidLabelKey(key.text)) return Error(absl::StrCat("invalid label key '", key.text, "'"));
    return key.text;
  }

  absl::StatusOr<LabelSelector::Requirement> ParseRequirement() {
    if (Peek().kind == Tok::kNot) {
      Take();
      absl::StatusOr<std::string> key = Key();
      if (!key.ok()) return key.status();
      return LabelSelector::Requirement{*key, Op::kDoesNotExist, {}};
    }
    absl::StatusOr<std::string> key = Key();
    if (!key.ok()) return key.status();
    const Token& op = Peek();
    if (op.kind == Tok::kComma || op.kind == Tok::kEnd) return LabelSelector::Requirement{*key, Op::kExists, {}};
    Take();
    if (op.kind == Tok::kIdent && (op.text == "in" || op.text == "notin")) {
      absl::StatusOr<std::vector<std::string>> values = ValueSet();
      if (!values.ok()) return values.status();
      return LabelSelector::Requirement{*key, op.text == "in" ? Op::kIn : Op::kNotIn, *std::move(values)};
    }
    std::optional<Op> single = op.kind == Tok::kEq || op.kind == Tok::kDoubleEq ? std::optional(Op::kIn)
                             : op.kind == Tok::kNotEq ? std::optional(Op::kNotIn)
                             : op.kind == Tok::kGt ? std::optional(Op::kGreaterThan)
                             : op.kind == Tok::kLt ? std::optional(Op::kLessThan) : std::nullopt;
    if (!single) return Error(absl::StrCat("unknown operator '", op.text, "'"));
    std::string value;
    if (Peek().kind == Tok::kIdent) value = Take().text;
    if (!ValidLabelValue(value)) return Error(absl::StrCat("invalid label value '", value, "'"));
    int64_t number;
    if ((*single == Op::kGreaterThan || *single == Op::kLessThan) && !absl::SimpleAtoi(value, &number)) {
      return Error(absl::StrCat("for 'gt', 'lt' operators, the value must be an integer: ", value));
    }
    return LabelSelector::Requirement{*key, *single, {value}};
  }

  absl::StatusOr<std::vector<std::string>> ValueSet() {
    if (Take().kind != Tok::kOpen) return Error("expected '(' after in/notin");
    std::vector<std::string> values;
    while (true) {
      std::string value;
      if (Peek().kind == Tok::kIdent) value = Take().text;
      if (!ValidLabelValue(value)) return Error(absl::StrCat("invalid label value '", value, "'"));
      values.push_back(value);
      Token sep = Take();
      if (sep.kind == Tok::kClose) return values;
      if (sep.kind != Tok::kComma) return Error("expected ',' or ')' in value set");
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

const nlohmann::json* Labels(const nlohmann::json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return nullptr;
  auto labels = metadata->find("labels");
  return labels != metadata->end() && labels->is_object() ? &*labels : nullptr;
}

std::string MetadataString(const nlohmann::json& object, const char* field) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  auto value = metadata->find(field);
  return value != metadata->end() && value->is_string() ? value->get<std::string>() : "";
}

bool RequirementHolds(const LabelSelector::Requirement& r, const nlohmann::json* labels) {
  using Op = LabelSelector::Op;
  const nlohmann::json* value = nullptr;
  if (labels != nullptr) {
    auto it = labels->find(r.key);
    if (it != labels->end() && it->is_string()) value = &*it;
  }
  bool in_set = value != nullptr &&
                std::find(r.values.begin(), r.values.end(), value->get<std::string>()) != r.values.end();
  int64_t have = 0, want = 0;
  bool numeric = value != nullptr && !r.values.empty() && absl::SimpleAtoi(value->get<std::string>(), &have) &&
                 absl::SimpleAtoi(r.values[0], &want);
  switch (r.op) {
    case Op::kExists: return value != nullptr;
    case Op::kDoesNotExist: return value == nullptr;
    case Op::kIn: return in_set;
    case Op::kNotIn: return !in_set;
    case Op::kGreaterThan: return numeric && have > want;
    case Op::kLessThan: return numeric && have < want;
  }
  return false;
}

}  // namespace

absl::StatusOr<LabelSelector> LabelSelector::Parse(std::string_view text) {
  absl::StatusOr<std::vector<Requirement>> requirements = LabelParser(text).ParseAll();
  if (!requirements.ok()) return requirements.status();
  LabelSelector selector;
  selector.requirements_ = *std::move(requirements);
  return selector;
}

bool LabelSelector::Matches(const nlohmann::json& object) const {
  const nlohmann::json* labels = Labels(object);
  return std::all_of(requirements_.begin(), requirements_.end(),
                     [&](const Requirement& r) { return RequirementHolds(r, labels); });
}

absl::StatusOr<FieldSelector> FieldSelector::Parse(std::string_view text) {
  FieldSelector selector;
  for (absl::string_view term : absl::StrSplit(absl::string_view(text.data(), text.size()), ',', absl::SkipWhitespace())) {
    term = absl::StripAsciiWhitespace(term);
    size_t op = term.find_first_of("=!");
    if (op == absl::string_view::npos || op == 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid selector: '", term, "'; can't understand '", term, "'"));
    }
    Term t{std::string(absl::StripAsciiWhitespace(term.substr(0, op))), true, ""};
    absl::string_view rest = term.substr(op);
    if (absl::ConsumePrefix(&rest, "!=")) {
      t.equal = false;
    } else if (!absl::ConsumePrefix(&rest, "==") && !absl::ConsumePrefix(&rest, "=")) {
      return absl::InvalidArgumentError(absl::StrCat("invalid selector: '", term, "'"));
    }
    t.value = std::string(absl::StripAsciiWhitespace(rest));
    if (t.field != "metadata.name" && t.field != "metadata.namespace") {
      return absl::InvalidArgumentError(absl::StrCat("field label not supported: ", t.field));
    }
    selector.terms_.push_back(std::move(t));
  }
  return selector;
}

bool FieldSelector::Matches(const nlohmann::json& object) const {
  return std::all_of(terms_.begin(), terms_.end(), [&](const Term& t) {
    std::string have = MetadataString(object, t.field == "metadata.name" ? "name" : "namespace");
    return (have == t.value) == t.equal;
  });
}

bool ObjectFilter::Matches(const nlohmann::json& object) const {
  if (!ns.empty() && MetadataString(object, "namespace") != ns) return false;
  return labels.Matches(object) && fields.Matches(object);
}

}  // namespace bpfproxy::e2e::apiserver
