#include "tests/k8s/objects_mutator.h"

#include <limits>
#include <string>

namespace bpfproxy::k8s::testing {
namespace {

using json = nlohmann::json;

void Collect(const json& node, const json::json_pointer& at, std::vector<json::json_pointer>* out) {
  out->push_back(at);
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) Collect(value, at / key, out);
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) Collect(node[i], at / i, out);
  }
}

json Nested(int depth) {
  json value = json::array();
  for (int i = 0; i < depth; ++i) value = json::array({value});
  return value;
}

}  // namespace

std::vector<json::json_pointer> Mutator::AllPointers(const json& object) {
  std::vector<json::json_pointer> out;
  Collect(object, json::json_pointer(), &out);
  return out;
}

const std::vector<json>& Mutator::HostileValues() {
  static const auto* const kValues = new std::vector<json>{
      nullptr,
      true,
      false,
      0,
      -1,
      1,
      65535,
      65536,
      std::numeric_limits<int64_t>::min(),
      std::numeric_limits<int64_t>::max(),
      std::numeric_limits<uint64_t>::max(),
      1.5,
      -0.0,
      1e308,
      std::numeric_limits<double>::infinity(),
      std::numeric_limits<double>::quiet_NaN(),
      "",
      " ",
      "None",
      "10.96.0.10",
      "10.96.0.256",
      "fd00::1",
      "::ffff:10.0.0.1",
      "fe80::1%eth0",
      "10.0.0.0/8",
      "TCP",
      "udp",
      "SCTP",
      "IPv4",
      "IPv6",
      "FQDN",
      "Local",
      "ClientIP",
      "ExternalName",
      "2024-05-01T10:00:05Z",
      std::string("a\0b", 3),
      std::string("\xff\xfe\xc3", 3),  // Not UTF-8.
      std::string(10000, 'x'),
      json::array(),
      json::object(),
      json::array({nullptr}),
      json::array({"10.0.0.1", 7, json::object()}),
      json{{"name", 1}, {"port", "80"}},
      json::binary({0, 1, 2}),
      Nested(64),
  };
  return *kValues;
}

void Mutator::Mutate(json& object) {
  std::vector<json::json_pointer> pointers = AllPointers(object);
  const json::json_pointer& at = pointers[Pick(pointers.size())];
  const int op = static_cast<int>(Pick(4));
  if (at.empty()) {
    // The root: only replace it, rarely (it ends the object's usefulness).
    if (Pick(20) == 0) object = HostileValues()[Pick(HostileValues().size())];
    return;
  }
  json& parent = object[at.parent_pointer()];
  if (op == 0) {
    object[at] = HostileValues()[Pick(HostileValues().size())];
  } else if (op == 1) {
    if (parent.is_object()) {
      parent.erase(at.back());
    } else if (parent.is_array()) {
      parent.erase(std::stoul(at.back()));
    }
  } else if (op == 2 && parent.is_array()) {
    json copy = object[at];  // push_back may move the element it copies.
    parent.push_back(std::move(copy));
  } else {
    object[at] = json(object[pointers[Pick(pointers.size())]]);
  }
}

}  // namespace bpfproxy::k8s::testing
