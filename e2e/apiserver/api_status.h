// Errors as the Kubernetes API reports them: an absl::Status code stands for
// one HTTP code and Status reason, and becomes a `kind: Status` body.
//
//   absl code          HTTP  reason
//   Unauthenticated    401   Unauthorized
//   InvalidArgument    400   BadRequest
//   NotFound           404   NotFound
//   Unimplemented      405   MethodNotAllowed
//   AlreadyExists      409   AlreadyExists
//   OutOfRange         410   Expired   (a resourceVersion older than the retained history)
//   FailedPrecondition 422   Invalid
//   DeadlineExceeded   504   Timeout   (a resourceVersion newer than the server's)
//   anything else      500   InternalError
#ifndef BPFPROXY_E2E_APISERVER_API_STATUS_H_
#define BPFPROXY_E2E_APISERVER_API_STATUS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::e2e::apiserver {

int HttpCodeOf(const absl::Status& status);
std::string_view ReasonOf(const absl::Status& status);

// {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
//  "message":...,"reason":...,"code":...}; metadata.continue when the error
// carries a continue token (see WithContinueToken).
nlohmann::json StatusObject(const absl::Status& status);

// An Expired list error carries a token to continue inconsistently, as the
// real server's does.
absl::Status WithContinueToken(absl::Status status, std::string_view token);

absl::Status TooOldResourceVersion(int64_t requested, int64_t oldest);
absl::Status TooLargeResourceVersion(int64_t requested, int64_t current);

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_API_STATUS_H_
