#include "k8s/bearer_token.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "k8s/file_util.h"
#include "proxy/log.h"

namespace bpfproxy::k8s {

BearerTokenSource::BearerTokenSource(const ClientConfig& config)
    : static_token_(config.token), token_file_(config.token_file) {}

absl::StatusOr<std::string> BearerTokenSource::Token() {
  if (token_file_.empty()) return static_token_;
  absl::StatusOr<std::string> read = ReadSmallFile(token_file_);
  std::string token = read.ok() ? std::string(absl::StripAsciiWhitespace(*read)) : std::string();
  absl::MutexLock lock(&mu_);
  if (!token.empty()) {
    if (file_failing_) KLOG(INFO) << "Token file " << token_file_ << " is readable again";
    file_failing_ = false;
    last_read_ = token;
    return token;
  }
  const absl::Status problem =
      read.ok() ? absl::FailedPreconditionError(absl::StrCat(token_file_, " is empty")) : read.status();
  if (!file_failing_) KLOG(WARNING) << "Cannot use token file: " << problem;
  file_failing_ = true;
  if (!last_read_.empty()) return last_read_;
  if (!static_token_.empty()) return static_token_;
  return absl::UnauthenticatedError(absl::StrCat("no bearer token: ", problem.message()));
}

}  // namespace bpfproxy::k8s
