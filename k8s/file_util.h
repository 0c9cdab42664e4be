// Reading small files (credentials, certificates) into memory.
#ifndef BPFPROXY_K8S_FILE_UTIL_H_
#define BPFPROXY_K8S_FILE_UTIL_H_

#include <string>

#include "absl/status/statusor.h"

namespace bpfproxy::k8s {

// The whole file; an error naming |path| and the errno text. Refuses files
// over 16 MiB: a credential file that large is a mistake.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

}  // namespace bpfproxy::k8s

#endif  // BPFPROXY_K8S_FILE_UTIL_H_
