#include "proxy/config_values.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "proxy/ip_address.h"

namespace bpfproxy {
namespace {

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

// "1.500" -> "1.5", "2.000" -> "2".
std::string TrimFraction(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// |value| / |unit| with up to 9 decimals, Go style (no trailing zeros).
std::string Fraction(int64_t value, int64_t unit) {
  int64_t whole = value / unit, rest = value % unit;
  if (rest == 0) return absl::StrCat(whole);
  int digits = 0;
  for (int64_t u = unit; u > 1; u /= 10) ++digits;
  std::string frac = absl::StrCat(rest + unit).substr(1);  // Zero-padded to |digits|.
  frac.resize(digits);
  return TrimFraction(absl::StrCat(whole, ".", frac));
}

}  // namespace

absl::StatusOr<absl::Duration> ParseGoDuration(absl::string_view text) {
  // absl::ParseDuration takes Go's grammar, plus "inf", which Go refuses;
  // Go also spells microseconds with a micro sign (U+00B5) or mu (U+03BC).
  std::string s = absl::StrReplaceAll(text, {{"\xc2\xb5s", "us"}, {"\xce\xbcs", "us"}});
  absl::Duration d;
  if (s.empty() || absl::StrContains(s, "inf") || !absl::ParseDuration(s, &d)) {
    return Invalid(absl::StrCat("not a duration (like \"30s\", \"1m30s\", \"500ms\"): \"", text, "\""));
  }
  return d;
}

std::string FormatGoDuration(absl::Duration d) {
  if (d == absl::ZeroDuration()) return "0s";
  std::string sign = d < absl::ZeroDuration() ? "-" : "";
  d = absl::AbsDuration(d);
  int64_t ns = absl::ToInt64Nanoseconds(d);
  if (ns < 1000) return absl::StrCat(sign, ns, "ns");
  if (ns < 1000 * 1000) return absl::StrCat(sign, Fraction(ns, 1000), "\xc2\xb5s");
  if (ns < 1000 * 1000 * 1000) return absl::StrCat(sign, Fraction(ns, 1000 * 1000), "ms");
  constexpr int64_t kSecond = 1000 * 1000 * 1000;
  int64_t hours = ns / (3600 * kSecond), minutes = ns / (60 * kSecond) % 60, sec_ns = ns % (60 * kSecond);
  std::string out = sign;
  if (hours > 0) absl::StrAppend(&out, hours, "h");
  if (hours > 0 || minutes > 0) absl::StrAppend(&out, minutes, "m");
  absl::StrAppend(&out, Fraction(sec_ns, kSecond), "s");
  return out;
}

absl::StatusOr<bool> ParseGoBool(absl::string_view text) {
  for (absl::string_view t : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == t) return true;
  }
  for (absl::string_view f : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == f) return false;
  }
  return Invalid(absl::StrCat("not a boolean (true or false): \"", text, "\""));
}

absl::StatusOr<int64_t> ParseIntInRange(absl::string_view text, int64_t min, int64_t max) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) return Invalid(absl::StrCat("not an integer: \"", text, "\""));
  if (v < min || v > max) return Invalid(absl::StrCat("must be within [", min, ", ", max, "], not ", v));
  return v;
}

absl::Status ValidateIp(absl::string_view text) { return IpAddress::Parse(text).status(); }

absl::Status ValidateCidr(absl::string_view text) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('/', 1));
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(parts.first);
  int length = -1;
  if (!ip.ok() || !absl::SimpleAtoi(parts.second, &length) || length < 0 || length > (ip->is_v4() ? 32 : 128)) {
    return Invalid(absl::StrCat("not a CIDR (like \"10.0.0.0/8\" or \"fd00::/64\"): \"", text, "\""));
  }
  return absl::OkStatus();
}

absl::Status ValidateHostPort(absl::string_view text) {
  // Go's net.SplitHostPort: IPv6 hosts come in brackets.
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return Invalid(absl::StrCat("must be IP:port, not \"", text, "\""));
  absl::string_view host = text.substr(0, colon), port = text.substr(colon + 1);
  if (absl::ConsumePrefix(&host, "[") != absl::ConsumeSuffix(&host, "]") ||
      (absl::StrContains(host, ':') && text[0] != '[')) {
    return Invalid(absl::StrCat("must be IP:port (IPv6 in brackets), not \"", text, "\""));
  }
  if (!IpAddress::Parse(host).ok()) return Invalid(absl::StrCat("\"", host, "\" in \"", text, "\" is not an IP"));
  int p = 0;
  if (!absl::SimpleAtoi(port, &p) || p < 1 || p > 65535) {
    return Invalid(absl::StrCat("\"", port, "\" in \"", text, "\" is not a port (1-65535)"));
  }
  return absl::OkStatus();
}

std::string AppendPortIfNeeded(absl::string_view address, int port) {
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(address);
  if (!ip.ok()) return std::string(address);
  return absl::StrContains(address, ':') ? absl::StrCat("[", address, "]:", port) : absl::StrCat(address, ":", port);
}

std::vector<std::string> SplitList(absl::string_view text) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(item));
  }
  return out;
}

absl::Status ValidateClusterCidrs(const std::vector<std::string>& cidrs) {
  if (cidrs.size() > 2) return Invalid("at most two CIDRs, one per IP family");
  bool has_v4 = false, has_v6 = false;
  for (const std::string& cidr : cidrs) {
    if (absl::Status s = ValidateCidr(cidr); !s.ok()) return s;
    (absl::StrContains(cidr, ':') ? has_v6 : has_v4) = true;
  }
  if (cidrs.size() == 2 && !(has_v4 && has_v6)) return Invalid("two CIDRs must be one IPv4 and one IPv6");
  return absl::OkStatus();
}

absl::Status ValidateNodePortAddresses(const std::vector<std::string>& values) {
  for (const std::string& v : values) {
    if (v == "primary") {
      if (values.size() > 1) return Invalid("\"primary\" cannot be combined with CIDRs");
      continue;
    }
    if (absl::Status s = ValidateCidr(v); !s.ok()) return Invalid(absl::StrCat(s.message(), " (or \"primary\")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateBindAddress(absl::string_view text) {
  std::vector<std::string> ips = SplitList(text);
  if (ips.empty() || ips.size() > 2) return Invalid(absl::StrCat("not an IP address: \"", text, "\""));
  for (const std::string& ip : ips) {
    if (absl::Status s = ValidateIp(ip); !s.ok()) return s;
  }
  if (ips.size() == 2 && absl::StrContains(ips[0], ':') == absl::StrContains(ips[1], ':')) {
    return Invalid("two addresses must be one IPv4 and one IPv6");
  }
  return absl::OkStatus();
}

absl::Status ValidateProxyMode(absl::string_view mode) {
  for (absl::string_view m : {"", "iptables", "ipvs", "nftables"}) {
    if (mode == m) return absl::OkStatus();
  }
  return Invalid(absl::StrCat("\"", mode, "\" is not a kube-proxy mode (iptables, ipvs, nftables or blank)"));
}

absl::Status ValidateDetectLocalMode(absl::string_view mode) {
  for (absl::string_view m : {"", "ClusterCIDR", "NodeCIDR", "BridgeInterface", "InterfaceNamePrefix"}) {
    if (mode == m) return absl::OkStatus();
  }
  return Invalid(absl::StrCat("\"", mode,
                              "\" is not a detect-local mode (ClusterCIDR, NodeCIDR, BridgeInterface, "
                              "InterfaceNamePrefix)"));
}

absl::Status ParseFeatureGates(absl::string_view text, absl::btree_map<std::string, bool>& gates) {
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    absl::string_view name = absl::StripAsciiWhitespace(kv.first);
    absl::string_view value = absl::StripAsciiWhitespace(kv.second);
    if (name.empty() || !absl::StrContains(item, '=')) {
      return Invalid(absl::StrCat("\"", item, "\" is not Name=true|false"));
    }
    absl::StatusOr<bool> on = ParseGoBool(value);
    if (!on.ok()) return Invalid(absl::StrCat("feature gate ", name, ": ", on.status().message()));
    gates[std::string(name)] = *on;
  }
  return absl::OkStatus();
}

}  // namespace bpfproxy
