#include "proxy/ip_prefix.h"

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bpfproxy {
namespace {

// Clears the bits of |bytes| from bit |keep_bits| on (bit 0 = MSB of byte 0).
std::array<uint8_t, 16> KeepBits(std::array<uint8_t, 16> bytes, int keep_bits) {
  for (int i = 0; i < 16; ++i) {
    int bits_here = keep_bits - i * 8;
    if (bits_here >= 8) continue;
    bytes[i] &= bits_here <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits_here));
  }
  return bytes;
}

}  // namespace

absl::StatusOr<IpPrefix> ParseIpPrefix(absl::string_view text) {
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  auto bad = [&] { return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a CIDR")); };
  size_t slash = trimmed.find('/');
  if (slash == absl::string_view::npos) return bad();
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(trimmed.substr(0, slash));
  uint32_t length = 0;
  if (!ip.ok() || !absl::SimpleAtoi(trimmed.substr(slash + 1), &length)) return bad();
  IpPrefix prefix{*ip, static_cast<uint8_t>(length > 255 ? 255 : length)};
  if (!IsValidPrefix(prefix)) return bad();
  return prefix;
}

std::string IpPrefixString(const IpPrefix& prefix) {
  return absl::StrCat(prefix.address.ToString(), "/", prefix.length);
}

bool IsValidPrefix(const IpPrefix& prefix) { return prefix.length <= (prefix.address.is_v4() ? 32 : 128); }

int MappedPrefixLength(const IpPrefix& prefix) { return prefix.address.is_v4() ? 96 + prefix.length : prefix.length; }

IpPrefix MaskedPrefix(const IpPrefix& prefix) {
  return IpPrefix{IpAddress::FromBytes(KeepBits(prefix.address.bytes(), MappedPrefixLength(prefix))), prefix.length};
}

bool PrefixContains(const IpPrefix& prefix, const IpAddress& ip) {
  if (prefix.address.is_v4() != ip.is_v4()) return false;
  int bits = MappedPrefixLength(prefix);
  return KeepBits(ip.bytes(), bits) == KeepBits(prefix.address.bytes(), bits);
}

}  // namespace bpfproxy
