// GoogleTest helpers for absl::Status / absl::StatusOr.
#ifndef BPFPROXY_TESTS_UTIL_STATUS_MACROS_H_
#define BPFPROXY_TESTS_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace bpfproxy::testing_util {
inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace bpfproxy::testing_util

#define BPFP_CONCAT_INNER(a, b) a##b
#define BPFP_CONCAT(a, b) BPFP_CONCAT_INNER(a, b)

// The expression is evaluated once.
#define ASSERT_OK(expr) ASSERT_OK_IMPL(BPFP_CONCAT(status_, __LINE__), expr, ASSERT_TRUE)
#define EXPECT_OK(expr) ASSERT_OK_IMPL(BPFP_CONCAT(status_, __LINE__), expr, EXPECT_TRUE)
#define ASSERT_OK_IMPL(tmp, expr, check)                                    \
  do {                                                                      \
    const absl::Status tmp = ::bpfproxy::testing_util::StatusOf(expr);      \
    check(tmp.ok()) << tmp;                                                 \
  } while (0)

// ASSERT_OK_AND_ASSIGN(auto x, MakeX());
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(BPFP_CONCAT(status_or_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  ASSERT_TRUE(tmp.ok()) << tmp.status();          \
  lhs = std::move(tmp).value()

#endif  // BPFPROXY_TESTS_UTIL_STATUS_MACROS_H_
