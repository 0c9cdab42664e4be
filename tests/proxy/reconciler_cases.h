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

namespace bpfproxy {

struct ReconcilerStep {
  std::string what;
  DesiredFrontends desired;
  // DumpLines() after Sync(desired): services by frontend then slot, then
  // backends by ID.
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

// Forwards to another LbMaps and watches every write: counts the writes and,
// unless told not to, fails the current test when a write leaves a slot
// dangling (SlotsResolve after each single write: make before break). The
// check walks both maps, so it is for test-sized maps only.
class WatchedLbMaps : public LbMaps {
 public:
  explicit WatchedLbMaps(LbMaps& inner, bool check_each_write = true)
      : inner_(inner), check_each_write_(check_each_write) {}

  absl::Status UpdateService(const lb_service_key& key, const lb_service_value& value) override;
  absl::Status DeleteService(const lb_service_key& key) override;
  absl::Status UpdateBackend(uint32_t id, const lb_backend_value& value) override;
  absl::Status DeleteBackend(uint32_t id) override;
  absl::Status ForEachService(ServiceVisitor visit) const override { return inner_.ForEachService(visit); }
  absl::Status ForEachBackend(BackendVisitor visit) const override { return inner_.ForEachBackend(visit); }
  LbMapCapacity capacity() const override { return inner_.capacity(); }

  size_t writes() const { return writes_; }

 private:
  absl::Status Watch(absl::string_view op, absl::Status status);

  LbMaps& inner_;
  bool check_each_write_;
  size_t writes_ = 0;
};

// Runs |c| on |maps|, which must start empty. Every single write must leave
// all slots resolving (WatchedLbMaps). After each step: Sync is ok, the dump
// equals the golden lines, the write count matches where the step fixes it,
// and a Reconciler restarted on the same maps reports the desired state as
// applied and writes nothing when synced to it again.
void RunReconcilerCase(LbMaps& maps, const ReconcilerCase& c);

// The datapath invariant: every master's slots 1..count exist and point at a
// backend that exists. Holds after every call, successful or not.
::testing::AssertionResult SlotsResolve(const LbMaps& maps);

// The maps hold exactly |desired|: one master per frontend whose slots
// 1..count resolve to that frontend's backends (as a set, each once), and no
// other entry: no slot past its count or without a master, no backend that no
// slot references. Backend IDs and slot order are not compared.
::testing::AssertionResult MapsHold(const LbMaps& maps, const DesiredFrontends& desired);

// DumpLines(maps), or no lines plus a test failure if reading the maps fails.
std::vector<std::string> Dump(const LbMaps& maps);

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

// Frontend -> sorted, de-duplicated backends: compares desired and applied
// state where slot order does not matter.
using FrontendSets = absl::btree_map<L4Address, std::vector<L4Address>>;
FrontendSets AsSets(const DesiredFrontends& frontends);

}  // namespace bpfproxy

#endif  // BPFPROXY_TESTS_PROXY_RECONCILER_CASES_H_
