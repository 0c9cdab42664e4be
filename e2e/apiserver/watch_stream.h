// Streams one watch to its client: queued events as JSON lines, BOOKMARKs
// at an interval when the client allows them, a clean end after the
// timeout, an abrupt one when the watch is cut.
#ifndef BPFPROXY_E2E_APISERVER_WATCH_STREAM_H_
#define BPFPROXY_E2E_APISERVER_WATCH_STREAM_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "e2e/apiserver/object_store.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::e2e::apiserver {

// Where the stream goes; the HTTP server implements it with chunked encoding.
class ChunkSink {
 public:
  virtual ~ChunkSink() = default;
  // One chunk, sent right away. False when the client is gone.
  virtual bool Write(std::string_view chunk) = 0;
  // True once the client has closed its side.
  virtual bool PeerClosed() = 0;
};

struct StreamOptions {
  absl::Duration timeout = absl::Minutes(30);
  bool bookmarks = false;
  absl::Duration bookmark_interval = absl::Minutes(1);
  // How often an idle stream checks whether its client went away.
  absl::Duration peer_check_interval = absl::Milliseconds(200);
};

// A watch the API accepted: either an open subscription or, for a start
// version older than the history, one ERROR event (a Status) and the end.
struct WatchResponse {
  std::unique_ptr<WatchSubscription> subscription;
  std::optional<nlohmann::json> error;
  StreamOptions options;
};

enum class StreamEnd {
  kFinished,  // timeout passed or the ERROR event was sent: end the body cleanly
  kCut,       // the watch was cut: drop the connection without ending the body
  kPeerGone,  // the client closed or a write failed
};

StreamEnd StreamWatch(WatchResponse& watch, ChunkSink& sink);

// {"type":...,"object":...} and a newline: one line of a watch body.
std::string EncodeWatchEvent(std::string_view type, const nlohmann::json& object);

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_WATCH_STREAM_H_
