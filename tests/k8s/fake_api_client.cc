#include "tests/k8s/fake_api_client.h"

#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace bpfproxy::k8s::testing {

nlohmann::json Object(const std::string& ns, const std::string& name, const std::string& rv) {
  nlohmann::json object = {
      {"kind", "Service"}, {"apiVersion", "v1"}, {"metadata", {{"name", name}, {"resourceVersion", rv}}}};
  if (!ns.empty()) object["metadata"]["namespace"] = ns;
  return object;
}

WatchEvent Event(WatchEventType type, nlohmann::json object) { return WatchEvent{type, std::move(object)}; }

WatchEvent Bookmark(const std::string& rv) {
  return Event(WatchEventType::kBookmark,
               {{"kind", "Service"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", rv}}}});
}

WatchEvent ErrorEvent(int code, const std::string& reason) {
  return Event(WatchEventType::kError, {{"kind", "Status"},
                                        {"apiVersion", "v1"},
                                        {"metadata", nlohmann::json::object()},
                                        {"status", "Failure"},
                                        {"message", "too old resource version"},
                                        {"reason", reason},
                                        {"code", code}});
}

// Plays one WatchScript's steps.
class FakeWatchStream : public WatchStream {
 public:
  FakeWatchStream(FakeApiClient* client, WatchScript script, bool idle)
      : client_(client),
        steps_(std::make_move_iterator(script.steps.begin()), std::make_move_iterator(script.steps.end())),
        block_at_end_(script.block_at_end || idle),
        idle_(idle) {}

  absl::StatusOr<std::optional<WatchEvent>> Next() override {
    if (cancelled_.HasBeenNotified()) return absl::CancelledError("cancelled");
    if (!steps_.empty()) {
      auto step = std::move(steps_.front());
      steps_.pop_front();
      return step;
    }
    if (!block_at_end_) return std::optional<WatchEvent>();
    client_->SetBlocked(idle_);
    cancelled_.WaitForNotification();
    return absl::CancelledError("cancelled");
  }

  void Cancel() override {
    absl::MutexLock lock(&mu_);
    if (!cancelled_.HasBeenNotified()) cancelled_.Notify();
  }

 private:
  FakeApiClient* client_;
  std::deque<absl::StatusOr<std::optional<WatchEvent>>> steps_;
  const bool block_at_end_;
  const bool idle_;
  absl::Mutex mu_;
  absl::Notification cancelled_;
};

void FakeApiClient::AddListPage(absl::StatusOr<ListPage> page) {
  absl::MutexLock lock(&mu_);
  pages_.push_back(std::move(page));
}

void FakeApiClient::AddWatch(WatchScript script) {
  absl::MutexLock lock(&mu_);
  watches_.push_back(std::move(script));
}

bool FakeApiClient::WaitUntilIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&idle_), timeout);
}

bool FakeApiClient::WaitUntilBlocked(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&blocked_), timeout);
}

std::vector<FakeApiClient::ListCall> FakeApiClient::list_calls() const {
  absl::MutexLock lock(&mu_);
  return list_calls_;
}

std::vector<FakeApiClient::WatchCall> FakeApiClient::watch_calls() const {
  absl::MutexLock lock(&mu_);
  return watch_calls_;
}

void FakeApiClient::SetBlocked(bool idle) {
  absl::MutexLock lock(&mu_);
  blocked_ = true;
  if (idle) idle_ = true;
}

void FakeApiClient::BlockUntilCancelled(const ResourceRequest& request, bool idle) {
  if (request.cancellation == nullptr) std::abort();  // the reflector always sets one
  auto cancelled = std::make_shared<absl::Notification>();
  Cancellation::Hook hook = request.cancellation->OnCancel([cancelled] { cancelled->Notify(); });
  SetBlocked(idle);
  cancelled->WaitForNotification();
}

absl::StatusOr<ListPage> FakeApiClient::List(const ResourceRequest& request, int64_t limit,
                                             const std::string& continue_token) {
  std::optional<absl::StatusOr<ListPage>> page;
  {
    absl::MutexLock lock(&mu_);
    list_calls_.push_back({limit, continue_token});
    if (!pages_.empty()) {
      page = std::move(pages_.front());
      pages_.pop_front();
    }
  }
  if (page.has_value()) return *std::move(page);
  BlockUntilCancelled(request, /*idle=*/true);
  return absl::CancelledError("cancelled");
}

absl::StatusOr<std::unique_ptr<WatchStream>> FakeApiClient::Watch(const ResourceRequest& request,
                                                                  const std::string& resource_version,
                                                                  absl::Duration timeout) {
  std::optional<WatchScript> script;
  {
    absl::MutexLock lock(&mu_);
    watch_calls_.push_back({resource_version, timeout});
    if (!watches_.empty()) {
      script = std::move(watches_.front());
      watches_.pop_front();
    }
  }
  if (!script.has_value()) return std::make_unique<FakeWatchStream>(this, WatchScript{}, /*idle=*/true);
  if (script->block_open) {
    BlockUntilCancelled(request, /*idle=*/false);
    return absl::CancelledError("cancelled");
  }
  if (!script->open_error.ok()) return script->open_error;
  return std::make_unique<FakeWatchStream>(this, *std::move(script), /*idle=*/false);
}

absl::Time FakeClock::Now() {
  absl::MutexLock lock(&mu_);
  return now_;
}

bool FakeClock::SleepFor(absl::Duration duration, absl::Notification& wake) {
  absl::MutexLock lock(&mu_);
  sleeps_.push_back(duration);
  now_ += duration;
  return !wake.HasBeenNotified();
}

void FakeClock::Advance(absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  now_ += duration;
}

std::vector<absl::Duration> FakeClock::sleeps() const {
  absl::MutexLock lock(&mu_);
  return sleeps_;
}

namespace {
std::string Describe(const nlohmann::json& object) {
  const nlohmann::json& metadata = object.at("metadata");
  std::string key = metadata.contains("namespace") ? absl::StrCat(metadata["namespace"].get<std::string>(), "/",
                                                                  metadata["name"].get<std::string>())
                                                   : metadata["name"].get<std::string>();
  return absl::StrCat(key, "@", metadata["resourceVersion"].get<std::string>());
}
}  // namespace

void RecordingHandler::OnUpsert(const nlohmann::json& object) {
  absl::MutexLock lock(&mu_);
  if (!throw_for_.empty() && object["metadata"]["name"] == throw_for_) throw std::runtime_error("handler bug");
  log_.push_back("upsert " + Describe(object));
}

void RecordingHandler::OnDelete(const nlohmann::json& object) {
  absl::MutexLock lock(&mu_);
  log_.push_back("delete " + Describe(object));
}

void RecordingHandler::OnSynced() {
  absl::MutexLock lock(&mu_);
  log_.push_back("synced");
}

std::vector<std::string> RecordingHandler::TakeLog() {
  absl::MutexLock lock(&mu_);
  return std::exchange(log_, {});
}

void RecordingHandler::ThrowFor(const std::string& name) {
  absl::MutexLock lock(&mu_);
  throw_for_ = name;
}

}  // namespace bpfproxy::k8s::testing
