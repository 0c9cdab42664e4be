#include "proxy/healthz.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bpfproxy {
namespace {

constexpr char kHealthzPath[] = "/healthz";
constexpr char kLivezPath[] = "/livez";

}  // namespace

std::string GoTimeString(std::optional<absl::Time> time, absl::TimeZone zone, std::optional<absl::Time> origin) {
  if (!time.has_value()) return "0001-01-01 00:00:00 +0000 UTC";
  // %E*S drops trailing zeros of the fraction (and the dot for whole
  // seconds), as Go's ".999999999" layout does.
  std::string text = absl::FormatTime("%Y-%m-%d %H:%M:%E*S %z %Z", *time, zone);
  if (origin.has_value()) {
    int64_t nanos = absl::ToInt64Nanoseconds(*time - *origin);
    const char sign = nanos < 0 ? '-' : '+';
    uint64_t magnitude = nanos < 0 ? -static_cast<uint64_t>(nanos) : static_cast<uint64_t>(nanos);
    absl::StrAppendFormat(&text, " m=%c%d.%09d", sign, magnitude / 1000000000, magnitude % 1000000000);
  }
  return text;
}

std::string GoQuote(absl::string_view text) {
  static constexpr absl::string_view kEscaped = "\"\\\a\b\f\n\r\t\v";
  static constexpr absl::string_view kLetter = "\"\\abfnrtv";
  std::string out = "\"";
  for (char c : text) {
    if (size_t i = kEscaped.find(c); i != absl::string_view::npos) {
      out += '\\';
      out += kLetter[i];
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

ProxyHealthServer::ProxyHealthServer(ProxyHealthOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : k8s::Clock::Real()),
      process_start_(clock_->Now()) {}

void ProxyHealthServer::QueuedUpdate(absl::Time when) {
  absl::MutexLock lock(&mu_);
  if (!oldest_pending_.has_value()) oldest_pending_ = when;
  if (!newest_queued_.has_value() || when > *newest_queued_) newest_queued_ = when;
}

void ProxyHealthServer::Updated(absl::Time started, absl::Time finished) {
  absl::MutexLock lock(&mu_);
  last_updated_ = finished;
  if (newest_queued_.has_value() && *newest_queued_ > started) {
    oldest_pending_ = started;  // Pending since after |started|: never later.
  } else {
    oldest_pending_.reset();
    newest_queued_.reset();
  }
}

void ProxyHealthServer::SyncNode(const std::optional<k8s::Node>& node) {
  absl::MutexLock lock(&mu_);
  if (node.has_value()) {
    node_seen_ = true;
    node_eligible_ = node->Eligible();
  } else if (node_seen_) {
    node_eligible_ = false;  // Deleted.
  }
}

ProxyHealthServer::Health ProxyHealthServer::Evaluate(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  bool healthy = !oldest_pending_.has_value() || now - *oldest_pending_ < options_.health_timeout;
  return Health{healthy, last_updated_};
}

bool ProxyHealthServer::IsHealthy() const { return Evaluate(clock_->Now()).healthy; }

bool ProxyHealthServer::NodeEligible() const {
  absl::MutexLock lock(&mu_);
  return node_eligible_;
}

std::string ProxyHealthServer::TimeString(std::optional<absl::Time> time) const {
  return GoTimeString(time, options_.time_zone, process_start_);
}

http::Response ProxyHealthServer::Answer(absl::string_view path, bool healthy, std::string body) {
  int code = healthy ? 200 : 503;
  if (options_.on_answer) options_.on_answer(path, code);
  return http::Response{.status = code,
                        .content_type = "application/json",
                        .headers = {{"X-Content-Type-Options", "nosniff"}},
                        .body = std::move(body)};
}

http::Response ProxyHealthServer::Healthz() {
  bool eligible = NodeEligible();
  absl::Time now = clock_->Now();
  Health health = Evaluate(now);
  bool healthy = health.healthy && eligible;
  // kube-proxy reports "now" as lastUpdated whenever it answers 200.
  std::optional<absl::Time> last_updated = healthy ? std::optional(now) : health.last_updated;
  std::string body = absl::StrCat("{\"lastUpdated\": ", GoQuote(TimeString(last_updated)),
                                  ",\"currentTime\": ", GoQuote(TimeString(now)),
                                  ", \"nodeEligible\": ", eligible ? "true" : "false", "}");
  return Answer(kHealthzPath, healthy, std::move(body));
}

http::Response ProxyHealthServer::Livez() {
  absl::Time now = clock_->Now();
  Health health = Evaluate(now);
  std::optional<absl::Time> last_updated = health.healthy ? std::optional(now) : health.last_updated;
  std::string body = absl::StrCat("{\"lastUpdated\": ", GoQuote(TimeString(last_updated)),
                                  ",\"currentTime\": ", GoQuote(TimeString(now)), "}");
  return Answer(kLivezPath, health.healthy, std::move(body));
}

http::Routes ProxyHealthServer::routes() {
  http::Routes routes;
  routes.exact[kHealthzPath] = [this](const http::Request&) { return Healthz(); };
  routes.exact[kLivezPath] = [this](const http::Request&) { return Livez(); };
  return routes;
}

}  // namespace bpfproxy
