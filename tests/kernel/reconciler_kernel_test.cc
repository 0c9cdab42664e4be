// The reconciler's table of cases (tests/proxy/reconciler_cases.cc) on the
// kernel's maps: the same golden dumps must come out of real BPF hash maps
// as out of FakeLbMaps, and be read back by a restarted reconciler.
#include <memory>

#include "e2e/topology.h"
#include "gtest/gtest.h"
#include "proxy/socket_lb.h"
#include "tests/kernel/kernel_gate.h"
#include "tests/proxy/reconciler_cases.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {
namespace {

class ReconcilerOnKernelMapsTest : public ::testing::TestWithParam<ReconcilerCase> {};

TEST_P(ReconcilerOnKernelMapsTest, GoldenDumps) {
  REQUIRE_KERNEL_TEST_PREREQUISITES();
  ASSERT_OK_AND_ASSIGN(auto bpffs, e2e::BpffsMount::Create());
  ASSERT_OK_AND_ASSIGN(auto cgroup, e2e::TestCgroup::Create(e2e::kTestPrefix));
  SocketLbConfig config;
  config.bpf_root = bpffs->path() + "/bpfproxy";
  config.cgroup_root = cgroup->path();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SocketLb> lb, SocketLb::Open(config));
  RunReconcilerCase(lb->maps(), GetParam());
  lb.reset();
  EXPECT_OK(SocketLb::Cleanup(config.bpf_root));
}

INSTANTIATE_TEST_SUITE_P(Cases, ReconcilerOnKernelMapsTest, ::testing::ValuesIn(ReconcilerCases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace bpfproxy
