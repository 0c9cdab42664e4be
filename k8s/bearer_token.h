// BearerTokenSource: the bearer token to send with each request.
#ifndef BPFPROXY_K8S_BEARER_TOKEN_H_
#define BPFPROXY_K8S_BEARER_TOKEN_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "k8s/kube_config.h"

namespace bpfproxy::k8s {

// Thread-safe.
class BearerTokenSource {
 public:
  explicit BearerTokenSource(const ClientConfig& config);

  // The token for the next request, "" for none. The token file, if any, is
  // read on every call: bound service account tokens rotate, and the kubelet
  // replaces the file. When it cannot be read (mid-rotation), the last token
  // read from it is used, else the static token; with neither, an error.
  absl::StatusOr<std::string> Token();

 private:
  const std::string static_token_;
  const std::string token_file_;
  absl::Mutex mu_;
  std::string last_read_ ABSL_GUARDED_BY(mu_);
  // Logs only changes between readable and unreadable, not every request.
  bool file_failing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace bpfproxy::k8s

#endif  // BPFPROXY_K8S_BEARER_TOKEN_H_
