// kube-proxy's --oom-score-adj / oomScoreAdj: how likely the kernel's OOM
// killer is to pick this process (-1000 never, 1000 first). kube-proxy sets
// -999 so that a node short of memory keeps its Services working; so do we.
#ifndef BPFPROXY_PROXY_OOM_SCORE_ADJ_H_
#define BPFPROXY_PROXY_OOM_SCORE_ADJ_H_

#include <string>

#include "absl/status/status.h"

namespace bpfproxy {

// Writes |value| to |path| (this process's oom_score_adj). Lowering it takes
// CAP_SYS_RESOURCE; kube-proxy logs a failure and goes on, and so should the
// caller. The error names the file and the errno.
absl::Status ApplyOomScoreAdj(int value, const std::string& path = "/proc/self/oom_score_adj");

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_OOM_SCORE_ADJ_H_
