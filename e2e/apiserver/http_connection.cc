#include "e2e/apiserver/http_connection.h"

#include <poll.h>

#include <string>
#include <string_view>

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/str_cat.h"

namespace bpfproxy::e2e::apiserver {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;

constexpr uint64_t kMaxBodyBytes = 64 << 20;  // bulk loads can be large
// What a cut watch leaves on the wire: a chunk header promising more bytes
// than follow, then the start of an event.
constexpr std::string_view kTornChunk = "400\r\n{\"type\":\"MODIFIED\",\"object\":{\"kind\":";

template <class Stream>
class BeastChunkSink : public ChunkSink {
 public:
  BeastChunkSink(Stream& stream, int fd) : stream_(stream), fd_(fd) {}
  bool Write(std::string_view chunk) override {
    beast::error_code ec;
    net::write(stream_, http::make_chunk(net::const_buffer(chunk.data(), chunk.size())), ec);
    return !ec;
  }
  bool PeerClosed() override {
    pollfd pfd{fd_, POLLRDHUP, 0};
    return ::poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

 private:
  Stream& stream_;
  int fd_;
};

HttpRequest ToRequest(const http::request<http::string_body>& message, absl::Status* target_status) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  *target_status = ParseTarget(std::string_view(message.target().data(), message.target().size()), request);
  if (auto it = message.find(http::field::authorization); it != message.end()) {
    request.authorization = std::string(it->value());
  }
  request.body = message.body();
  return request;
}

template <class Stream>
bool WriteResponse(Stream& stream, const http::request<http::string_body>& request, const HttpResponse& response) {
  http::response<http::string_body> message{static_cast<http::status>(response.code), request.version()};
  message.set(http::field::content_type, response.content_type);
  message.keep_alive(request.keep_alive());
  message.body() = response.body;
  message.prepare_payload();
  beast::error_code ec;
  http::write(stream, message, ec);
  return !ec && request.keep_alive();
}

// Returns whether the connection can serve another request.
template <class Stream>
bool StreamResponse(Stream& stream, const http::request<http::string_body>& request, WatchResponse& watch,
                    const ConnectionHooks& hooks) {
  http::response<http::empty_body> header{http::status::ok, request.version()};
  header.set(http::field::content_type, "application/json");
  header.keep_alive(request.keep_alive());
  header.chunked(true);
  http::response_serializer<http::empty_body> serializer{header};
  beast::error_code ec;
  http::write_header(stream, serializer, ec);
  if (ec) return false;
  Watcher* watcher = watch.subscription ? &watch.subscription->watcher() : nullptr;
  if (watcher != nullptr && !hooks.set_watch(watcher)) watcher->Cut();
  BeastChunkSink<Stream> sink(stream, hooks.fd);
  StreamEnd end = StreamWatch(watch, sink);
  if (watcher != nullptr) hooks.set_watch(nullptr);
  watch.subscription.reset();  // the watch is closed before anything else is written
  if (end == StreamEnd::kCut) {
    net::write(stream, net::const_buffer(kTornChunk.data(), kTornChunk.size()), ec);
    return false;
  }
  if (end != StreamEnd::kFinished) return false;
  net::write(stream, http::make_chunk_last(), ec);
  return !ec && request.keep_alive();
}

template <class Stream>
void Serve(Stream& stream, const ConnectionHooks& hooks) {
  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBodyBytes);
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec) return;
    const http::request<http::string_body>& message = parser.get();
    absl::Status target_status;
    HttpRequest request = ToRequest(message, &target_status);
    HandlerResult result = target_status.ok() ? (*hooks.handler)(request) : ErrorResponse(target_status);
    bool again = std::holds_alternative<HttpResponse>(result)
                     ? WriteResponse(stream, message, std::get<HttpResponse>(result))
                     : StreamResponse(stream, message, std::get<WatchResponse>(result), hooks);
    if (!again) return;
  }
}

}  // namespace

void ServeConnection(net::ip::tcp::socket& stream, const ConnectionHooks& hooks) { Serve(stream, hooks); }

void ServeConnection(net::ssl::stream<net::ip::tcp::socket>& stream, const ConnectionHooks& hooks) {
  Serve(stream, hooks);
}

}  // namespace bpfproxy::e2e::apiserver
