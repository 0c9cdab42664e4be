// Helpers shared by the explain tests: decoded inputs from API-shaped
// objects, and an explanation's endpoints as comparable text lines.
#ifndef BPFPROXY_TESTS_PROXY_EXPLAIN_TEST_UTIL_H_
#define BPFPROXY_TESTS_PROXY_EXPLAIN_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "proxy/ctl/explain_render.h"
#include "proxy/explain.h"
#include "proxy/ip_prefix.h"
#include "tests/k8s/objects_fixtures.h"

namespace bpfproxy::explain_testing {

inline constexpr char kNode[] = "node-a";
inline constexpr char kNodeAddress[] = "192.168.1.2";

// This node (node-a in |zone|, "-": no Node object) serving NodePorts on
// 192.168.1.2 and 127.0.0.1, and the decoded |services| and |slices|.
// Objects that do not decode fail the test.
inline ExplainInput Build(const std::vector<nlohmann::json>& services, const std::vector<nlohmann::json>& slices,
                          const std::string& zone = "zone-a") {
  ExplainInput input;
  input.node_name = kNode;
  if (zone != "-") input.node = k8s::DecodeNode(k8s::testing::MakeNode(kNode, zone)).value();
  input.nodeport_addresses = {IpAddress::Parse(kNodeAddress).value()};
  for (const nlohmann::json& s : services) {
    absl::StatusOr<k8s::Service> service = k8s::DecodeService(s);
    EXPECT_TRUE(service.ok()) << service.status();
    if (service.ok()) input.services.push_back(*std::move(service));
  }
  for (const nlohmann::json& s : slices) {
    absl::StatusOr<k8s::EndpointSlice> slice = k8s::DecodeEndpointSlice(s);
    EXPECT_TRUE(slice.ok()) << slice.status();
    if (slice.ok()) input.slices.push_back(*std::move(slice));
  }
  return input;
}

// The first view |view| of the first matching port, or nullptr.
inline const ExplainedView* FindView(const Explanation& e, ctl::View view) {
  for (const ExplainedPort& port : e.ports) {
    for (const ExplainedView& v : port.views) {
      if (v.view == view) return &v;
    }
  }
  return nullptr;
}

// "<slice> <endpoint> <reason>: <detail>" per endpoint row, as the first
// port's |view| judges it; the endpoint is IP:port, or the bare address
// when no slice port matched.
inline std::vector<std::string> ViewLines(const Explanation& e, ctl::View view) {
  std::vector<std::string> lines;
  for (const ExplainedPort& port : e.ports) {
    for (const ExplainedView& v : port.views) {
      if (v.view != view) continue;
      for (const EndpointRow& row : port.endpoints) {
        const EndpointJudgement& j = v.JudgementOf(row);
        std::string endpoint = row.address.empty() ? "-" : row.address;
        if (row.backend.has_value()) endpoint = absl::StrCat(endpoint, ":", row.backend->port);
        lines.push_back(absl::StrCat(row.slice, " ", endpoint, " ", EndpointReasonName(j.reason), ": ", j.detail));
      }
      return lines;
    }
  }
  return lines;
}

// "flags ranges", e.g. "source-ranges 10.0.0.0/8,192.0.2.0/24", "none ".
inline std::string PolicyString(const ctl::ProgrammedPolicy& policy) {
  std::vector<std::string> ranges;
  for (const IpPrefix& p : policy.source_ranges) ranges.push_back(IpPrefixString(p));
  return absl::StrCat(ctl::PolicyFlagNames(policy.flags), " ", absl::StrJoin(ranges, ","));
}

// The whole report, for failure messages.
inline std::vector<std::string> Lines(const Explanation& e) {
  return absl::StrSplit(ctl::ExplanationText(e), '\n');
}

}  // namespace bpfproxy::explain_testing

#endif  // BPFPROXY_TESTS_PROXY_EXPLAIN_TEST_UTIL_H_
