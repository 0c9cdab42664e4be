#include "tests/proxy/reconciler_test_util.h"

#include <utility>

#include "absl/strings/match.h"

namespace bpfproxy {

std::vector<std::string> DumpOf(const LbMaps& maps, absl::string_view prefix) {
  std::vector<std::string> out;
  for (std::string& line : Dump(maps)) {
    if (absl::StartsWith(line, prefix)) out.push_back(std::move(line));
  }
  return out;
}

std::unique_ptr<Reconciler> MustCreate(LbMaps& maps) {
  auto reconciler = Reconciler::Create(&maps);
  EXPECT_TRUE(reconciler.ok()) << reconciler.status();
  return reconciler.ok() ? std::move(*reconciler) : nullptr;
}

void MustSync(Reconciler& reconciler, const DesiredFrontends& desired) {
  SyncResult result = reconciler.Sync(desired);
  for (const auto& [frontend, status] : result.failed) ADD_FAILURE() << frontend.ToString() << ": " << status;
}

}  // namespace bpfproxy
