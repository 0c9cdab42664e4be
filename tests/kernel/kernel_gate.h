// Kernel tests need root (BPF, namespaces, cgroups, mounts). Outside CI they
// skip without it; with BPFPROXY_REQUIRE_KERNEL_TESTS=1 (set by .ci/run) a
// missing prerequisite is a failure, so CI can never pass without running them.
#ifndef BPFPROXY_TESTS_KERNEL_KERNEL_GATE_H_
#define BPFPROXY_TESTS_KERNEL_KERNEL_GATE_H_

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"

namespace bpfproxy::testing_util {
inline bool KernelTestsRequired() {
  const char* v = std::getenv("BPFPROXY_REQUIRE_KERNEL_TESTS");
  return v != nullptr && std::strcmp(v, "1") == 0;
}
}  // namespace bpfproxy::testing_util

#define REQUIRE_KERNEL_TEST_PREREQUISITES()                                            \
  do {                                                                                 \
    if (geteuid() != 0) {                                                              \
      if (::bpfproxy::testing_util::KernelTestsRequired()) {                           \
        FAIL() << "kernel tests must run as root (BPFPROXY_REQUIRE_KERNEL_TESTS=1)";   \
      }                                                                                \
      GTEST_SKIP() << "kernel tests need root";                                        \
    }                                                                                  \
  } while (0)

#endif  // BPFPROXY_TESTS_KERNEL_KERNEL_GATE_H_
