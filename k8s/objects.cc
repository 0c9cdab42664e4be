#include "k8s/objects.h"

#include <exception>
#include <initializer_list>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

// Local status macros: absl ships none, and no public header needs these.
#define K8S_RETURN_IF_ERROR(expr)                                     \
  do {                                                                \
    if (absl::Status status_ = (expr); !status_.ok()) return status_; \
  } while (0)
#define K8S_CONCAT_INNER(a, b) a##b
#define K8S_CONCAT(a, b) K8S_CONCAT_INNER(a, b)
#define K8S_ASSIGN_OR_RETURN(lhs, expr) K8S_ASSIGN_OR_RETURN_IMPL(K8S_CONCAT(status_or_, __LINE__), lhs, expr)
#define K8S_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(*tmp)

namespace bpfproxy::k8s {
namespace {

using json = nlohmann::json;

// Where a field is, e.g. spec.ports[1].port. Each Path points at its parent,
// so building one costs nothing; the text is only made for an error. A Path
// must not outlive its parent: keep every level in a named variable.
class Path {
 public:
  Path() = default;
  Path Member(const char* name) const { return Path(this, name, 0); }
  Path Element(size_t index) const { return Path(this, nullptr, index); }
  const char* name() const { return name_; }
  std::string ToString() const {
    if (parent_ == nullptr) return "";
    std::string prefix = parent_->ToString();
    if (name_ == nullptr) return absl::StrCat(prefix, "[", index_, "]");
    return prefix.empty() ? std::string(name_) : absl::StrCat(prefix, ".", name_);
  }

 private:
  Path(const Path* parent, const char* name, size_t index) : parent_(parent), name_(name), index_(index) {}
  const Path* parent_ = nullptr;
  const char* name_ = nullptr;  // nullptr: an array element (or the root).
  size_t index_ = 0;
};

template <typename T>
using EnumNames = std::initializer_list<std::pair<const char*, T>>;

// Reads the fields of one object; every error names the object and field.
class Decoder {
 public:
  explicit Decoder(absl::string_view kind) : kind_(kind) {}
  void set_object_key(std::string key) { key_ = std::move(key); }

  absl::Status Invalid(const Path& field, absl::string_view what) const {
    std::string where = field.ToString();
    return absl::InvalidArgumentError(
        absl::StrCat(kind_, " ", key_, ": ", where.empty() ? "" : absl::StrCat(where, ": "), what));
  }

  // The member field.name() of |parent| (a JSON object), or nullptr when it
  // is absent or null: the API server's encoding of "unset".
  static const json* Find(const json& parent, const Path& field) {
    auto it = parent.find(field.name());
    return it == parent.end() || it->is_null() ? nullptr : &*it;
  }
  absl::StatusOr<const json*> Object(const json& parent, const Path& field) const {
    return Typed(parent, field, json::value_t::object, "an object");
  }
  absl::StatusOr<const json*> Array(const json& parent, const Path& field) const {
    return Typed(parent, field, json::value_t::array, "an array");
  }
  // Absent leaves *out unchanged.
  absl::Status String(const json& parent, const Path& field, std::string* out) const {
    K8S_ASSIGN_OR_RETURN(const json* v, Typed(parent, field, json::value_t::string, "a string"));
    if (v != nullptr) *out = v->get<std::string>();
    return absl::OkStatus();
  }
  absl::Status Bool(const json& parent, const Path& field, bool* out) const {
    K8S_ASSIGN_OR_RETURN(const json* v, Typed(parent, field, json::value_t::boolean, "a boolean"));
    if (v != nullptr) *out = v->get<bool>();
    return absl::OkStatus();
  }
  absl::Status Int(const json& value, const Path& field, int64_t min, int64_t max, int64_t* out) const;
  absl::Status IntMember(const json& parent, const Path& field, int64_t min, int64_t max, int64_t* out) const {
    const json* v = Find(parent, field);
    return v == nullptr ? absl::OkStatus() : Int(*v, field, min, max, out);
  }
  template <typename T>
  absl::Status Port(const json& parent, const Path& field, int64_t min, T* out) const {
    int64_t port = *out;
    K8S_RETURN_IF_ERROR(IntMember(parent, field, min, 65535, &port));
    *out = static_cast<T>(port);
    return absl::OkStatus();
  }
  // An enum spelled as one of |names|; absent or "" leaves *out unchanged.
  template <typename T>
  absl::Status Enum(const json& parent, const Path& field, EnumNames<T> names, T* out) const {
    std::string text;
    K8S_RETURN_IF_ERROR(String(parent, field, &text));
    if (text.empty()) return absl::OkStatus();
    for (const auto& [name, value] : names) {
      if (text == name) {
        *out = value;
        return absl::OkStatus();
      }
    }
    return Invalid(field, absl::StrCat("unknown value \"", text, "\""));
  }
  absl::Status Proto(const json& parent, const Path& field, Protocol* out) const {
    return Enum<Protocol>(parent, field, {{"TCP", Protocol::kTcp}, {"UDP", Protocol::kUdp}, {"SCTP", Protocol::kSctp}},
                          out);
  }
  // Calls fn(element, element_path) for each element of an array member.
  template <typename Fn>
  absl::Status ForEach(const json& parent, const Path& field, Fn fn) const {
    K8S_ASSIGN_OR_RETURN(const json* array, Array(parent, field));
    if (array == nullptr) return absl::OkStatus();
    for (size_t i = 0; i < array->size(); ++i) {
      K8S_RETURN_IF_ERROR(fn((*array)[i], field.Element(i)));
    }
    return absl::OkStatus();
  }
  absl::Status StringList(const json& parent, const Path& field, std::vector<std::string>* out) const {
    return ForEach(parent, field, [&](const json& item, const Path& path) {
      if (!item.is_string()) return Invalid(path, absl::StrCat("expected a string, got ", item.type_name()));
      out->push_back(item.get<std::string>());
      return absl::OkStatus();
    });
  }
  absl::StatusOr<IpAddress> Ip(const std::string& text, const Path& field) const {
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(text);
    if (!ip.ok()) return Invalid(field, absl::StrCat("\"", text, "\" is not an IP address"));
    return ip;
  }
  absl::Status IpList(const json& parent, const Path& field, std::vector<IpAddress>* out) const {
    return ForEach(parent, field, [&](const json& item, const Path& path) -> absl::Status {
      if (!item.is_string()) return Invalid(path, absl::StrCat("expected a string, got ", item.type_name()));
      K8S_ASSIGN_OR_RETURN(IpAddress ip, Ip(item.get<std::string>(), path));
      out->push_back(ip);
      return absl::OkStatus();
    });
  }

 private:
  absl::StatusOr<const json*> Typed(const json& parent, const Path& field, json::value_t type,
                                    const char* type_name) const {
    const json* v = Find(parent, field);
    if (v == nullptr || v->type() == type) return v;
    return Invalid(field, absl::StrCat("expected ", type_name, ", got ", v->type_name()));
  }

  std::string kind_;
  std::string key_ = "<unnamed>";
};

absl::Status Decoder::Int(const json& value, const Path& field, int64_t min, int64_t max, int64_t* out) const {
  // Unsigned first: a value past INT64_MAX arrives as number_unsigned.
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    if (u <= static_cast<uint64_t>(max) && static_cast<int64_t>(u) >= min) {
      *out = static_cast<int64_t>(u);
      return absl::OkStatus();
    }
    return Invalid(field, absl::StrCat(u, " is out of range ", min, "..", max));
  }
  if (value.is_number_integer()) {
    int64_t i = value.get<int64_t>();
    if (i >= min && i <= max) {
      *out = i;
      return absl::OkStatus();
    }
    return Invalid(field, absl::StrCat(i, " is out of range ", min, "..", max));
  }
  // Only a number's value is worth showing; others could be huge.
  return Invalid(field, absl::StrCat("expected an integer, got ", value.type_name(),
                                     value.is_number() ? absl::StrCat(" ", value.dump()) : ""));
}

// metadata: name, namespace, resourceVersion. Returns the metadata object
// (for labels and annotations) and names the object in |d|'s errors.
absl::StatusOr<const json*> DecodeMeta(Decoder& d, const json& object, absl::string_view kind, ObjectMeta* meta) {
  const Path root;
  if (!object.is_object()) return d.Invalid(root, absl::StrCat("expected a JSON object, got ", object.type_name()));
  const Path meta_path = root.Member("metadata");
  K8S_ASSIGN_OR_RETURN(const json* metadata, d.Object(object, meta_path));
  if (metadata == nullptr) return d.Invalid(meta_path, "missing");
  const Path name_path = meta_path.Member("name");
  const Path ns_path = meta_path.Member("namespace");
  K8S_RETURN_IF_ERROR(d.String(*metadata, name_path, &meta->name));
  K8S_RETURN_IF_ERROR(d.String(*metadata, ns_path, &meta->namespace_));
  if (!meta->name.empty()) d.set_object_key(meta->Key());
  if (meta->name.empty()) return d.Invalid(name_path, "missing");
  const bool namespaced = kind != "Node";
  if (namespaced && meta->namespace_.empty()) return d.Invalid(ns_path, "missing");
  if (!namespaced && !meta->namespace_.empty()) return d.Invalid(ns_path, "set on a cluster-scoped object");
  K8S_RETURN_IF_ERROR(d.String(*metadata, meta_path.Member("resourceVersion"), &meta->resource_version));
  const Path kind_path = root.Member("kind");
  std::string got_kind;
  K8S_RETURN_IF_ERROR(d.String(object, kind_path, &got_kind));
  // LIST items carry no kind; watch events and GETs do.
  if (!got_kind.empty() && got_kind != kind) return d.Invalid(kind_path, absl::StrCat("is \"", got_kind, "\""));
  return metadata;
}

// The value of one label or annotation; absent leaves *out unchanged.
absl::Status ReadMapEntry(const Decoder& d, const json& metadata, const Path& map_path, const char* key,
                          std::optional<std::string>* out) {
  K8S_ASSIGN_OR_RETURN(const json* map, d.Object(metadata, map_path));
  if (map == nullptr) return absl::OkStatus();
  std::string value;
  const Path path = map_path.Member(key);
  if (Decoder::Find(*map, path) == nullptr) return absl::OkStatus();
  K8S_RETURN_IF_ERROR(d.String(*map, path, &value));
  *out = std::move(value);
  return absl::OkStatus();
}

absl::StatusOr<IpPrefix> ParsePrefix(const Decoder& d, std::string text, const Path& path) {
  absl::StripAsciiWhitespace(&text);
  size_t slash = text.find('/');
  uint32_t length = 0;
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(absl::string_view(text).substr(0, slash));
  if (slash == std::string::npos || !ip.ok() || !absl::SimpleAtoi(absl::string_view(text).substr(slash + 1), &length) ||
      length > (ip->is_v4() ? 32u : 128u)) {
    return d.Invalid(path, absl::StrCat("\"", text, "\" is not a CIDR"));
  }
  return IpPrefix{*ip, static_cast<uint8_t>(length)};
}

// ---- Service ----

absl::Status DecodeClusterIps(const Decoder& d, const json& spec, const Path& spec_path, Service* svc) {
  const Path ip_path = spec_path.Member("clusterIP");
  const Path ips_path = spec_path.Member("clusterIPs");
  std::string cluster_ip;
  std::vector<std::string> ips;
  K8S_RETURN_IF_ERROR(d.String(spec, ip_path, &cluster_ip));
  K8S_RETURN_IF_ERROR(d.StringList(spec, ips_path, &ips));
  if (!ips.empty() && !cluster_ip.empty() && ips[0] != cluster_ip) {
    return d.Invalid(ips_path, absl::StrCat("[0] \"", ips[0], "\" differs from clusterIP \"", cluster_ip, "\""));
  }
  // API servers before dual-stack send clusterIP only.
  if (ips.empty() && !cluster_ip.empty()) ips.push_back(cluster_ip);
  if (ips.size() > 2) return d.Invalid(ips_path, "more than two addresses");
  if (!ips.empty() && ips[0] == "None") {
    if (ips.size() > 1) return d.Invalid(ips_path, "\"None\" with other addresses");
    svc->headless = true;
  } else {
    for (size_t i = 0; i < ips.size(); ++i) {
      K8S_ASSIGN_OR_RETURN(IpAddress ip, d.Ip(ips[i], ips_path.Element(i)));
      svc->cluster_ips.push_back(ip);
    }
    if (ips.size() == 2 && FamilyOf(svc->cluster_ips[0]) == FamilyOf(svc->cluster_ips[1])) {
      return d.Invalid(ips_path, "two addresses of the same family");
    }
  }
  const Path families_path = spec_path.Member("ipFamilies");
  return d.ForEach(spec, families_path, [&](const json& item, const Path& path) -> absl::Status {
    if (!item.is_string()) return d.Invalid(path, absl::StrCat("expected a string, got ", item.type_name()));
    const std::string text = item.get<std::string>();
    if (text != "IPv4" && text != "IPv6") return d.Invalid(path, absl::StrCat("unknown value \"", text, "\""));
    IpFamily family = text == "IPv4" ? IpFamily::kIPv4 : IpFamily::kIPv6;
    size_t i = svc->ip_families.size();
    if (i < svc->cluster_ips.size() && FamilyOf(svc->cluster_ips[i]) != family) {
      return d.Invalid(path, absl::StrCat(text, " does not match clusterIPs[", i, "]"));
    }
    svc->ip_families.push_back(family);
    return absl::OkStatus();
  });
}

absl::Status DecodeTargetPort(const Decoder& d, const json& item, const Path& path, ServicePort* port) {
  const json* target = Decoder::Find(item, path);
  if (target == nullptr) {
    port->target_port = port->port;
  } else if (target->is_string()) {
    port->target_port_name = target->get<std::string>();
  } else {
    int64_t number = 0;
    K8S_RETURN_IF_ERROR(d.Int(*target, path, 1, 65535, &number));
    port->target_port = static_cast<uint16_t>(number);
  }
  return absl::OkStatus();
}

absl::Status DecodeServicePorts(const Decoder& d, const json& spec, const Path& spec_path, Service* svc) {
  const Path ports_path = spec_path.Member("ports");
  return d.ForEach(spec, ports_path, [&](const json& item, const Path& path) -> absl::Status {
    if (!item.is_object()) return d.Invalid(path, absl::StrCat("expected an object, got ", item.type_name()));
    ServicePort port;
    const Path port_path = path.Member("port");
    K8S_RETURN_IF_ERROR(d.String(item, path.Member("name"), &port.name));
    K8S_RETURN_IF_ERROR(d.Proto(item, path.Member("protocol"), &port.protocol));
    K8S_RETURN_IF_ERROR(d.Port(item, port_path, 1, &port.port));
    if (port.port == 0) return d.Invalid(port_path, "missing");
    K8S_RETURN_IF_ERROR(DecodeTargetPort(d, item, path.Member("targetPort"), &port));
    K8S_RETURN_IF_ERROR(d.Port(item, path.Member("nodePort"), 0, &port.node_port));
    for (const ServicePort& other : svc->ports) {
      // Ports are matched to EndpointSlices by name: a duplicate is ambiguous.
      if (other.name == port.name) return d.Invalid(path, absl::StrCat("duplicate port name \"", port.name, "\""));
      if (other.port == port.port && other.protocol == port.protocol) {
        return d.Invalid(path, absl::StrCat("duplicate port ", port.port, "/", ProtocolName(port.protocol)));
      }
    }
    svc->ports.push_back(std::move(port));
    return absl::OkStatus();
  });
}

absl::Status DecodeExternalAddresses(const Decoder& d, const json& spec, const Path& spec_path, Service* svc) {
  K8S_RETURN_IF_ERROR(d.IpList(spec, spec_path.Member("externalIPs"), &svc->external_ips));
  const Path lb_ip_path = spec_path.Member("loadBalancerIP");
  std::string lb_ip;
  K8S_RETURN_IF_ERROR(d.String(spec, lb_ip_path, &lb_ip));
  if (!lb_ip.empty()) {
    K8S_ASSIGN_OR_RETURN(svc->load_balancer_ip, d.Ip(lb_ip, lb_ip_path));
  }
  const Path ranges_path = spec_path.Member("loadBalancerSourceRanges");
  return d.ForEach(spec, ranges_path, [&](const json& item, const Path& path) -> absl::Status {
    if (!item.is_string()) return d.Invalid(path, absl::StrCat("expected a string, got ", item.type_name()));
    K8S_ASSIGN_OR_RETURN(IpPrefix prefix, ParsePrefix(d, item.get<std::string>(), path));
    svc->load_balancer_source_ranges.push_back(prefix);
    return absl::OkStatus();
  });
}

absl::Status DecodePolicies(const Decoder& d, const json& spec, const Path& spec_path, Service* svc) {
  const EnumNames<TrafficPolicy> policies = {{"Cluster", TrafficPolicy::kCluster}, {"Local", TrafficPolicy::kLocal}};
  K8S_RETURN_IF_ERROR(d.Enum(spec, spec_path.Member("externalTrafficPolicy"), policies, &svc->external_traffic_policy));
  K8S_RETURN_IF_ERROR(d.Enum(spec, spec_path.Member("internalTrafficPolicy"), policies, &svc->internal_traffic_policy));
  K8S_RETURN_IF_ERROR(d.Port(spec, spec_path.Member("healthCheckNodePort"), 0, &svc->health_check_node_port));
  K8S_RETURN_IF_ERROR(d.Enum<SessionAffinity>(
      spec, spec_path.Member("sessionAffinity"),
      {{"None", SessionAffinity::kNone}, {"ClientIP", SessionAffinity::kClientIP}}, &svc->session_affinity));
  const Path config_path = spec_path.Member("sessionAffinityConfig");
  K8S_ASSIGN_OR_RETURN(const json* config, d.Object(spec, config_path));
  if (config == nullptr) return absl::OkStatus();
  const Path client_ip_path = config_path.Member("clientIP");
  K8S_ASSIGN_OR_RETURN(const json* client_ip, d.Object(*config, client_ip_path));
  if (client_ip == nullptr) return absl::OkStatus();
  int64_t timeout = svc->session_affinity_timeout_seconds;
  // The API's bounds: at most one day.
  K8S_RETURN_IF_ERROR(d.IntMember(*client_ip, client_ip_path.Member("timeoutSeconds"), 1, 86400, &timeout));
  svc->session_affinity_timeout_seconds = static_cast<uint32_t>(timeout);
  return absl::OkStatus();
}

absl::Status DecodeLoadBalancerStatus(const Decoder& d, const json& object, Service* svc) {
  const Path root;
  const Path status_path = root.Member("status");
  K8S_ASSIGN_OR_RETURN(const json* status, d.Object(object, status_path));
  if (status == nullptr) return absl::OkStatus();
  const Path lb_path = status_path.Member("loadBalancer");
  K8S_ASSIGN_OR_RETURN(const json* lb, d.Object(*status, lb_path));
  if (lb == nullptr) return absl::OkStatus();
  const Path ingress_path = lb_path.Member("ingress");
  return d.ForEach(*lb, ingress_path, [&](const json& item, const Path& path) -> absl::Status {
    if (!item.is_object()) return d.Invalid(path, absl::StrCat("expected an object, got ", item.type_name()));
    LoadBalancerIngress ingress;
    const Path ip_path = path.Member("ip");
    std::string ip;
    K8S_RETURN_IF_ERROR(d.String(item, ip_path, &ip));
    K8S_RETURN_IF_ERROR(d.Enum<LoadBalancerIpMode>(
        item, path.Member("ipMode"), {{"VIP", LoadBalancerIpMode::kVip}, {"Proxy", LoadBalancerIpMode::kProxy}},
        &ingress.ip_mode));
    if (ip.empty()) return absl::OkStatus();  // Hostname only.
    K8S_ASSIGN_OR_RETURN(ingress.ip, d.Ip(ip, ip_path));
    svc->load_balancer_ingress.push_back(ingress);
    return absl::OkStatus();
  });
}

absl::StatusOr<Service> DecodeServiceUnguarded(const json& object) {
  Decoder d("Service");
  Service svc;
  K8S_ASSIGN_OR_RETURN(const json* metadata, DecodeMeta(d, object, "Service", &svc.meta));
  const Path root;
  const Path meta_path = root.Member("metadata");
  const Path labels_path = meta_path.Member("labels");
  std::optional<std::string> headless;
  K8S_RETURN_IF_ERROR(ReadMapEntry(d, *metadata, labels_path, kLabelServiceProxyName, &svc.service_proxy_name_label));
  K8S_RETURN_IF_ERROR(ReadMapEntry(d, *metadata, labels_path, kLabelHeadless, &headless));
  svc.headless_label = headless.has_value();

  const Path spec_path = root.Member("spec");
  K8S_ASSIGN_OR_RETURN(const json* spec, d.Object(object, spec_path));
  if (spec == nullptr) return d.Invalid(spec_path, "missing");
  K8S_RETURN_IF_ERROR(d.Enum<ServiceType>(*spec, spec_path.Member("type"),
                                          {{"ClusterIP", ServiceType::kClusterIP},
                                           {"NodePort", ServiceType::kNodePort},
                                           {"LoadBalancer", ServiceType::kLoadBalancer},
                                           {"ExternalName", ServiceType::kExternalName}},
                                          &svc.type));
  K8S_RETURN_IF_ERROR(DecodeClusterIps(d, *spec, spec_path, &svc));
  K8S_RETURN_IF_ERROR(DecodeServicePorts(d, *spec, spec_path, &svc));
  K8S_RETURN_IF_ERROR(DecodeExternalAddresses(d, *spec, spec_path, &svc));
  K8S_RETURN_IF_ERROR(DecodePolicies(d, *spec, spec_path, &svc));
  K8S_RETURN_IF_ERROR(DecodeLoadBalancerStatus(d, object, &svc));
  return svc;
}

// ---- EndpointSlice ----

absl::Status DecodeHints(const Decoder& d, const json& endpoint, const Path& path, Endpoint* out) {
  K8S_ASSIGN_OR_RETURN(const json* hints, d.Object(endpoint, path));
  if (hints == nullptr) return absl::OkStatus();
  auto names = [&](const char* member, std::vector<std::string>* names_out) {
    return d.ForEach(*hints, path.Member(member), [&](const json& item, const Path& item_path) -> absl::Status {
      if (!item.is_object()) return d.Invalid(item_path, absl::StrCat("expected an object, got ", item.type_name()));
      std::string name;
      K8S_RETURN_IF_ERROR(d.String(item, item_path.Member("name"), &name));
      names_out->push_back(std::move(name));
      return absl::OkStatus();
    });
  };
  K8S_RETURN_IF_ERROR(names("forZones", &out->zone_hints));
  return names("forNodes", &out->node_hints);
}

absl::Status DecodeEndpoint(const Decoder& d, const json& item, const Path& path, AddressType type, Endpoint* out) {
  if (!item.is_object()) return d.Invalid(path, absl::StrCat("expected an object, got ", item.type_name()));
  const Path addresses_path = path.Member("addresses");
  if (type == AddressType::kFqdn) {
    std::vector<std::string> names;  // Checked for shape only: never used.
    K8S_RETURN_IF_ERROR(d.StringList(item, addresses_path, &names));
  } else {
    K8S_RETURN_IF_ERROR(d.IpList(item, addresses_path, &out->addresses));
    IpFamily family = type == AddressType::kIPv4 ? IpFamily::kIPv4 : IpFamily::kIPv6;
    for (size_t i = 0; i < out->addresses.size(); ++i) {
      if (FamilyOf(out->addresses[i]) != family) {
        return d.Invalid(addresses_path.Element(i),
                         absl::StrCat(out->addresses[i].ToString(), " is not an ", IpFamilyName(family), " address"));
      }
    }
  }
  const Path conditions_path = path.Member("conditions");
  K8S_ASSIGN_OR_RETURN(const json* conditions, d.Object(item, conditions_path));
  if (conditions != nullptr) {
    K8S_RETURN_IF_ERROR(d.Bool(*conditions, conditions_path.Member("ready"), &out->conditions.ready));
    K8S_RETURN_IF_ERROR(d.Bool(*conditions, conditions_path.Member("serving"), &out->conditions.serving));
    K8S_RETURN_IF_ERROR(d.Bool(*conditions, conditions_path.Member("terminating"), &out->conditions.terminating));
  }
  K8S_RETURN_IF_ERROR(d.String(item, path.Member("nodeName"), &out->node_name));
  K8S_RETURN_IF_ERROR(d.String(item, path.Member("zone"), &out->zone));
  return DecodeHints(d, item, path.Member("hints"), out);
}

absl::Status DecodeSliceMetadata(const Decoder& d, const json& metadata, EndpointSlice* slice) {
  const Path root;
  const Path meta_path = root.Member("metadata");
  std::optional<std::string> service_name;
  std::optional<std::string> trigger_time;
  K8S_RETURN_IF_ERROR(ReadMapEntry(d, metadata, meta_path.Member("labels"), kLabelServiceName, &service_name));
  K8S_RETURN_IF_ERROR(
      ReadMapEntry(d, metadata, meta_path.Member("annotations"), kAnnotationLastChangeTriggerTime, &trigger_time));
  slice->service_name = service_name.value_or("");
  absl::Time t;
  std::string ignored_error;
  if (trigger_time.has_value() && absl::ParseTime(absl::RFC3339_full, *trigger_time, &t, &ignored_error)) {
    slice->last_change_trigger_time = t;
  }
  return absl::OkStatus();
}

absl::StatusOr<EndpointSlice> DecodeEndpointSliceUnguarded(const json& object) {
  Decoder d("EndpointSlice");
  EndpointSlice slice;
  K8S_ASSIGN_OR_RETURN(const json* metadata, DecodeMeta(d, object, "EndpointSlice", &slice.meta));
  K8S_RETURN_IF_ERROR(DecodeSliceMetadata(d, *metadata, &slice));
  const Path root;
  const Path type_path = root.Member("addressType");
  if (Decoder::Find(object, type_path) == nullptr) return d.Invalid(type_path, "missing");
  K8S_RETURN_IF_ERROR(d.Enum<AddressType>(
      object, type_path, {{"IPv4", AddressType::kIPv4}, {"IPv6", AddressType::kIPv6}, {"FQDN", AddressType::kFqdn}},
      &slice.address_type));
  K8S_RETURN_IF_ERROR(d.ForEach(object, root.Member("ports"), [&](const json& item, const Path& path) -> absl::Status {
    if (!item.is_object()) return d.Invalid(path, absl::StrCat("expected an object, got ", item.type_name()));
    EndpointPort port;
    K8S_RETURN_IF_ERROR(d.String(item, path.Member("name"), &port.name));
    K8S_RETURN_IF_ERROR(d.Proto(item, path.Member("protocol"), &port.protocol));
    K8S_RETURN_IF_ERROR(d.Port(item, path.Member("port"), 0, &port.port));
    slice.ports.push_back(std::move(port));
    return absl::OkStatus();
  }));
  K8S_RETURN_IF_ERROR(
      d.ForEach(object, root.Member("endpoints"), [&](const json& item, const Path& path) -> absl::Status {
        Endpoint endpoint;
        K8S_RETURN_IF_ERROR(DecodeEndpoint(d, item, path, slice.address_type, &endpoint));
        slice.endpoints.push_back(std::move(endpoint));
        return absl::OkStatus();
      }));
  return slice;
}

// ---- Node ----

absl::StatusOr<Node> DecodeNodeUnguarded(const json& object) {
  Decoder d("Node");
  Node node;
  K8S_ASSIGN_OR_RETURN(const json* metadata, DecodeMeta(d, object, "Node", &node.meta));
  const Path root;
  const Path meta_path = root.Member("metadata");
  std::optional<std::string> zone;
  K8S_RETURN_IF_ERROR(ReadMapEntry(d, *metadata, meta_path.Member("labels"), kLabelTopologyZone, &zone));
  node.zone = zone.value_or("");
  std::string deletion_timestamp;
  K8S_RETURN_IF_ERROR(d.String(*metadata, meta_path.Member("deletionTimestamp"), &deletion_timestamp));
  node.deletion_timestamp = !deletion_timestamp.empty();
  const Path spec_path = root.Member("spec");
  K8S_ASSIGN_OR_RETURN(const json* spec, d.Object(object, spec_path));
  if (spec == nullptr) return node;
  K8S_RETURN_IF_ERROR(d.ForEach(*spec, spec_path.Member("taints"), [&](const json& item, const Path& path) {
    if (!item.is_object()) return d.Invalid(path, absl::StrCat("expected an object, got ", item.type_name()));
    std::string key;
    absl::Status status = d.String(item, path.Member("key"), &key);
    node.taint_keys.push_back(std::move(key));
    return status;
  }));
  return node;
}

// nlohmann::json throws on misuse. The decoders check every type before
// reading, so this is only a net: a decoder bug must cost one object, not
// the daemon. Tests assert that no input reaches it (kInternal).
template <typename T, typename Fn>
absl::StatusOr<T> Guarded(absl::string_view kind, Fn decode) {
  try {
    return decode();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(kind, " decoder bug: ", e.what()));
  }
}

}  // namespace

absl::string_view IpFamilyName(IpFamily family) { return family == IpFamily::kIPv4 ? "IPv4" : "IPv6"; }

IpFamily FamilyOf(const IpAddress& ip) { return ip.is_v4() ? IpFamily::kIPv4 : IpFamily::kIPv6; }

std::string ObjectMeta::Key() const { return namespace_.empty() ? name : absl::StrCat(namespace_, "/", name); }

std::optional<IpAddress> Service::ClusterIp(IpFamily family) const {
  for (const IpAddress& ip : cluster_ips) {
    if (FamilyOf(ip) == family) return ip;
  }
  return std::nullopt;
}

bool Node::Eligible() const {
  return !deletion_timestamp && !absl::c_linear_search(taint_keys, kTaintToBeDeletedByClusterAutoscaler);
}

absl::StatusOr<Service> DecodeService(const nlohmann::json& object) {
  return Guarded<Service>("Service", [&] { return DecodeServiceUnguarded(object); });
}

absl::StatusOr<EndpointSlice> DecodeEndpointSlice(const nlohmann::json& object) {
  return Guarded<EndpointSlice>("EndpointSlice", [&] { return DecodeEndpointSliceUnguarded(object); });
}

absl::StatusOr<Node> DecodeNode(const nlohmann::json& object) {
  return Guarded<Node>("Node", [&] { return DecodeNodeUnguarded(object); });
}

absl::StatusOr<ObjectMeta> DecodeObjectMeta(const nlohmann::json& object, absl::string_view kind) {
  return Guarded<ObjectMeta>(kind, [&]() -> absl::StatusOr<ObjectMeta> {
    Decoder d(kind);
    ObjectMeta meta;
    K8S_RETURN_IF_ERROR(DecodeMeta(d, object, kind, &meta).status());
    return meta;
  });
}

}  // namespace bpfproxy::k8s
