// What a request handler returns, and the options the API handlers share.
#ifndef BPFPROXY_E2E_APISERVER_HANDLER_H_
#define BPFPROXY_E2E_APISERVER_HANDLER_H_

#include <functional>
#include <variant>

#include "absl/time/time.h"
#include "e2e/apiserver/http_types.h"
#include "e2e/apiserver/watch_stream.h"

namespace bpfproxy::e2e::apiserver {

// A complete response, or a watch for the server to stream.
using HandlerResult = std::variant<HttpResponse, WatchResponse>;
using Handler = std::function<HandlerResult(const HttpRequest&)>;

struct ApiOptions {
  // Between BOOKMARK events on watches that allow them.
  absl::Duration bookmark_interval = absl::Minutes(1);
  // For watches without timeoutSeconds. (The real server picks a random
  // duration between 30 and 60 minutes.)
  absl::Duration default_watch_timeout = absl::Minutes(30);
  // A watch from an expired resourceVersion: HTTP 410 instead of a 200
  // stream whose only event is an ERROR with a 410 Status.
  bool expired_as_http_410 = false;
};

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_HANDLER_H_
