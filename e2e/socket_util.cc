#include "e2e/socket_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e/netns.h"
#include "e2e/status_macros.h"

namespace bpfproxy::e2e {
namespace {

int Domain(IpFamily family) { return family == IpFamily::kIpv4 ? AF_INET : AF_INET6; }

absl::StatusOr<std::pair<IpAddress, uint16_t>> FromSockAddr(const sockaddr_storage& storage) {
  if (storage.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
    return std::make_pair(IpAddress::FromV4(in->sin_addr.s_addr), ntohs(in->sin_port));
  }
  if (storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    std::array<uint8_t, 16> bytes;
    std::memcpy(bytes.data(), &in6->sin6_addr, 16);
    return std::make_pair(IpAddress::FromBytes(bytes), ntohs(in6->sin6_port));
  }
  return absl::InvalidArgumentError(absl::StrCat("address family ", storage.ss_family));
}

}  // namespace

absl::StatusOr<SockAddr> ToSockAddr(const IpAddress& ip, uint16_t port, IpFamily family) {
  SockAddr addr;
  if (family == IpFamily::kIpv4) {
    if (!ip.is_v4()) {
      return absl::InvalidArgumentError(absl::StrCat(ip.ToString(), " on an IPv4 socket"));
    }
    auto* in = reinterpret_cast<sockaddr_in*>(&addr.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, ip.bytes().data() + 12, 4);
    addr.len = sizeof(sockaddr_in);
    return addr;
  }
  // IpAddress keeps IPv4 as ::ffff:a.b.c.d, which is exactly the v4-mapped
  // form a dual-stack IPv6 socket expects.
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr.storage);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  std::memcpy(&in6->sin6_addr, ip.bytes().data(), 16);
  addr.len = sizeof(sockaddr_in6);
  return addr;
}

absl::StatusOr<std::string> FormatSockAddr(const sockaddr_storage& storage) {
  BPFPT_ASSIGN_OR_RETURN(auto ip_port, FromSockAddr(storage));
  return HostPort(ip_port.first, ip_port.second);
}

absl::StatusOr<UniqueFd> NewSocket(IpFamily family, int type) {
  int fd = socket(Domain(family), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(errno, "socket");
  return UniqueFd(fd);
}

absl::Status SetIntOption(int fd, int level, int name, int value) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    return ErrnoStatus(errno, "setsockopt");
  }
  return absl::OkStatus();
}

// Waits until |fd| reports |events|; ETIMEDOUT once |deadline| passes.
absl::Status WaitFor(int fd, short events, absl::Time deadline, absl::string_view what) {
  while (true) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return ErrnoStatus(ETIMEDOUT, what);
    pollfd pfd = {fd, events, 0};
    int n = poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR) return ErrnoStatus(errno, "poll");
  }
}

absl::Status SendAll(int fd, absl::string_view data, absl::Time deadline) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (errno == EAGAIN || errno == EINTR) {
      BPFPT_RETURN_IF_ERROR(WaitFor(fd, POLLOUT, deadline, "send"));
    } else {
      return ErrnoStatus(errno, "send");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> BoundSocket(const IpAddress& ip, uint16_t port, int type) {
  IpFamily family = FamilyOf(ip);
  BPFPT_ASSIGN_OR_RETURN(UniqueFd fd, NewSocket(family, type));
  BPFPT_RETURN_IF_ERROR(SetIntOption(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1));
  BPFPT_ASSIGN_OR_RETURN(SockAddr addr, ToSockAddr(ip, port, family));
  if (bind(fd.get(), addr.get(), addr.len) != 0) {
    return ErrnoStatus(errno, absl::StrCat("bind ", HostPort(ip, port)));
  }
  return fd;
}

absl::StatusOr<uint16_t> LocalPort(int fd) {
  sockaddr_storage storage{};
  socklen_t len = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) {
    return ErrnoStatus(errno, "getsockname");
  }
  BPFPT_ASSIGN_OR_RETURN(auto ip_port, FromSockAddr(storage));
  return ip_port.second;
}

}  // namespace bpfproxy::e2e
