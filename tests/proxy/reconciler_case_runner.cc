// RunReconcilerCase: one case of the table in reconciler_cases.cc on any
// LbMaps, with the checks every step gets.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/proxy/reconciler_cases.h"

namespace bpfproxy {

namespace {

std::string FailedString(const SyncResult& result) {
  std::vector<std::string> parts;
  for (const auto& [frontend, status] : result.failed) {
    parts.push_back(absl::StrCat(frontend.ToString(), ": ", status.ToString()));
  }
  return absl::StrJoin(parts, "; ");
}

// A Reconciler restarted on |maps| must see |desired| as applied and find
// nothing to write.
void CheckRestart(WatchedLbMaps& maps, const DesiredFrontends& desired, const std::vector<std::string>& dump) {
  auto restarted = Reconciler::Create(&maps);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_EQ(AsSets((*restarted)->Applied()), AsSets(desired)) << "restarted reconciler's applied state";
  size_t writes_before = maps.writes();
  SyncResult result = (*restarted)->Sync(desired);
  EXPECT_TRUE(result.ok()) << "resync after restart: " << FailedString(result);
  EXPECT_EQ(result.pruned_services, 0u);
  EXPECT_EQ(result.pruned_backends, 0u);
  EXPECT_EQ(maps.writes() - writes_before, 0u) << "resync after restart wrote to the maps";
  EXPECT_EQ(Dump(maps), dump) << "resync after restart changed the maps";
}

}  // namespace

void RunReconcilerCase(LbMaps& maps, const ReconcilerCase& c) {
  SCOPED_TRACE(c.name);
  ASSERT_EQ(Dump(maps), std::vector<std::string>{}) << "maps must start empty";
  WatchedLbMaps watched(maps);
  auto reconciler = Reconciler::Create(&watched);
  ASSERT_TRUE(reconciler.ok()) << reconciler.status();
  for (size_t i = 0; i < c.steps.size(); ++i) {
    const ReconcilerStep& step = c.steps[i];
    SCOPED_TRACE(absl::StrCat("step ", i + 1, ": ", step.what));
    size_t writes_before = watched.writes();
    SyncResult result = (*reconciler)->Sync(step.desired);
    EXPECT_TRUE(result.ok()) << FailedString(result);
    std::vector<std::string> dump = Dump(maps);
    EXPECT_EQ(dump, step.expected_dump);
    EXPECT_TRUE(MapsHold(maps, step.desired));
    if (step.expected_writes.has_value()) {
      EXPECT_EQ(watched.writes() - writes_before, *step.expected_writes) << "map writes";
    }
    EXPECT_EQ(AsSets((*reconciler)->Applied()), AsSets(step.desired)) << "applied state";
    CheckRestart(watched, step.desired, dump);
  }
}

void PrintTo(const ReconcilerCase& c, std::ostream* os) { *os << c.name; }

}  // namespace bpfproxy
