// Continue tokens for paginated lists. Opaque to clients; like the real
// server's, the base64 (URL alphabet, no padding) of
// {"v":"meta.k8s.io/v1","rv":<snapshot resourceVersion>,"start":"<last key>"}.
// rv -1 means "the latest version" (the token an Expired error offers).
#ifndef BPFPROXY_E2E_APISERVER_CONTINUE_TOKEN_H_
#define BPFPROXY_E2E_APISERVER_CONTINUE_TOKEN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace bpfproxy::e2e::apiserver {

struct ContinueToken {
  int64_t rv;
  std::string last_key;  // the next page starts after this key
};

std::string EncodeContinueToken(const ContinueToken& token);
// InvalidArgument (400) for anything that is not a token this server made.
absl::StatusOr<ContinueToken> DecodeContinueToken(std::string_view text);

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_CONTINUE_TOKEN_H_
