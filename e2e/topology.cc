#include "e2e/topology.h"

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "e2e/status_macros.h"

namespace bpfproxy::e2e {
namespace {

constexpr absl::string_view kBridge = "br0";

}  // namespace

absl::Status AddUnreachableRoutes(const NetNs& ns, const std::vector<std::string>& cidrs) {
  for (const std::string& cidr : cidrs) {
    const std::string family = absl::StrContains(cidr, ':') ? "-6" : "-4";
    BPFPT_RETURN_IF_ERROR(ns.Ip({family, "route", "add", "unreachable", cidr}));
  }
  return absl::OkStatus();
}

absl::Status AddServiceRoutes(const NetNs& ns) {
  return AddUnreachableRoutes(ns, {std::string(kServiceCidr4), std::string(kServiceCidr6)});
}

IpAddress PodTopology::node_ip4() { return IpAddress::Parse("10.244.0.1").value(); }
IpAddress PodTopology::node_ip6() { return IpAddress::Parse("fd00:244::1").value(); }

IpAddress PodTopology::pod_ip4(int i) {
  return IpAddress::Parse(absl::StrCat("10.244.0.", 10 + i)).value();
}

// The interface id spells the same digits as the IPv4 last octet (pod 0 is
// fd00:244::10), which keeps logs and dumps easy to match up.
IpAddress PodTopology::pod_ip6(int i) {
  return IpAddress::Parse(absl::StrCat("fd00:244::", 10 + i)).value();
}

absl::StatusOr<std::unique_ptr<PodTopology>> PodTopology::Create(
    const PodTopologyOptions& options) {
  if (options.pods < 0 || options.pods > 244) {
    return absl::InvalidArgumentError(absl::StrCat("pods must be 0..244, got ", options.pods));
  }
  if (options.prefix.empty()) return absl::InvalidArgumentError("empty prefix");
  if (absl::c_linear_search(options.ports, 0)) {
    return absl::InvalidArgumentError("port 0 would give every pod a different port");
  }
  // Owned from the start: a failure half-way destroys what was built so far.
  std::unique_ptr<PodTopology> topology(new PodTopology(options.ports));
  BPFPT_RETURN_IF_ERROR(topology->AddNode(options.prefix));
  for (int i = 0; i < options.pods; ++i) {
    BPFPT_RETURN_IF_ERROR(topology->AddPod(options.prefix, i));
  }
  return topology;
}

PodTopology::~PodTopology() = default;

absl::Status PodTopology::AddNode(const std::string& prefix) {
  BPFPT_ASSIGN_OR_RETURN(node_, NetNs::Create(absl::StrCat(prefix, "-node")));
  const std::string bridge(kBridge);
  const std::vector<std::vector<std::string>> commands = {
      {"link", "add", bridge, "type", "bridge"},
      {"addr", "add", absl::StrCat(node_ip4().ToString(), "/24"), "dev", bridge},
      // nodad: usable at once instead of after ~1s of duplicate detection.
      {"addr", "add", absl::StrCat(node_ip6().ToString(), "/64"), "dev", bridge, "nodad"},
      {"link", "set", bridge, "up"},
  };
  for (const auto& args : commands) BPFPT_RETURN_IF_ERROR(node_->Ip(args));
  return AddServiceRoutes(*node_);
}

absl::Status PodTopology::AddPod(const std::string& prefix, int i) {
  BPFPT_ASSIGN_OR_RETURN(std::unique_ptr<NetNs> created,
                         NetNs::Create(absl::StrCat(prefix, "-pod", i)));
  pods_.push_back(std::move(created));
  const NetNs& pod = *pods_.back();
  // Both ends are created directly in their namespaces, so the host never sees
  // them; the names only need to be unique inside the node and the pod.
  const std::string node_end = absl::StrCat("lxc", i);
  BPFPT_RETURN_IF_ERROR(node_->Ip(
      {"link", "add", node_end, "type", "veth", "peer", "name", "eth0", "netns", pod.name()}));
  BPFPT_RETURN_IF_ERROR(node_->Ip({"link", "set", node_end, "master", std::string(kBridge), "up"}));
  const std::vector<std::vector<std::string>> commands = {
      {"link", "set", "eth0", "up"},
      {"addr", "add", absl::StrCat(pod_ip4(i).ToString(), "/24"), "dev", "eth0"},
      {"addr", "add", absl::StrCat(pod_ip6(i).ToString(), "/64"), "dev", "eth0", "nodad"},
      {"route", "add", "default", "via", node_ip4().ToString()},
      {"-6", "route", "add", "default", "via", node_ip6().ToString()},
  };
  for (const auto& args : commands) BPFPT_RETURN_IF_ERROR(pod.Ip(args));
  BPFPT_RETURN_IF_ERROR(AddServiceRoutes(pod));
  for (uint16_t port : ports_) {
    for (const IpAddress& ip : {pod_ip4(i), pod_ip6(i)}) {
      BPFPT_ASSIGN_OR_RETURN(std::unique_ptr<IdentityServer> server,
                             IdentityServer::Start(pod, ip, port));
      servers_.push_back(std::move(server));
    }
  }
  return absl::OkStatus();
}

}  // namespace bpfproxy::e2e
