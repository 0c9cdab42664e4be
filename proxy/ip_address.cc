#include "proxy/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace bpfproxy {

absl::string_view ProtocolName(Protocol p) {
  switch (p) {
    case Protocol::kTcp:
      return "TCP";
    case Protocol::kUdp:
      return "UDP";
    case Protocol::kSctp:
      return "SCTP";
  }
  return "?";
}

absl::StatusOr<Protocol> ParseProtocol(absl::string_view name) {
  if (name == "TCP") return Protocol::kTcp;
  if (name == "UDP") return Protocol::kUdp;
  if (name == "SCTP") return Protocol::kSctp;
  return absl::InvalidArgumentError(absl::StrCat("unknown protocol \"", name, "\""));
}

absl::StatusOr<Protocol> ProtocolFromNumber(uint8_t number) {
  switch (number) {
    case static_cast<uint8_t>(Protocol::kTcp):
    case static_cast<uint8_t>(Protocol::kUdp):
    case static_cast<uint8_t>(Protocol::kSctp):
      return static_cast<Protocol>(number);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown IP protocol number ", number));
}

namespace {
constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

absl::StatusOr<IpAddress> IpAddress::Parse(absl::string_view text) {
  std::string s(text);
  IpAddress a;
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return FromV4(v4.s_addr);
  if (inet_pton(AF_INET6, s.c_str(), a.bytes_.data()) == 1) return a;
  return absl::InvalidArgumentError(absl::StrCat("not an IP address: \"", text, "\""));
}

IpAddress IpAddress::FromBytes(const std::array<uint8_t, 16>& bytes) {
  IpAddress a;
  a.bytes_ = bytes;
  return a;
}

IpAddress IpAddress::FromV4(uint32_t ip4_network_order) {
  IpAddress a;
  std::memcpy(a.bytes_.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size());
  std::memcpy(a.bytes_.data() + 12, &ip4_network_order, 4);
  return a;
}

bool IpAddress::is_v4() const {
  return std::memcmp(bytes_.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size()) == 0;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4()) {
    inet_ntop(AF_INET, bytes_.data() + 12, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, bytes_.data(), buf, sizeof(buf));
  }
  return buf;
}

std::string L4Address::ToString() const {
  if (ip.is_v4()) return absl::StrCat(ip.ToString(), ":", port, "/", ProtocolName(proto));
  return absl::StrCat("[", ip.ToString(), "]:", port, "/", ProtocolName(proto));
}

absl::StatusOr<L4Address> L4Address::Parse(absl::string_view text) {
  auto bad = [&] { return absl::InvalidArgumentError(absl::StrCat("not IP:port/PROTO: \"", text, "\"")); };
  size_t slash = text.rfind('/');
  size_t colon = text.rfind(':', slash);
  if (slash == absl::string_view::npos || colon == absl::string_view::npos) return bad();
  absl::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != absl::string_view::npos) {
    return bad();  // IPv6 without brackets is ambiguous.
  }
  L4Address out;
  auto ip = IpAddress::Parse(host);
  if (!ip.ok()) return bad();
  uint32_t port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1, slash - colon - 1), &port) || port == 0 || port > 65535) {
    return bad();
  }
  auto proto = ParseProtocol(text.substr(slash + 1));
  if (!proto.ok()) return proto.status();
  out.ip = *ip;
  out.port = static_cast<uint16_t>(port);
  out.proto = *proto;
  return out;
}

}  // namespace bpfproxy
