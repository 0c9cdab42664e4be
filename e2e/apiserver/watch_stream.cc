#include "e2e/apiserver/watch_stream.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "e2e/apiserver/http_types.h"

namespace bpfproxy::e2e::apiserver {

std::string EncodeWatchEvent(std::string_view type, const nlohmann::json& object) {
  // Assembled by hand to keep the upstream field order: type, then object.
  return absl::StrCat("{\"type\":", DumpJson(std::string(type)), ",\"object\":", DumpJson(object), "}\n");
}

StreamEnd StreamWatch(WatchResponse& watch, ChunkSink& sink) {
  if (watch.error.has_value() || watch.subscription == nullptr) {
    if (watch.error.has_value()) sink.Write(EncodeWatchEvent("ERROR", *watch.error));
    return StreamEnd::kFinished;
  }
  Watcher& watcher = watch.subscription->watcher();
  const StreamOptions& options = watch.options;
  const ResourceInfo& info = InfoOf(watcher.resource());
  absl::Time deadline = absl::Now() + options.timeout;
  absl::Time next_bookmark = options.bookmarks ? absl::Now() + options.bookmark_interval : absl::InfiniteFuture();
  while (true) {
    absl::Time wake = std::min({deadline, next_bookmark, absl::Now() + options.peer_check_interval});
    if (watcher.WaitUntil(wake) == Watcher::Wake::kCut) return StreamEnd::kCut;
    int64_t progress_rv = 0;
    for (const WatchEvent& event : watcher.Drain(&progress_rv)) {
      if (!sink.Write(EncodeWatchEvent(event.type, *event.object))) return StreamEnd::kPeerGone;
    }
    absl::Time now = absl::Now();
    if (now >= deadline) return StreamEnd::kFinished;
    if (now >= next_bookmark) {
      if (!sink.Write(EncodeWatchEvent("BOOKMARK", BookmarkObject(info, progress_rv, false)))) {
        return StreamEnd::kPeerGone;
      }
      next_bookmark = now + options.bookmark_interval;
    }
    if (sink.PeerClosed()) return StreamEnd::kPeerGone;
  }
}

}  // namespace bpfproxy::e2e::apiserver
