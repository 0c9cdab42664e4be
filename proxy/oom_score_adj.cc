#include "proxy/oom_score_adj.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "proxy/unique_fd.h"

namespace bpfproxy {

absl::Status ApplyOomScoreAdj(int value, const std::string& path) {
  if (value < -1000 || value > 1000) {
    return absl::InvalidArgumentError(absl::StrCat("oom_score_adj ", value, " is outside [-1000, 1000]"));
  }
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  // One write(2) of the whole number: procfs parses what a single write gives.
  std::string text = absl::StrCat(value, "\n");
  if (!fd.valid() || write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", value, " to ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace bpfproxy
