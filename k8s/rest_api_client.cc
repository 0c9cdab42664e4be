#include "k8s/rest_api_client.h"

#include <cpprest/http_client.h>
#include <pplx/pplxtasks.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "k8s/bearer_token.h"
#include "k8s/tls_context.h"
#include "proxy/log.h"

namespace bpfproxy::k8s {
namespace {

namespace http = web::http;
using http::client::http_client;
using http::client::http_client_config;

// A line of a watch stream longer than this cannot be a Kubernetes object
// (etcd refuses values over 1.5 MiB); the stream is given up.
constexpr size_t kMaxWatchLine = 64 << 20;
constexpr size_t kReadChunk = 64 << 10;

// The cancellation sources of every call in flight, so the client's
// destructor can abandon them all.
class CallRegistry {
 public:
  // Returns 0 (and cancels |source|) once the registry is closed.
  uint64_t Add(const pplx::cancellation_token_source& source) {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      source.cancel();
      return 0;
    }
    uint64_t id = next_id_++;
    calls_.emplace(id, source);
    return id;
  }
  void Remove(uint64_t id) {
    absl::MutexLock lock(&mu_);
    calls_.erase(id);
  }
  void CloseAndCancelAll() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (auto& [id, source] : calls_) source.cancel();
  }

 private:
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, pplx::cancellation_token_source> calls_ ABSL_GUARDED_BY(mu_);
};

// One call in flight: cancelled by the request's Cancellation, by the
// client's destructor, or by Cancel().
class ActiveCall {
 public:
  ActiveCall(std::shared_ptr<CallRegistry> registry, std::shared_ptr<Cancellation> cancellation)
      : registry_(std::move(registry)), cancellation_(std::move(cancellation)), id_(registry_->Add(source_)) {
    if (cancellation_ != nullptr) {
      // Captures a copy of the source (a shared handle): the hook may run
      // after this call is gone.
      hook_ = cancellation_->OnCancel([source = source_] { source.cancel(); });
    }
  }
  ~ActiveCall() {
    if (id_ != 0) registry_->Remove(id_);
  }
  pplx::cancellation_token token() const { return source_.get_token(); }
  bool cancelled() const { return source_.get_token().is_canceled(); }
  // Closes the connection: cpprestsdk's registration on the token does that.
  void Cancel() { source_.cancel(); }

 private:
  pplx::cancellation_token_source source_;
  std::shared_ptr<CallRegistry> registry_;
  std::shared_ptr<Cancellation> cancellation_;  // outlives hook_
  uint64_t id_;
  Cancellation::Hook hook_;
};

std::chrono::microseconds ToMicros(absl::Duration d) { return std::chrono::microseconds(absl::ToInt64Microseconds(d)); }

// object[key] if it is a string, else "". (json::value() throws when the
// field has another type; a server's answer must not make us throw.)
std::string StringField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// |status| with |prefix| before its message, payloads (HTTP code, reason)
// kept.
absl::Status Annotate(const absl::Status& status, absl::string_view prefix) {
  absl::Status annotated(status.code(), absl::StrCat(prefix, status.message()));
  status.ForEachPayload(
      [&annotated](absl::string_view url, const absl::Cord& payload) { annotated.SetPayload(url, payload); });
  return annotated;
}

bool IsUnreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& params) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  auto append = [&out](absl::string_view text) {
    for (char c : text) {
      if (IsUnreserved(c)) {
        out += c;
      } else {
        auto byte = static_cast<unsigned char>(c);
        out += '%';
        out += kHex[byte >> 4];
        out += kHex[byte & 0xf];
      }
    }
  };
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    append(name);
    out += '=';
    append(value);
  }
  return out;
}

struct RestApiClient::Shared {
  Shared(const ClientConfig& config, RestClientOptions opts)
      : base_uri(config.server), tokens(config), options(std::move(opts)), registry(std::make_shared<CallRegistry>()) {
    host = base_uri.host();
    if (!base_uri.is_port_default()) absl::StrAppend(&host, ":", base_uri.port());
  }

  // A client for requests that time out after |timeout| of silence.
  std::unique_ptr<http_client> NewClient(absl::Duration timeout) const {
    http_client_config config = base_config;
    config.set_timeout(ToMicros(timeout));
    return std::make_unique<http_client>(base_uri, config);
  }

  absl::StatusOr<http::http_response> Send(http_client& client, const std::string& relative_uri,
                                           const ActiveCall& call);
  absl::Status ErrorFromResponse(http::http_response& response, const std::string& relative_uri);

  web::uri base_uri;
  std::string host;  // host[:port], for the observer
  http_client_config base_config;
  BearerTokenSource tokens;
  RestClientOptions options;
  std::shared_ptr<CallRegistry> registry;
  std::unique_ptr<http_client> list_client;
};

absl::StatusOr<http::http_response> RestApiClient::Shared::Send(http_client& client, const std::string& relative_uri,
                                                                const ActiveCall& call) {
  absl::StatusOr<std::string> token = tokens.Token();
  if (!token.ok()) return token.status();
  const absl::Time start = absl::Now();
  auto observe = [&](int code) {
    if (options.observer) options.observer("GET", host, code, absl::Now() - start);
  };
  try {
    http::http_request request(http::methods::GET);
    request.set_request_uri(web::uri(relative_uri));
    request.headers().add("Accept", "application/json");
    request.headers().add("User-Agent", options.user_agent);
    if (!token->empty()) request.headers().add("Authorization", absl::StrCat("Bearer ", *token));
    http::http_response response = client.request(request, call.token()).get();
    observe(response.status_code());
    return response;
  } catch (const std::exception& e) {  // http_exception, uri_exception, task_canceled
    observe(0);
    if (call.cancelled()) return absl::CancelledError(absl::StrCat("GET ", relative_uri, ": cancelled"));
    return absl::UnavailableError(absl::StrCat("GET ", host, relative_uri, ": ", e.what()));
  }
}

absl::Status RestApiClient::Shared::ErrorFromResponse(http::http_response& response, const std::string& relative_uri) {
  const int code = response.status_code();
  std::string body;
  try {
    body = response.extract_utf8string(/*ignore_content_type=*/true).get();
  } catch (const std::exception& e) {
    body = e.what();
  }
  absl::StatusOr<nlohmann::json> status = ParseJson(body);
  absl::Status error = status.ok() && StringField(*status, "kind") == "Status"
                           ? StatusFromKubernetesStatus(*status, code)
                           : ApiError(code, response.reason_phrase(), body.substr(0, 200));
  return Annotate(error, absl::StrCat("GET ", relative_uri, ": "));
}

namespace {

// The items, resourceVersion and continue token of a list answer. Items get
// the kind and apiVersion the wire format leaves out ("ServiceList" ->
// "Service").
absl::StatusOr<ListPage> DecodeListPage(nlohmann::json list) {
  if (!list.is_object()) return absl::DataLossError("list answer is not an object");
  ListPage page;
  if (auto metadata = list.find("metadata"); metadata != list.end() && metadata->is_object()) {
    page.resource_version = StringField(*metadata, "resourceVersion");
    page.continue_token = StringField(*metadata, "continue");
  }
  std::string kind = StringField(list, "kind");
  const bool strip = absl::EndsWith(kind, "List") && kind.size() > 4;
  if (strip) kind.resize(kind.size() - 4);
  const std::string api_version = StringField(list, "apiVersion");
  auto items = list.find("items");
  if (items == list.end() || items->is_null()) return page;  // an empty list may say "items": null
  if (!items->is_array()) return absl::DataLossError("list answer: items is not an array");
  page.items.reserve(items->size());
  for (nlohmann::json& item : *items) {
    if (item.is_object()) {
      if (strip && !item.contains("kind")) item["kind"] = kind;
      if (!api_version.empty() && !item.contains("apiVersion")) item["apiVersion"] = api_version;
    }
    page.items.push_back(std::move(item));  // malformed items are the reflector's to count
  }
  return page;
}

}  // namespace

namespace {

// The body of one WATCH answer, split into lines as chunks arrive.
class RestWatchStream : public WatchStream {
 public:
  RestWatchStream(std::shared_ptr<RestApiClient::Shared> shared, std::unique_ptr<http_client> client,
                  http::http_response response, std::unique_ptr<ActiveCall> call, std::string description)
      : shared_(std::move(shared)),
        client_(std::move(client)),
        response_(std::move(response)),
        body_(response_.body().streambuf()),
        call_(std::move(call)),
        description_(std::move(description)),
        chunk_(kReadChunk) {}

  // Closes the connection: cpprestsdk would otherwise keep reading the rest
  // of the body into memory nobody reads.
  ~RestWatchStream() override { call_->Cancel(); }

  absl::StatusOr<std::optional<WatchEvent>> Next() override;
  void Cancel() override {
    cancelled_ = true;
    call_->Cancel();
  }

 private:
  // Appends what arrived to |pending_| (waits for at least one byte); sets
  // |eof_| at the end of the body.
  absl::Status ReadMore();
  absl::Status Cancelled() const { return absl::CancelledError(absl::StrCat(description_, ": cancelled")); }

  std::shared_ptr<RestApiClient::Shared> shared_;
  std::unique_ptr<http_client> client_;
  http::http_response response_;
  concurrency::streams::streambuf<uint8_t> body_;
  std::unique_ptr<ActiveCall> call_;
  const std::string description_;
  std::vector<uint8_t> chunk_;
  std::string pending_;  // bytes received, not yet split into lines
  size_t scanned_ = 0;   // no '\n' in pending_[0, scanned_)
  bool eof_ = false;
  std::atomic<bool> cancelled_{false};
};

absl::StatusOr<std::optional<WatchEvent>> RestWatchStream::Next() {
  for (;;) {
    if (cancelled_ || call_->cancelled()) return Cancelled();
    size_t newline = pending_.find('\n', scanned_);
    if (newline != std::string::npos || (eof_ && !pending_.empty())) {
      size_t end = newline != std::string::npos ? newline : pending_.size();
      std::string line = pending_.substr(0, end);
      pending_.erase(0, std::min(end + 1, pending_.size()));
      scanned_ = 0;
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      absl::StatusOr<WatchEvent> event = ParseWatchEvent(line);
      if (!event.ok()) return event.status();  // kDataLoss: the stream goes on
      return std::optional<WatchEvent>(*std::move(event));
    }
    if (eof_) return std::optional<WatchEvent>();
    scanned_ = pending_.size();
    if (pending_.size() > kMaxWatchLine) {
      return absl::ResourceExhaustedError(absl::StrCat(description_, ": a line is longer than ", kMaxWatchLine));
    }
    if (absl::Status status = ReadMore(); !status.ok()) return status;
  }
}

absl::Status RestWatchStream::ReadMore() {
  try {
    // Ask for what is already there, or else for one byte: a larger request
    // would wait for that many bytes, stalling events already received.
    // in_avail() is only a hint here; this thread is the only reader.
    size_t want = std::clamp<size_t>(body_.in_avail(), 1, chunk_.size());
    size_t n = body_.getn(chunk_.data(), want).get();
    if (n == 0) {
      eof_ = true;
    } else {
      pending_.append(reinterpret_cast<const char*>(chunk_.data()), n);
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {  // the connection failed or was closed
    if (cancelled_ || call_->cancelled()) return Cancelled();
    return absl::UnavailableError(absl::StrCat(description_, ": ", e.what()));
  }
}

}  // namespace

RestApiClient::RestApiClient(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

RestApiClient::~RestApiClient() {
  // Calls on other threads and open watches return kCancelled; the watches
  // keep what they need alive through their own reference to shared_.
  shared_->registry->CloseAndCancelAll();
}

absl::StatusOr<std::unique_ptr<RestApiClient>> RestApiClient::Create(const ClientConfig& config,
                                                                     RestClientOptions options) {
  if (!absl::StartsWith(config.server, "https://") && !absl::StartsWith(config.server, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat("server \"", config.server, "\" is not an http(s) URL"));
  }
  std::shared_ptr<Shared> shared;
  try {
    shared = std::make_shared<Shared>(config, std::move(options));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("server \"", config.server, "\": ", e.what()));
  }
  if (absl::StartsWith(shared->base_uri.host(), "[")) {
    return absl::UnimplementedError(
        absl::StrCat("server ", config.server, ": cpprestsdk cannot connect to an IPv6 literal; use a host name"));
  }
  const bool https = shared->base_uri.scheme() == "https";
  if (!https && (!config.ca_pem.empty() || !config.client_cert_pem.empty())) {
    KLOG(WARNING) << "Server " << config.server << " is plain http: the TLS settings are not used";
  }
  auto tls =
      std::make_shared<const TlsMaterial>(TlsMaterial{config.ca_pem, config.client_cert_pem, config.client_key_pem});
  if (https) {
    // Apply once now, so bad PEM fails here and not at every connection.
    boost::asio::ssl::context scratch(boost::asio::ssl::context::sslv23);
    if (absl::Status status = ConfigureTlsContext(*tls, scratch); !status.ok()) return status;
  }
  shared->base_config.set_validate_certificates(!config.insecure_skip_tls_verify);
  shared->base_config.set_ssl_context_callback([tls](boost::asio::ssl::context& context) {
    // Validated in Create(); cannot fail now short of running out of memory.
    if (absl::Status status = ConfigureTlsContext(*tls, context); !status.ok()) {
      KLOG(ERROR) << "TLS setup failed: " << status;
    }
  });
  shared->list_client = shared->NewClient(shared->options.request_timeout);
  if (config.insecure_skip_tls_verify && https) {
    KLOG(WARNING) << "TLS verification of " << config.server << " is off (insecure-skip-tls-verify)";
  }
  return std::unique_ptr<RestApiClient>(new RestApiClient(std::move(shared)));
}

absl::StatusOr<ListPage> RestApiClient::List(const ResourceRequest& request, int64_t limit,
                                             const std::string& continue_token) {
  std::vector<std::pair<std::string, std::string>> params;
  if (limit > 0) params.emplace_back("limit", absl::StrCat(limit));
  if (!continue_token.empty()) params.emplace_back("continue", continue_token);
  if (!request.label_selector.empty()) params.emplace_back("labelSelector", request.label_selector);
  if (!request.field_selector.empty()) params.emplace_back("fieldSelector", request.field_selector);
  const std::string uri = params.empty() ? request.path : absl::StrCat(request.path, "?", EncodeQuery(params));

  ActiveCall call(shared_->registry, request.cancellation);
  absl::StatusOr<http::http_response> response = shared_->Send(*shared_->list_client, uri, call);
  if (!response.ok()) return response.status();
  if (response->status_code() != http::status_codes::OK) return shared_->ErrorFromResponse(*response, uri);
  std::string body;
  try {
    body = response->extract_utf8string(/*ignore_content_type=*/true).get();
  } catch (const std::exception& e) {
    if (call.cancelled()) return absl::CancelledError(absl::StrCat("GET ", uri, ": cancelled"));
    return absl::UnavailableError(absl::StrCat("GET ", uri, ": reading the answer: ", e.what()));
  }
  absl::StatusOr<nlohmann::json> list = ParseJson(body);
  if (!list.ok()) return absl::DataLossError(absl::StrCat("GET ", uri, ": ", list.status().message()));
  absl::StatusOr<ListPage> page = DecodeListPage(*std::move(list));
  if (!page.ok()) return absl::DataLossError(absl::StrCat("GET ", uri, ": ", page.status().message()));
  return page;
}

absl::StatusOr<std::unique_ptr<WatchStream>> RestApiClient::Watch(const ResourceRequest& request,
                                                                  const std::string& resource_version,
                                                                  absl::Duration timeout) {
  const int64_t timeout_seconds = std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(timeout, absl::Seconds(1))));
  std::vector<std::pair<std::string, std::string>> params = {{"watch", "1"}};
  if (!resource_version.empty()) params.emplace_back("resourceVersion", resource_version);
  params.emplace_back("allowWatchBookmarks", "true");
  params.emplace_back("timeoutSeconds", absl::StrCat(timeout_seconds));
  if (!request.label_selector.empty()) params.emplace_back("labelSelector", request.label_selector);
  if (!request.field_selector.empty()) params.emplace_back("fieldSelector", request.field_selector);
  const std::string uri = absl::StrCat(request.path, "?", EncodeQuery(params));

  // Its own http_client: cpprestsdk's timeout is per client, and a watch
  // needs one longer than the server's.
  std::unique_ptr<http_client> client =
      shared_->NewClient(absl::Seconds(timeout_seconds) + shared_->options.watch_timeout_slack);
  auto call = std::make_unique<ActiveCall>(shared_->registry, request.cancellation);
  absl::StatusOr<http::http_response> response = shared_->Send(*client, uri, *call);
  if (!response.ok()) return response.status();
  if (response->status_code() != http::status_codes::OK) return shared_->ErrorFromResponse(*response, uri);
  return std::make_unique<RestWatchStream>(shared_, std::move(client), *std::move(response), std::move(call),
                                           absl::StrCat("watch ", request.name_for_logs));
}

}  // namespace bpfproxy::k8s
