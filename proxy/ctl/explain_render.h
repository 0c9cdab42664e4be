// `bpfproxyctl explain` output: a readable report, and JSON (schema in the
// README, "bpfproxyctl explain --json"). A mismatch between the datapath
// and kube-proxy's rules is printed loudly, since it is the bug report an
// admin needs.
#ifndef BPFPROXY_PROXY_CTL_EXPLAIN_RENDER_H_
#define BPFPROXY_PROXY_CTL_EXPLAIN_RENDER_H_

#include <string>

#include "nlohmann/json.hpp"
#include "proxy/explain.h"

namespace bpfproxy::ctl {

nlohmann::json ExplanationJson(const Explanation& explanation);
std::string ExplanationText(const Explanation& explanation);

}  // namespace bpfproxy::ctl

#endif  // BPFPROXY_PROXY_CTL_EXPLAIN_RENDER_H_
