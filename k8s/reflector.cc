#include "k8s/reflector.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "proxy/log.h"

namespace bpfproxy::k8s {
namespace {

// An expired continue token restarts the list at most this many times in a
// row; then the list fails and is retried after the backoff.
constexpr int kMaxListRestarts = 3;
// A watch that ends "normally" this fast without a single event is treated
// as a failure (as client-go does), so a server or proxy that closes watches
// at once cannot make the reflector spin.
constexpr absl::Duration kVeryShortWatch = absl::Seconds(1);

std::function<double()> DefaultRandom() {
  auto gen = std::make_shared<absl::BitGen>();
  // Only the reflector's thread draws numbers.
  return [gen] { return absl::Uniform<double>(*gen, 0.0, 1.0); };
}

// Code and message; the HTTP code and reason payloads are in the message.
std::string ForLog(const absl::Status& status) { return status.ToString(absl::StatusToStringMode::kWithNoExtraData); }

const nlohmann::json* Metadata(const nlohmann::json& object) {
  if (!object.is_object()) return nullptr;
  auto it = object.find("metadata");
  if (it == object.end() || !it->is_object()) return nullptr;
  return &*it;
}

// metadata[field] if it is a string.
const std::string* MetadataString(const nlohmann::json& object, const char* field) {
  const nlohmann::json* metadata = Metadata(object);
  if (metadata == nullptr) return nullptr;
  auto it = metadata->find(field);
  if (it == metadata->end() || !it->is_string()) return nullptr;
  return &it->get_ref<const std::string&>();
}

}  // namespace

std::optional<std::string> ObjectKey(const nlohmann::json& object) {
  const std::string* name = MetadataString(object, "name");
  if (name == nullptr || name->empty()) return std::nullopt;
  const nlohmann::json* metadata = Metadata(object);
  auto ns = metadata->find("namespace");
  if (ns == metadata->end() || ns->is_null()) return *name;
  if (!ns->is_string()) return std::nullopt;
  const std::string& ns_name = ns->get_ref<const std::string&>();
  return ns_name.empty() ? *name : absl::StrCat(ns_name, "/", *name);
}

std::optional<std::string> ObjectResourceVersion(const nlohmann::json& object) {
  const std::string* rv = MetadataString(object, "resourceVersion");
  if (rv == nullptr || rv->empty()) return std::nullopt;
  return *rv;
}

Reflector::Reflector(ApiClient* client, ResourceRequest request, ObjectHandler* handler, ReflectorOptions options)
    : client_(client),
      request_(std::move(request)),
      handler_(handler),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
      random_(options_.random ? options_.random : DefaultRandom()),
      cancellation_(std::make_shared<Cancellation>()),
      backoff_(options_.backoff, random_) {
  // Our own cancellation, so Stop() aborts this reflector's calls only.
  request_.cancellation = cancellation_;
  if (request_.name_for_logs.empty()) request_.name_for_logs = request_.path;
}

Reflector::~Reflector() { Stop(); }

void Reflector::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stop_requested_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void Reflector::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!stop_requested_) {
      stop_requested_ = true;
      stop_.Notify();
      if (current_watch_ != nullptr) current_watch_->Cancel();
    }
  }
  cancellation_->Cancel();
  if (thread_.joinable()) thread_.join();
}

ReflectorStats Reflector::stats() const {
  ReflectorStats stats;
  stats.relists = relists_.load();
  stats.reconnects = reconnects_.load();
  stats.list_errors = list_errors_.load();
  stats.decode_errors = decode_errors_.load();
  stats.events = events_.load();
  return stats;
}

void Reflector::Run() {
  const std::string& name = request_.name_for_logs;
  bool need_list = true;
  while (!stopping()) {
    if (need_list) {
      absl::Status status = ListAndDeliver();
      if (stopping()) return;
      if (!status.ok()) {
        ++list_errors_;
        KLOG(WARNING) << "Reflector " << name << ": list failed: " << ForLog(status);
        if (!SleepBackoff()) return;
        continue;
      }
      need_list = false;
    }
    WatchResult result = WatchOnce();
    if (result.healthy) backoff_.Reset();
    switch (result.end) {
      case WatchEnd::kStopped: return;
      case WatchEnd::kTimedOut: break;  // watch again at once from the last resourceVersion
      case WatchEnd::kGone:
        ++relists_;
        need_list = true;
        // After a healthy watch the 410 is the server's complete answer: list
        // at once. Otherwise back off, so a server that keeps answering 410
        // is not listed in a tight loop.
        if (!result.healthy && !SleepBackoff()) return;
        break;
      case WatchEnd::kError:
        ++reconnects_;
        if (!SleepBackoff()) return;
        break;
    }
  }
}

bool Reflector::SleepBackoff() {
  absl::Duration delay = backoff_.Next();
  VLOG(2) << "Reflector " << request_.name_for_logs << ": retrying in " << delay;
  return clock_->SleepFor(delay, stop_);
}

absl::Status Reflector::ListAndDeliver() {
  std::string resource_version;
  absl::StatusOr<absl::btree_map<std::string, nlohmann::json>> listed = ListAll(&resource_version);
  if (!listed.ok()) return listed.status();
  if (resource_version.empty()) {
    KLOG(WARNING) << "Reflector " << request_.name_for_logs
                  << ": the list has no resourceVersion; watching without one (the server sends every object again)";
  }
  KLOG(INFO) << "Reflector " << request_.name_for_logs << ": listed " << listed->size()
             << " objects at resourceVersion " << resource_version;
  DeliverList(*std::move(listed));
  last_resource_version_ = std::move(resource_version);
  if (!synced_.exchange(true)) CallHandler("OnSynced", [this] { handler_->OnSynced(); });
  return absl::OkStatus();
}

absl::StatusOr<absl::btree_map<std::string, nlohmann::json>> Reflector::ListAll(std::string* resource_version) {
  absl::btree_map<std::string, nlohmann::json> listed;
  std::string continue_token;
  int restarts = 0;
  for (;;) {
    if (stopping()) return absl::CancelledError("reflector stopped");
    absl::StatusOr<ListPage> page = client_->List(request_, options_.page_size, continue_token);
    if (!page.ok()) {
      if (continue_token.empty() || !IsGone(page.status()) || restarts >= kMaxListRestarts) return page.status();
      // The continue token expired (the server compacted the history the
      // list was reading). Pages of one list must come from one snapshot, so
      // start over.
      KLOG(WARNING) << "Reflector " << request_.name_for_logs
                    << ": continue token expired, listing again: " << ForLog(page.status());
      ++restarts;
      ++relists_;
      listed.clear();
      continue_token.clear();
      continue;
    }
    for (nlohmann::json& item : page->items) {
      std::optional<std::string> key = ObjectKey(item);
      if (!key.has_value() || !ObjectResourceVersion(item).has_value()) {
        CountDecodeError("list item", item);
        continue;
      }
      listed.insert_or_assign(*std::move(key), std::move(item));
    }
    if (page->continue_token.empty()) {
      *resource_version = std::move(page->resource_version);
      return listed;
    }
    continue_token = std::move(page->continue_token);
  }
}

void Reflector::DeliverList(absl::btree_map<std::string, nlohmann::json> listed) {
  // Upserts before deletes (make before break): an endpoint that moved from
  // a vanished EndpointSlice to a new one is never missing in between.
  for (auto& [key, object] : listed) {
    auto known = objects_.find(key);
    if (known != objects_.end() && ObjectResourceVersion(known->second) == ObjectResourceVersion(object)) continue;
    CallHandler("OnUpsert", [&, &object = object] { handler_->OnUpsert(object); });
  }
  for (const auto& [key, object] : objects_) {
    if (listed.contains(key)) continue;
    CallHandler("OnDelete", [&, &object = object] { handler_->OnDelete(object); });
  }
  objects_ = std::move(listed);
}

Reflector::WatchResult Reflector::WatchOnce() {
  const double r = std::clamp(random_(), 0.0, 1.0);
  const absl::Duration timeout = options_.min_watch_timeout * (1.0 + r);
  const absl::Time started = clock_->Now();
  absl::StatusOr<std::unique_ptr<WatchStream>> stream = client_->Watch(request_, last_resource_version_, timeout);
  if (!stream.ok()) return {WatchFailure(stream.status(), "watch request failed"), false};
  {
    absl::MutexLock lock(&mu_);
    if (stop_requested_) return {WatchEnd::kStopped, false};
    current_watch_ = stream->get();
  }
  int64_t valid_events = 0;
  WatchEnd end = ReadWatch(**stream, valid_events);
  {
    absl::MutexLock lock(&mu_);
    current_watch_ = nullptr;
  }
  const absl::Duration lasted = clock_->Now() - started;
  if (end == WatchEnd::kTimedOut && valid_events == 0 && lasted < kVeryShortWatch) {
    KLOG(WARNING) << "Reflector " << request_.name_for_logs
                  << ": the watch closed at once without events; retrying after a backoff";
    end = WatchEnd::kError;
  }
  return {end, valid_events > 0 || lasted >= options_.healthy_watch};
}

Reflector::WatchEnd Reflector::ReadWatch(WatchStream& stream, int64_t& valid_events) {
  for (;;) {
    absl::StatusOr<std::optional<WatchEvent>> next = stream.Next();
    if (stopping()) return WatchEnd::kStopped;
    if (!next.ok()) {
      if (absl::IsDataLoss(next.status())) {
        ++events_;
        CountDecodeError(next.status().message(), nullptr);
        continue;
      }
      return WatchFailure(next.status(), "watch failed");
    }
    if (!next->has_value()) return WatchEnd::kTimedOut;
    ++events_;
    switch (HandleEvent(**next)) {
      case EventOutcome::kApplied: ++valid_events; break;
      case EventOutcome::kSkipped: break;
      case EventOutcome::kGone: return WatchEnd::kGone;
      case EventOutcome::kError: return WatchEnd::kError;
    }
  }
}

Reflector::WatchEnd Reflector::WatchFailure(const absl::Status& status, absl::string_view what) {
  if (stopping()) return WatchEnd::kStopped;
  if (IsGone(status)) {
    KLOG(INFO) << "Reflector " << request_.name_for_logs << ": resourceVersion " << last_resource_version_
               << " is gone, listing again: " << ForLog(status);
    return WatchEnd::kGone;
  }
  KLOG(WARNING) << "Reflector " << request_.name_for_logs << ": " << what << ": " << ForLog(status);
  return WatchEnd::kError;
}

Reflector::EventOutcome Reflector::HandleEvent(WatchEvent& event) {
  const absl::string_view type = WatchEventTypeName(event.type);
  if (event.type == WatchEventType::kError) {
    absl::Status status = StatusFromKubernetesStatus(event.object, 0);
    return WatchFailure(status, "watch ERROR event") == WatchEnd::kGone ? EventOutcome::kGone : EventOutcome::kError;
  }
  std::optional<std::string> rv = ObjectResourceVersion(event.object);
  if (event.type == WatchEventType::kBookmark) {
    if (!rv.has_value()) {
      CountDecodeError("BOOKMARK event", event.object);
      return EventOutcome::kSkipped;
    }
    last_resource_version_ = *std::move(rv);
    return EventOutcome::kApplied;
  }
  std::optional<std::string> key = ObjectKey(event.object);
  if (!key.has_value() || !rv.has_value()) {
    CountDecodeError(absl::StrCat(type, " event"), event.object);
    return EventOutcome::kSkipped;
  }
  VLOG(4) << "Reflector " << request_.name_for_logs << ": " << type << " " << *key << " at " << *rv;
  last_resource_version_ = *std::move(rv);
  if (event.type == WatchEventType::kDeleted) {
    Delete(*key, event.object);
  } else {
    Upsert(*std::move(key), std::move(event.object));
  }
  return EventOutcome::kApplied;
}

void Reflector::Upsert(std::string key, nlohmann::json object) {
  auto [it, inserted] = objects_.try_emplace(std::move(key));
  // The same state twice (e.g. an ADDED for what the list already had) is
  // delivered once.
  if (!inserted && ObjectResourceVersion(it->second) == ObjectResourceVersion(object)) return;
  it->second = std::move(object);
  const nlohmann::json& stored = it->second;
  CallHandler("OnUpsert", [&] { handler_->OnUpsert(stored); });
}

void Reflector::Delete(const std::string& key, const nlohmann::json& object) {
  // A delete of something never delivered (skipped as malformed, say) means
  // nothing to the handler.
  if (objects_.erase(key) == 0) {
    VLOG(2) << "Reflector " << request_.name_for_logs << ": DELETED " << key << " was not known";
    return;
  }
  CallHandler("OnDelete", [&] { handler_->OnDelete(object); });
}

void Reflector::CallHandler(const char* what, const std::function<void()>& call) {
  // A handler that throws on an odd object (nlohmann::json throws on type
  // mismatches) must not take the reflector's thread, and the process, down.
  try {
    call();
  } catch (const std::exception& e) {
    ++decode_errors_;
    KLOG(ERROR) << "Reflector " << request_.name_for_logs << ": " << what << " threw: " << e.what();
  } catch (...) {
    ++decode_errors_;
    KLOG(ERROR) << "Reflector " << request_.name_for_logs << ": " << what << " threw a non-exception";
  }
}

void Reflector::CountDecodeError(absl::string_view what, const nlohmann::json& object) {
  ++decode_errors_;
  KLOG(WARNING) << "Reflector " << request_.name_for_logs << ": skipping undecodable " << what
                << (object.is_null() ? "" : ": ") << (object.is_null() ? "" : JsonForLog(object));
}

}  // namespace bpfproxy::k8s
