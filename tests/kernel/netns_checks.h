// Checks on the named network namespaces tests leave behind, for the
// topology tests: a test must remove every namespace it made.
#ifndef BPFPROXY_TESTS_KERNEL_NETNS_CHECKS_H_
#define BPFPROXY_TESTS_KERNEL_NETNS_CHECKS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "e2e/netns.h"
#include "gtest/gtest.h"

namespace bpfproxy::e2e {

// `ip netns list`'s names; a failure to list fails the test.
inline std::vector<std::string> NetnsNames() {
  absl::StatusOr<std::vector<std::string>> names = ListNetnsNames();
  EXPECT_TRUE(names.ok()) << names.status();
  return names.value_or(std::vector<std::string>{});
}

// None of this process's namespaces is left (other test processes may run
// in parallel, with names of their own).
inline void ExpectNoNamespaceOfThisProcess() {
  for (const std::string& name : NetnsNames()) EXPECT_FALSE(IsNetnsOfThisProcess(name)) << name;
}

}  // namespace bpfproxy::e2e

#endif  // BPFPROXY_TESTS_KERNEL_NETNS_CHECKS_H_
