// The reconciler's behaviour as a table of steps and golden map dumps, so the
// same cases run against FakeLbMaps (tests/proxy/reconciler_test.cc) and
// against the kernel's maps (tests/kernel/).
#ifndef BPFPROXY_TESTS_PROXY_RECONCILER_CASES_H_
#define BPFPROXY_TESTS_PROXY_RECONCILER_CASES_H_

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "proxy/ip_address.h"
#include "proxy/lb_maps.h"
#include "proxy/reconciler.h"
#include "tests/proxy/lb_maps_checks.h"

namespace bpfproxy {

struct ReconcilerStep {
  std::string what;
  DesiredFrontends desired;
  // DumpLines() after Sync(desired): services by frontend then slot, then
  // memberships by frontend then backend ID, then backends by ID.
  std::vector<std::string> expected_dump;
  // Map writes (updates + deletes) the Sync must make, when the contract
  // fixes the number; unset means not checked.
  std::optional<size_t> expected_writes;
};

struct ReconcilerCase {
  std::string name;
  std::vector<ReconcilerStep> steps;
};

std::vector<ReconcilerCase> ReconcilerCases();
// gtest prints a parameter by name instead of its bytes.
void PrintTo(const ReconcilerCase& c, std::ostream* os);

// Runs |c| on |maps|, which must start empty. Every single write must keep
// SlotsResolve (WatchedLbMaps). After each step: Sync is ok, the dump equals
// the golden lines, MapsHold(desired), the write count matches where the step
// fixes it, and a Reconciler restarted on the same maps reports the desired
// state as applied and writes nothing when synced to it again.
void RunReconcilerCase(LbMaps& maps, const ReconcilerCase& c);

// Frontends and backends the cases and the fake-only tests share.
inline constexpr absl::string_view kSvcA = "10.96.0.1:80/TCP";
inline constexpr absl::string_view kSvcB = "10.96.0.2:80/TCP";
inline constexpr absl::string_view kSvcB443 = "10.96.0.2:443/TCP";
inline constexpr absl::string_view kSvcC = "10.96.0.3:80/TCP";
inline constexpr absl::string_view kE1 = "10.244.0.1:8080/TCP";
inline constexpr absl::string_view kE2 = "10.244.0.2:8080/TCP";
inline constexpr absl::string_view kE3 = "10.244.0.3:8080/TCP";
inline constexpr absl::string_view kE4 = "10.244.0.4:8080/TCP";
inline constexpr absl::string_view kE5 = "10.244.0.5:8080/TCP";
inline constexpr absl::string_view kE6 = "10.244.0.6:8080/TCP";

// Test data helpers; they abort on malformed text.
L4Address L4(absl::string_view text);
DesiredFrontends Desired(std::initializer_list<std::pair<absl::string_view, std::vector<absl::string_view>>> frontends);

}  // namespace bpfproxy

#endif  // BPFPROXY_TESTS_PROXY_RECONCILER_CASES_H_
