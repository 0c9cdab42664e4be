// Helpers for the Reconciler tests on FakeLbMaps (reconciler_test.cc,
// reconciler_failure_test.cc, reconciler_restart_test.cc).
#ifndef BPFPROXY_TESTS_PROXY_RECONCILER_TEST_UTIL_H_
#define BPFPROXY_TESTS_PROXY_RECONCILER_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "proxy/fake_lb_maps.h"
#include "proxy/lb_maps.h"
#include "proxy/reconciler.h"
#include "tests/proxy/reconciler_cases.h"

namespace bpfproxy {

// Dump lines that start with |prefix|, e.g. one frontend's entries.
std::vector<std::string> DumpOf(const LbMaps& maps, absl::string_view prefix);

// Reconciler::Create, or null plus a test failure.
std::unique_ptr<Reconciler> MustCreate(LbMaps& maps);

// Syncs and expects every frontend applied.
void MustSync(Reconciler& reconciler, const DesiredFrontends& desired);

// Fixture: a Reconciler on a FakeLbMaps it sees through a WatchedLbMaps, which
// checks after every single write that no slot dangles. A test that needs
// smaller maps calls maps_.SetCapacity() before its first Sync (Create does
// not look at the capacity).
class ReconcilerOnFakeMapsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reconciler_ = MustCreate(watched_);
    ASSERT_NE(reconciler_, nullptr);
  }

  FakeLbMaps maps_;
  WatchedLbMaps watched_{maps_};
  std::unique_ptr<Reconciler> reconciler_;  // Destroyed before the maps.
};

}  // namespace bpfproxy

#endif  // BPFPROXY_TESTS_PROXY_RECONCILER_TEST_UTIL_H_
