#include "proxy/node_addresses.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "proxy/ip_prefix.h"
#include "proxy/rtnetlink.h"

namespace bpfproxy {
namespace {

std::string LinkKind(const rtattr& linkinfo) {
  std::string kind;
  ForEachRtattr(static_cast<const rtattr*>(RTA_DATA(&linkinfo)), RTA_PAYLOAD(&linkinfo), [&](const rtattr& a) {
    if (a.rta_type == IFLA_INFO_KIND) kind = RtattrString(a);
  });
  return kind;
}

absl::StatusOr<std::map<int, NetDevice>> DumpLinks() {
  std::map<int, NetDevice> links;
  ifinfomsg request{};
  request.ifi_family = AF_UNSPEC;
  absl::Status s = RtnetlinkDump(RTM_GETLINK, &request, sizeof(request), "links", [&](const nlmsghdr& h) {
    if (h.nlmsg_type != RTM_NEWLINK) return;
    const auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(&h));
    NetDevice device;
    device.ifindex = info->ifi_index;
    device.up = (info->ifi_flags & IFF_UP) != 0;
    device.loopback = (info->ifi_flags & IFF_LOOPBACK) != 0;
    ForEachRtattr(IFLA_RTA(info), IFLA_PAYLOAD(&h), [&](const rtattr& a) {
      if (a.rta_type == IFLA_IFNAME) device.name = RtattrString(a);
      if (a.rta_type == IFLA_LINKINFO) device.kind = LinkKind(a);
    });
    links[device.ifindex] = std::move(device);
  });
  if (!s.ok()) return s;
  return links;
}

bool IsGlobalUnicast(const IpAddress& ip) {
  static const IpPrefix kNotGlobal[] = {
      ParseIpPrefix("0.0.0.0/32").value(),     ParseIpPrefix("127.0.0.0/8").value(),
      ParseIpPrefix("169.254.0.0/16").value(), ParseIpPrefix("224.0.0.0/4").value(),
      ParseIpPrefix("255.255.255.255/32").value(), ParseIpPrefix("::/128").value(),
      ParseIpPrefix("::1/128").value(),        ParseIpPrefix("fe80::/10").value(),
      ParseIpPrefix("ff00::/8").value(),
  };
  return std::none_of(std::begin(kNotGlobal), std::end(kNotGlobal),
                      [&](const IpPrefix& p) { return PrefixContains(p, ip); });
}

// Adds every global unicast address to its link in |links|, in dump order.
absl::Status DumpAddresses(std::map<int, NetDevice>& links) {
  ifaddrmsg request{};
  request.ifa_family = AF_UNSPEC;
  return RtnetlinkDump(RTM_GETADDR, &request, sizeof(request), "addresses", [&](const nlmsghdr& h) {
    if (h.nlmsg_type != RTM_NEWADDR) return;
    const auto* info = static_cast<const ifaddrmsg*>(NLMSG_DATA(&h));
    if (info->ifa_scope != RT_SCOPE_UNIVERSE) return;
    uint32_t flags = info->ifa_flags;
    std::optional<IpAddress> address, local;
    ForEachRtattr(IFA_RTA(info), IFA_PAYLOAD(&h), [&](const rtattr& a) {
      if (a.rta_type == IFA_FLAGS && RTA_PAYLOAD(&a) >= sizeof(uint32_t)) {
        std::memcpy(&flags, RTA_DATA(&a), sizeof(uint32_t));
      }
      if (a.rta_type != IFA_ADDRESS && a.rta_type != IFA_LOCAL) return;
      std::optional<IpAddress> ip;
      if (info->ifa_family == AF_INET && RTA_PAYLOAD(&a) == 4) {
        uint32_t v4;
        std::memcpy(&v4, RTA_DATA(&a), 4);
        ip = IpAddress::FromV4(v4);
      } else if (info->ifa_family == AF_INET6 && RTA_PAYLOAD(&a) == 16) {
        std::array<uint8_t, 16> bytes;
        std::memcpy(bytes.data(), RTA_DATA(&a), 16);
        ip = IpAddress::FromBytes(bytes);
      }
      (a.rta_type == IFA_LOCAL ? local : address) = ip;
    });
    // On a point-to-point link IFA_ADDRESS is the peer; IFA_LOCAL is ours.
    std::optional<IpAddress> ours = local.has_value() ? local : address;
    if (!ours.has_value() || (flags & IFA_F_DADFAILED) || !IsGlobalUnicast(*ours)) return;
    auto link = links.find(static_cast<int>(info->ifa_index));
    if (link != links.end()) link->second.addresses.push_back(*ours);
  });
}

}  // namespace

absl::StatusOr<std::vector<NetDevice>> ListNetDevices() {
  absl::StatusOr<std::map<int, NetDevice>> links = DumpLinks();
  if (!links.ok()) return links.status();
  if (absl::Status s = DumpAddresses(*links); !s.ok()) return s;
  std::vector<NetDevice> out;
  for (auto& [index, device] : *links) out.push_back(std::move(device));
  return out;
}

bool IsDefaultNodeDevice(const NetDevice& device) {
  return device.up && !device.loopback && device.kind != "veth" && !device.addresses.empty();
}

absl::StatusOr<std::vector<std::string>> DetectNodeDevices() {
  absl::StatusOr<std::vector<NetDevice>> devices = ListNetDevices();
  if (!devices.ok()) return devices.status();
  std::vector<std::string> names;
  for (const NetDevice& device : *devices) {
    if (IsDefaultNodeDevice(device)) names.push_back(device.name);
  }
  return names;
}

absl::StatusOr<std::vector<NetDevice>> FindNetDevices(const std::vector<std::string>& names) {
  absl::StatusOr<std::vector<NetDevice>> devices = ListNetDevices();
  if (!devices.ok()) return devices.status();
  std::vector<NetDevice> out;
  for (const std::string& name : names) {
    auto it = std::find_if(devices->begin(), devices->end(), [&](const NetDevice& d) { return d.name == name; });
    if (it == devices->end()) return absl::NotFoundError(absl::StrCat("no network device \"", name, "\""));
    out.push_back(*it);
  }
  return out;
}

std::vector<IpAddress> NodeAddressesOf(const std::vector<NetDevice>& devices) {
  std::vector<IpAddress> out;
  for (const NetDevice& device : devices) {
    for (const IpAddress& ip : device.addresses) {
      if (std::find(out.begin(), out.end(), ip) == out.end()) out.push_back(ip);
    }
  }
  return out;
}

namespace {

constexpr absl::string_view kPrimary = "primary";

// The node's primary address of the family of |v4|, if it has one.
std::optional<IpAddress> PrimaryOf(bool v4, const std::vector<IpAddress>& node_addresses,
                                   const std::vector<IpAddress>& node_internal_ips) {
  for (const std::vector<IpAddress>* list : {&node_internal_ips, &node_addresses}) {
    for (const IpAddress& ip : *list) {
      if (ip.is_v4() == v4) return ip;
    }
  }
  return std::nullopt;
}

// The --nodeport-addresses value as prefixes; "primary" becomes the primary
// address of each family as a /32 or /128, the way kube-proxy rewrites it.
absl::StatusOr<std::vector<IpPrefix>> FlagPrefixes(const std::vector<IpAddress>& node_addresses,
                                                   const std::vector<std::string>& flag,
                                                   const std::vector<IpAddress>& node_internal_ips) {
  std::vector<IpPrefix> prefixes;
  if (flag.size() == 1 && flag[0] == kPrimary) {
    for (bool v4 : {true, false}) {
      if (std::optional<IpAddress> ip = PrimaryOf(v4, node_addresses, node_internal_ips)) {
        prefixes.push_back(IpPrefix{*ip, static_cast<uint8_t>(v4 ? 32 : 128)});
      }
    }
    return prefixes;
  }
  for (const std::string& value : flag) {
    if (value == kPrimary) {
      return absl::InvalidArgumentError(
          absl::StrCat("--nodeport-addresses: \"primary\" must be the only value, not one of ", absl::StrJoin(flag, ",")));
    }
    absl::StatusOr<IpPrefix> prefix = ParseIpPrefix(value);
    if (!prefix.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--nodeport-addresses: ", prefix.status().message(), " (give CIDRs, or \"primary\")"));
    }
    prefixes.push_back(*prefix);
  }
  return prefixes;
}

}  // namespace

absl::StatusOr<std::vector<IpAddress>> SelectNodePortAddresses(const std::vector<IpAddress>& node_addresses,
                                                               const std::vector<std::string>& nodeport_addresses_flag,
                                                               const std::vector<IpAddress>& node_internal_ips) {
  absl::StatusOr<std::vector<IpPrefix>> prefixes =
      FlagPrefixes(node_addresses, nodeport_addresses_flag, node_internal_ips);
  if (!prefixes.ok()) return prefixes.status();
  auto family_has_prefix = [&](bool v4) {
    return std::any_of(prefixes->begin(), prefixes->end(), [&](const IpPrefix& p) { return p.address.is_v4() == v4; });
  };
  const bool restrict_v4 = family_has_prefix(true);
  const bool restrict_v6 = family_has_prefix(false);
  std::vector<IpAddress> out;
  for (const IpAddress& ip : node_addresses) {
    bool restricted = ip.is_v4() ? restrict_v4 : restrict_v6;
    bool selected = !restricted || std::any_of(prefixes->begin(), prefixes->end(),
                                               [&](const IpPrefix& p) { return PrefixContains(p, ip); });
    if (selected && std::find(out.begin(), out.end(), ip) == out.end()) out.push_back(ip);
  }
  return out;
}

std::vector<IpAddress> PrimaryIps(absl::string_view bind_address) {
  std::vector<IpAddress> out;
  for (absl::string_view part : absl::StrSplit(bind_address, ',', absl::SkipWhitespace())) {
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(absl::StripAsciiWhitespace(part));
    if (!ip.ok() || *ip == IpAddress::Parse(ip->is_v4() ? "0.0.0.0" : "::").value()) continue;
    out.push_back(*ip);
  }
  return out;
}

bool LocalhostNodePorts(const std::vector<std::string>& nodeport_addresses_flag, bool iptables_localhost_nodeports) {
  if (!iptables_localhost_nodeports) return false;
  if (nodeport_addresses_flag.empty()) return true;
  const IpAddress localhost = IpAddress::Parse("127.0.0.1").value();
  return std::any_of(nodeport_addresses_flag.begin(), nodeport_addresses_flag.end(), [&](const std::string& value) {
    absl::StatusOr<IpPrefix> prefix = ParseIpPrefix(value);
    return prefix.ok() && PrefixContains(*prefix, localhost);
  });
}

std::string NodeName(absl::string_view hostname_override) {
  std::string name(hostname_override);
  if (name.empty()) {
    char host[256] = {};  // gethostname() need not terminate a truncated name.
    gethostname(host, sizeof(host) - 1);
    name = host;
  }
  return absl::AsciiStrToLower(name);
}

}  // namespace bpfproxy
