// The base of the kernel and end-to-end fixtures: a private bpffs, a
// test-owned cgroup this process joins (so its sockets see the socket-LB
// programs), and a node namespace with pod namespaces that the test thread
// enters. Everything is removed when the test ends, also when it fails.
#ifndef BPFPROXY_TESTS_KERNEL_NODE_FIXTURE_H_
#define BPFPROXY_TESTS_KERNEL_NODE_FIXTURE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "e2e/topology.h"
#include "gtest/gtest.h"
#include "tests/kernel/kernel_gate.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {

class NodeFixture : public ::testing::Test {
 protected:
  // Call first in SetUp(); skips (or fails, in CI) without root.
  void SetUpNode(std::vector<uint16_t> ports = {8080}) {
    REQUIRE_KERNEL_TEST_PREREQUISITES();
    ASSERT_OK_AND_ASSIGN(bpffs_, e2e::BpffsMount::Create());
    ASSERT_OK_AND_ASSIGN(cgroup_, e2e::TestCgroup::Create(e2e::kTestPrefix));
    ASSERT_OK_AND_ASSIGN(topology_, e2e::PodTopology::Create({.pods = 3, .ports = std::move(ports)}));
    ASSERT_OK_AND_ASSIGN(auto membership, cgroup_->Enter());
    membership_.emplace(std::move(membership));
    ASSERT_OK_AND_ASSIGN(auto entered, topology_->node().Enter());
    in_node_.emplace(std::move(entered));
  }

  // Back to the host's namespace and cgroup; call in TearDown() once what
  // runs inside them is stopped.
  void LeaveNode() {
    in_node_.reset();
    membership_.reset();
  }

  bool node_ready() const { return bpffs_ != nullptr && cgroup_ != nullptr; }
  std::string bpf_root() const { return bpffs_->path() + "/bpfproxy"; }

  std::unique_ptr<e2e::BpffsMount> bpffs_;
  std::unique_ptr<e2e::TestCgroup> cgroup_;
  std::unique_ptr<e2e::PodTopology> topology_;
  std::optional<e2e::TestCgroup::Membership> membership_;
  std::optional<e2e::NetNs::Entered> in_node_;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_TESTS_KERNEL_NODE_FIXTURE_H_
