// Non-blocking socket plumbing shared by the identity server and the socket
// clients. Internal to e2e/*.cc; the public headers do not include it.
#ifndef BPFPROXY_E2E_SOCKET_UTIL_H_
#define BPFPROXY_E2E_SOCKET_UTIL_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "e2e/socket_clients.h"
#include "proxy/ip_address.h"
#include "proxy/unique_fd.h"

namespace bpfproxy::e2e {

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// |ip| as a socket address for a |family| socket; an IPv4 |ip| on an IPv6
// socket becomes its v4-mapped form.
absl::StatusOr<SockAddr> ToSockAddr(const IpAddress& ip, uint16_t port, IpFamily family);
// An AF_INET or AF_INET6 address as HostPort() writes it.
absl::StatusOr<std::string> FormatSockAddr(const sockaddr_storage& storage);

// Every socket here is non-blocking; waits go through poll() with a deadline.
absl::StatusOr<UniqueFd> NewSocket(IpFamily family, int type);
absl::Status SetIntOption(int fd, int level, int name, int value);
// A non-blocking |type| socket bound to ip:port with SO_REUSEADDR.
absl::StatusOr<UniqueFd> BoundSocket(const IpAddress& ip, uint16_t port, int type);
// The port getsockname() reports, e.g. after binding port 0.
absl::StatusOr<uint16_t> LocalPort(int fd);

// Waits until |fd| reports |events|; ETIMEDOUT once |deadline| passes.
absl::Status WaitFor(int fd, short events, absl::Time deadline, absl::string_view what);
// Sends all of |data|, waiting while the socket buffer is full.
absl::Status SendAll(int fd, absl::string_view data, absl::Time deadline);

}  // namespace bpfproxy::e2e

#endif  // BPFPROXY_E2E_SOCKET_UTIL_H_
