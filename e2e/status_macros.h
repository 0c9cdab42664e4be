// Status macros for the e2e library's own .cc files; no public header includes
// this. Local because absl does not ship public status macros.
#ifndef BPFPROXY_E2E_STATUS_MACROS_H_
#define BPFPROXY_E2E_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"

#define BPFPT_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    if (absl::Status status_ = (expr); !status_.ok()) \
      return status_;                               \
  } while (0)
#define BPFPT_CONCAT_INNER(a, b) a##b
#define BPFPT_CONCAT(a, b) BPFPT_CONCAT_INNER(a, b)
#define BPFPT_ASSIGN_OR_RETURN(lhs, expr) \
  BPFPT_ASSIGN_OR_RETURN_IMPL(BPFPT_CONCAT(statusor_, __LINE__), lhs, expr)
#define BPFPT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(*tmp)

#endif  // BPFPROXY_E2E_STATUS_MACROS_H_
