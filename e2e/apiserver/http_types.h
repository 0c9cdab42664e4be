// HTTP requests and responses as the handlers see them, independent of the
// server that parses and writes them.
#ifndef BPFPROXY_E2E_APISERVER_HTTP_TYPES_H_
#define BPFPROXY_E2E_APISERVER_HTTP_TYPES_H_

#include <string>
#include <string_view>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::e2e::apiserver {

using QueryParams = absl::btree_map<std::string, std::string>;

struct HttpRequest {
  std::string method;  // "GET"
  std::string path;    // percent-decoded, without the query
  QueryParams query;   // decoded; a repeated key keeps its first value
  std::string authorization;
  std::string body;

  // The value of |key|, or "" when absent.
  std::string Param(std::string_view key) const;
};

struct HttpResponse {
  int code = 200;
  std::string body;
  std::string content_type = "application/json";
};

HttpResponse JsonResponse(int code, const nlohmann::json& body);
// The error as a Kubernetes Status object with its HTTP code (api_status.h).
HttpResponse ErrorResponse(const absl::Status& status);

// Splits "/path?a=b&c=d" into a decoded path and query parameters.
absl::Status ParseTarget(std::string_view target, HttpRequest& request);

// Serializes for the wire: invalid UTF-8 is replaced rather than thrown on.
std::string DumpJson(const nlohmann::json& value);

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_HTTP_TYPES_H_
