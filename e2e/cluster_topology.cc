#include "e2e/cluster_topology.h"

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "e2e/status_macros.h"

namespace bpfproxy::e2e {
namespace {

constexpr absl::string_view kLanBridge = "lan0";

IpAddress Parsed(const std::string& text) { return IpAddress::Parse(text).value(); }

std::string WithPrefix(const IpAddress& ip, int length) { return absl::StrCat(ip.ToString(), "/", length); }

// `sysctl -w` run inside |ns|: /proc/sys/net shows the namespace of whoever
// opens it, so the child must live in |ns|.
absl::Status SetSysctls(const NetNs& ns, const std::vector<std::string>& settings) {
  std::vector<std::string> argv = {"ip", "netns", "exec", ns.name(), "sysctl", "-q", "-w"};
  argv.insert(argv.end(), settings.begin(), settings.end());
  return Run(argv);
}

absl::Status RunAll(const NetNs& ns, const std::vector<std::vector<std::string>>& commands) {
  for (const auto& args : commands) BPFPT_RETURN_IF_ERROR(ns.Ip(args));
  return absl::OkStatus();
}

// A namespace whose devices skip IPv6 duplicate address detection. With DAD,
// every device's link-local address stays tentative for a second or two, and
// until then a router's neighbour discovery loses the first packets that
// cross it: a test's first IPv6 connection would wait for a SYN retransmit.
// |sysctls| are set in the same step.
absl::StatusOr<std::unique_ptr<NetNs>> CreateNamespace(const std::string& prefix,
                                                       std::vector<std::string> sysctls = {}) {
  BPFPT_ASSIGN_OR_RETURN(std::unique_ptr<NetNs> ns, NetNs::Create(prefix));
  // "default" applies to devices created from now on; "all" to the rest (lo).
  sysctls.insert(sysctls.begin(), {"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"});
  BPFPT_RETURN_IF_ERROR(SetSysctls(*ns, sysctls));
  return ns;
}

std::vector<std::string> ServiceAndExternalCidrs() {
  return {std::string(kServiceCidr4), std::string(kServiceCidr6), std::string(kExternalCidr4),
          std::string(kExternalCidr6)};
}

}  // namespace

IpAddress ClusterTopology::lan_ip4() { return Parsed("192.168.50.254"); }
IpAddress ClusterTopology::lan_ip6() { return Parsed("fd00:50::254"); }
IpAddress ClusterTopology::node_ip4(int n) { return Parsed(absl::StrCat("192.168.50.", 1 + n)); }
IpAddress ClusterTopology::node_ip6(int n) { return Parsed(absl::StrCat("fd00:50::", 1 + n)); }
IpAddress ClusterTopology::bridge_ip4(int n) { return Parsed(absl::StrCat("10.244.", 1 + n, ".1")); }
IpAddress ClusterTopology::bridge_ip6(int n) { return Parsed(absl::StrCat("fd00:244:", 1 + n, "::1")); }
IpAddress ClusterTopology::client_ip4(int c) { return Parsed(absl::StrCat("192.168.50.", 100 + c)); }
// Interface ids spell the IPv4 last octet's digits (client 0 is fd00:50::100),
// which keeps logs and dumps easy to match up.
IpAddress ClusterTopology::client_ip6(int c) { return Parsed(absl::StrCat("fd00:50::", 100 + c)); }
std::string ClusterTopology::pod_cidr4(int n) { return absl::StrCat("10.244.", 1 + n, ".0/24"); }
std::string ClusterTopology::pod_cidr6(int n) { return absl::StrCat("fd00:244:", 1 + n, "::/64"); }

IpAddress ClusterTopology::pod_ip4(int n, int i) { return Parsed(absl::StrCat("10.244.", 1 + n, ".", 10 + i)); }
IpAddress ClusterTopology::pod_ip6(int n, int i) {
  return Parsed(absl::StrCat("fd00:244:", 1 + n, "::", 10 + i));
}

absl::StatusOr<std::unique_ptr<ClusterTopology>> ClusterTopology::Create(const ClusterTopologyOptions& options) {
  if (options.nodes < 1 || options.nodes > 9) {
    return absl::InvalidArgumentError(absl::StrCat("nodes must be 1..9, got ", options.nodes));
  }
  if (options.pods_per_node < 0 || options.pods_per_node > 89) {
    return absl::InvalidArgumentError(absl::StrCat("pods_per_node must be 0..89, got ", options.pods_per_node));
  }
  if (options.clients < 0 || options.clients > 99) {
    return absl::InvalidArgumentError(absl::StrCat("clients must be 0..99, got ", options.clients));
  }
  if (options.prefix.empty()) return absl::InvalidArgumentError("empty prefix");
  if (absl::c_linear_search(options.ports, 0)) {
    return absl::InvalidArgumentError("port 0 would give every pod a different port");
  }
  // Owned from the start: a failure half-way destroys what was built so far.
  std::unique_ptr<ClusterTopology> topology(new ClusterTopology(options.pods_per_node, options.ports));
  BPFPT_RETURN_IF_ERROR(topology->AddLan(options.prefix));
  for (int n = 0; n < options.nodes; ++n) {
    BPFPT_RETURN_IF_ERROR(topology->AddNode(options.prefix, n));
    for (int i = 0; i < options.pods_per_node; ++i) BPFPT_RETURN_IF_ERROR(topology->AddPod(options.prefix, n, i));
  }
  BPFPT_RETURN_IF_ERROR(topology->AddRoutesBetweenNodes());
  for (int c = 0; c < options.clients; ++c) BPFPT_RETURN_IF_ERROR(topology->AddClient(options.prefix, c));
  return topology;
}

ClusterTopology::~ClusterTopology() = default;

absl::Status ClusterTopology::AddLan(const std::string& prefix) {
  BPFPT_ASSIGN_OR_RETURN(lan_, CreateNamespace(absl::StrCat(prefix, "-lan")));
  const std::string bridge(kLanBridge);
  BPFPT_RETURN_IF_ERROR(RunAll(*lan_, {
                                          {"link", "add", bridge, "type", "bridge"},
                                          {"addr", "add", WithPrefix(lan_ip4(), 24), "dev", bridge},
                                          // nodad: usable at once, not after ~1s of duplicate detection.
                                          {"addr", "add", WithPrefix(lan_ip6(), 64), "dev", bridge, "nodad"},
                                          {"link", "set", bridge, "up"},
                                      }));
  return AddServiceRoutes(*lan_);
}

absl::Status ClusterTopology::PlugIntoLan(const NetNs& ns, const std::string& lan_end, const IpAddress& ip4,
                                          const IpAddress& ip6) {
  const std::string device(kLanDevice);
  // Both ends are created directly in their namespaces: the host never sees
  // them, and names only need to be unique inside the LAN and |ns|.
  BPFPT_RETURN_IF_ERROR(lan_->Ip({"link", "add", lan_end, "type", "veth", "peer", "name", device, "netns", ns.name()}));
  BPFPT_RETURN_IF_ERROR(lan_->Ip({"link", "set", lan_end, "master", std::string(kLanBridge), "up"}));
  return RunAll(ns, {
                        {"link", "set", device, "up"},
                        {"addr", "add", WithPrefix(ip4, 24), "dev", device},
                        {"addr", "add", WithPrefix(ip6, 64), "dev", device, "nodad"},
                    });
}

absl::Status ClusterTopology::AddNode(const std::string& prefix, int n) {
  nodes_.emplace_back();
  // rp_filter off: the per-packet path hands the stack packets whose source
  // (a client, or the node itself after SNAT) routes out another device.
  BPFPT_ASSIGN_OR_RETURN(nodes_.back().ns,
                         CreateNamespace(absl::StrCat(prefix, "-node", n),
                                         {"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
                                          "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"}));
  const NetNs& node = *nodes_.back().ns;
  BPFPT_RETURN_IF_ERROR(PlugIntoLan(node, absl::StrCat("node", n), node_ip4(n), node_ip6(n)));
  const std::string bridge(kPodBridge);
  BPFPT_RETURN_IF_ERROR(RunAll(node, {
                                         {"link", "add", bridge, "type", "bridge"},
                                         {"addr", "add", WithPrefix(bridge_ip4(n), 24), "dev", bridge},
                                         {"addr", "add", WithPrefix(bridge_ip6(n), 64), "dev", bridge, "nodad"},
                                         {"link", "set", bridge, "up"},
                                     }));
  return AddUnreachableRoutes(node, ServiceAndExternalCidrs());
}

absl::Status ClusterTopology::AddPod(const std::string& prefix, int n, int i) {
  Node& node = nodes_.at(n);
  BPFPT_ASSIGN_OR_RETURN(std::unique_ptr<NetNs> created, CreateNamespace(absl::StrCat(prefix, "-node", n, "pod", i)));
  node.pods.push_back(std::move(created));
  const NetNs& pod = *node.pods.back();
  const std::string node_end = absl::StrCat("lxc", i);
  BPFPT_RETURN_IF_ERROR(
      node.ns->Ip({"link", "add", node_end, "type", "veth", "peer", "name", "eth0", "netns", pod.name()}));
  BPFPT_RETURN_IF_ERROR(node.ns->Ip({"link", "set", node_end, "master", std::string(kPodBridge), "up"}));
  BPFPT_RETURN_IF_ERROR(RunAll(pod, {
                                        {"link", "set", "eth0", "up"},
                                        {"addr", "add", WithPrefix(pod_ip4(n, i), 24), "dev", "eth0"},
                                        {"addr", "add", WithPrefix(pod_ip6(n, i), 64), "dev", "eth0", "nodad"},
                                        {"route", "add", "default", "via", bridge_ip4(n).ToString()},
                                        {"-6", "route", "add", "default", "via", bridge_ip6(n).ToString()},
                                    }));
  BPFPT_RETURN_IF_ERROR(AddUnreachableRoutes(pod, ServiceAndExternalCidrs()));
  for (uint16_t port : ports_) {
    for (const IpAddress& ip : {pod_ip4(n, i), pod_ip6(n, i)}) {
      BPFPT_ASSIGN_OR_RETURN(std::unique_ptr<IdentityServer> server, IdentityServer::Start(pod, ip, port));
      servers_.push_back(std::move(server));
    }
  }
  return absl::OkStatus();
}

// Every node reaches every other node's pods through that node, as a flat
// pod network (host-gw style) does.
absl::Status ClusterTopology::AddRoutesBetweenNodes() {
  for (int n = 0; n < nodes(); ++n) {
    for (int m = 0; m < nodes(); ++m) {
      if (m == n) continue;
      BPFPT_RETURN_IF_ERROR(RunAll(node(n), {
                                                {"route", "add", pod_cidr4(m), "via", node_ip4(m).ToString()},
                                                {"-6", "route", "add", pod_cidr6(m), "via", node_ip6(m).ToString()},
                                            }));
    }
  }
  return absl::OkStatus();
}

absl::Status ClusterTopology::AddClient(const std::string& prefix, int c) {
  BPFPT_ASSIGN_OR_RETURN(std::unique_ptr<NetNs> created, CreateNamespace(absl::StrCat(prefix, "-client", c)));
  clients_.push_back(std::move(created));
  const NetNs& client = *clients_.back();
  BPFPT_RETURN_IF_ERROR(PlugIntoLan(client, absl::StrCat("client", c), client_ip4(c), client_ip6(c)));
  BPFPT_RETURN_IF_ERROR(RunAll(client, {
                                           {"route", "add", std::string(kExternalCidr4), "via", node_ip4(0).ToString()},
                                           {"-6", "route", "add", std::string(kExternalCidr6), "via",
                                            node_ip6(0).ToString()},
                                       }));
  return AddServiceRoutes(client);
}

}  // namespace bpfproxy::e2e
