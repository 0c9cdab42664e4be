// ApiClient: the two Kubernetes API calls a reflector needs (paginated LIST
// and streaming WATCH), behind an interface so reflectors can be tested
// against a fake. RestApiClient (rest_api_client.h) talks to a real server.
//
// Errors: an HTTP error answer becomes an absl::Status that carries the HTTP
// code and the Kubernetes Status reason (HttpCode(), KubernetesReason());
// transport failures carry no HTTP code (0).
#ifndef BPFPROXY_K8S_API_CLIENT_H_
#define BPFPROXY_K8S_API_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "k8s/cancellation.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::k8s {

// One resource collection, as a reflector watches it.
struct ResourceRequest {
  // Collection path, e.g. "/api/v1/services",
  // "/apis/discovery.k8s.io/v1/endpointslices", "/api/v1/nodes".
  std::string path;
  std::string label_selector;  // e.g. "!service.kubernetes.io/headless"
  std::string field_selector;  // e.g. "metadata.name=node-1"
  std::string name_for_logs;   // e.g. "services"
  // Optional. Once cancelled, calls made with this request (and streams they
  // opened) fail promptly with kCancelled.
  std::shared_ptr<Cancellation> cancellation;
};

struct ListPage {
  // Whole objects. Items of a list carry no kind/apiVersion on the wire;
  // clients fill them in from the list's, so every object an ObjectHandler
  // sees looks the same whether it came from a LIST or a WATCH.
  std::vector<nlohmann::json> items;
  std::string resource_version;  // the list's metadata.resourceVersion
  std::string continue_token;    // empty on the last page
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

struct WatchEvent {
  WatchEventType type;
  // The object; for kError a Kubernetes Status object. Not validated beyond
  // being present: decoding is the reflector's job.
  nlohmann::json object;
};

absl::string_view WatchEventTypeName(WatchEventType type);

// The open body of one WATCH request.
class WatchStream {
 public:
  virtual ~WatchStream() = default;

  // Blocks until the next event. Returns:
  //   - an event;
  //   - std::nullopt when the server ended the stream (its timeout passed);
  //   - kDataLoss when one line of the stream could not be decoded (not JSON,
  //     unknown type, no object); the stream stays usable, call Next() again;
  //   - kCancelled after Cancel();
  //   - any other error: the connection failed and the stream is done.
  virtual absl::StatusOr<std::optional<WatchEvent>> Next() = 0;

  // Unblocks Next() from another thread; later calls return kCancelled.
  virtual void Cancel() = 0;
};

// Called once per request when the server answered or the request failed:
// (HTTP method, server host, HTTP code or 0 if there was no answer, time to
// the answer's headers). For metrics; may be called from any thread.
using RequestObserver =
    std::function<void(absl::string_view method, absl::string_view host, int code, absl::Duration duration)>;

// Thread-safe: several reflectors share one client.
class ApiClient {
 public:
  virtual ~ApiClient() = default;

  // One page of a LIST: at most |limit| items (0 = no limit), starting at
  // |continue_token| (empty for the first page).
  virtual absl::StatusOr<ListPage> List(const ResourceRequest& request, int64_t limit,
                                        const std::string& continue_token) = 0;

  // Opens a WATCH from |resource_version| with bookmarks; the server ends it
  // after |timeout|. Returns once the server answered: an HTTP error (e.g.
  // 410 for a compacted resourceVersion) is returned here, not by the stream.
  virtual absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceRequest& request,
                                                             const std::string& resource_version,
                                                             absl::Duration timeout) = 0;
};

// --- Errors ---------------------------------------------------------------

// The status for an HTTP error answer: the absl code follows the HTTP code
// (404 kNotFound, 410 kFailedPrecondition, 401 kUnauthenticated, ...) and
// the message names both, e.g. "HTTP 410 (Expired): too old resource version".
absl::Status ApiError(int http_code, absl::string_view reason, absl::string_view message);

// The status a Kubernetes Status object describes (as sent in a WATCH ERROR
// event or as an error answer's body); |http_code| is used when the object
// has no "code". Never fails: a malformed object gives a kUnknown/kInternal
// status naming what was there.
absl::Status StatusFromKubernetesStatus(const nlohmann::json& status, int http_code);

// The HTTP code an ApiError carries, or 0.
int HttpCode(const absl::Status& status);
// The Kubernetes Status reason an ApiError carries ("Expired", "NotFound"), or "".
std::string KubernetesReason(const absl::Status& status);
// True for "410 Gone": the resourceVersion or continue token is too old and
// the caller must LIST again.
bool IsGone(const absl::Status& status);

// --- Decoding -------------------------------------------------------------

// Parses JSON from the server without exceptions. Refuses documents nested
// deeper than kMaxJsonDepth, because copying and printing nlohmann::json
// recurse: a hostile document must not overflow the stack. kDataLoss on error.
inline constexpr int kMaxJsonDepth = 128;
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text);

// Decodes one line of a WATCH body: {"type": "...", "object": {...}}.
// kDataLoss on anything else.
absl::StatusOr<WatchEvent> ParseWatchEvent(absl::string_view line);

// |value| as short single-line text for logs; never throws (bad UTF-8 is
// replaced).
std::string JsonForLog(const nlohmann::json& value, size_t max_chars = 200);

}  // namespace bpfproxy::k8s

#endif  // BPFPROXY_K8S_API_CLIENT_H_
