// Serves the requests of one accepted connection until it closes: parses
// each request, asks the handler, writes the response or streams the watch.
#ifndef BPFPROXY_E2E_APISERVER_HTTP_CONNECTION_H_
#define BPFPROXY_E2E_APISERVER_HTTP_CONNECTION_H_

#include <functional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "e2e/apiserver/handler.h"

namespace bpfproxy::e2e::apiserver {

struct ConnectionHooks {
  const Handler* handler;
  int fd;  // the TCP socket, to notice a client that went away
  // Called with the watch a stream is about to serve, and with nullptr when
  // it ends; returning false (the server is stopping) ends the stream.
  std::function<bool(Watcher*)> set_watch;
};

// Both return when the connection must be closed. A cut watch leaves a
// torn chunk behind: the caller closes the socket without any clean end
// (no terminating chunk, no TLS close_notify).
void ServeConnection(boost::asio::ip::tcp::socket& stream, const ConnectionHooks& hooks);
void ServeConnection(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream, const ConnectionHooks& hooks);

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_HTTP_CONNECTION_H_
