// Static frontends from a JSON file, for running without an API server:
//   {"frontends": [{"frontend": "10.96.0.10:80/TCP",
//                   "backends": ["10.244.0.10:8080/TCP", "10.244.0.11:8080/TCP"]}]}
#ifndef BPFPROXY_PROXY_FRONTENDS_FILE_H_
#define BPFPROXY_PROXY_FRONTENDS_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "proxy/reconciler.h"

namespace bpfproxy {

absl::StatusOr<DesiredFrontends> ParseFrontendsJson(const std::string& text);
absl::StatusOr<DesiredFrontends> ReadFrontendsFile(const std::string& path);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_FRONTENDS_FILE_H_
