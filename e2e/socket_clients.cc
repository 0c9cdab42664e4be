#include "e2e/socket_clients.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e/netns.h"
#include "e2e/socket_util.h"
#include "e2e/status_macros.h"

namespace bpfproxy::e2e {
namespace {

absl::StatusOr<std::string> SocketName(int fd, bool peer) {
  sockaddr_storage storage{};
  socklen_t len = sizeof(storage);
  auto* addr = reinterpret_cast<sockaddr*>(&storage);
  if ((peer ? getpeername(fd, addr, &len) : getsockname(fd, addr, &len)) != 0) {
    return ErrnoStatus(errno, peer ? "getpeername" : "getsockname");
  }
  return FormatSockAddr(storage);
}

std::string StripNewline(std::string line) {
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

}  // namespace

std::string HostPort(const IpAddress& ip, uint16_t port) {
  if (ip.is_v4()) return absl::StrCat(ip.ToString(), ":", port);
  return absl::StrCat("[", ip.ToString(), "]:", port);
}

IpFamily FamilyOf(const IpAddress& ip) { return ip.is_v4() ? IpFamily::kIpv4 : IpFamily::kIpv6; }

// ---------------------------------------------------------------------------
// Clients.

absl::StatusOr<TcpClient> TcpClient::Connect(const IpAddress& ip, uint16_t port,
                                             absl::Duration timeout) {
  IpFamily family = FamilyOf(ip);
  BPFPT_ASSIGN_OR_RETURN(UniqueFd fd, NewSocket(family, SOCK_STREAM));
  BPFPT_ASSIGN_OR_RETURN(SockAddr addr, ToSockAddr(ip, port, family));
  std::string what = absl::StrCat("connect ", HostPort(ip, port));
  if (connect(fd.get(), addr.get(), addr.len) != 0) {
    if (errno != EINPROGRESS) return ErrnoStatus(errno, what);
    BPFPT_RETURN_IF_ERROR(WaitFor(fd.get(), POLLOUT, absl::Now() + timeout, what));
    int error = 0;
    socklen_t len = sizeof(error);
    if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
    if (error != 0) return ErrnoStatus(error, what);
  }
  return TcpClient(std::move(fd));
}

absl::StatusOr<std::string> TcpClient::Request(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  BPFPT_RETURN_IF_ERROR(SendAll(fd_.get(), "ping\n", deadline));
  while (true) {
    if (size_t end = pending_.find('\n'); end != std::string::npos) {
      std::string line = pending_.substr(0, end);
      pending_.erase(0, end + 1);
      return line;
    }
    BPFPT_RETURN_IF_ERROR(WaitFor(fd_.get(), POLLIN, deadline, "read answer"));
    char buffer[4096];
    ssize_t n = read(fd_.get(), buffer, sizeof(buffer));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return ErrnoStatus(errno, "read answer");
    if (n == 0) return absl::UnavailableError("connection closed before a full answer line");
    pending_.append(buffer, static_cast<size_t>(n));
  }
}

absl::StatusOr<std::string> TcpClient::PeerName() const { return SocketName(fd_.get(), true); }
absl::StatusOr<std::string> TcpClient::LocalName() const { return SocketName(fd_.get(), false); }

absl::StatusOr<UdpClient> UdpClient::Open(IpFamily family) {
  BPFPT_ASSIGN_OR_RETURN(UniqueFd fd, NewSocket(family, SOCK_DGRAM));
  if (family == IpFamily::kIpv6) {
    // Dual-stack regardless of net.ipv6.bindv6only, so IPv4 destinations can
    // be reached as v4-mapped addresses (the path connect6/sendmsg6 see).
    BPFPT_RETURN_IF_ERROR(SetIntOption(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 0));
  }
  return UdpClient(std::move(fd), family);
}

absl::Status UdpClient::SendTo(const IpAddress& ip, uint16_t port, absl::string_view payload) {
  BPFPT_ASSIGN_OR_RETURN(SockAddr addr, ToSockAddr(ip, port, family_));
  if (sendto(fd_.get(), payload.data(), payload.size(), 0, addr.get(), addr.len) < 0) {
    return ErrnoStatus(errno, absl::StrCat("sendto ", HostPort(ip, port)));
  }
  return absl::OkStatus();
}

absl::Status UdpClient::Connect(const IpAddress& ip, uint16_t port) {
  BPFPT_ASSIGN_OR_RETURN(SockAddr addr, ToSockAddr(ip, port, family_));
  if (connect(fd_.get(), addr.get(), addr.len) != 0) {
    return ErrnoStatus(errno, absl::StrCat("connect ", HostPort(ip, port)));
  }
  return absl::OkStatus();
}

absl::Status UdpClient::Send(absl::string_view payload) {
  if (send(fd_.get(), payload.data(), payload.size(), 0) < 0) return ErrnoStatus(errno, "send");
  return absl::OkStatus();
}

absl::StatusOr<UdpReply> UdpClient::Receive(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    BPFPT_RETURN_IF_ERROR(WaitFor(fd_.get(), POLLIN, deadline, "receive"));
    char buffer[2048];
    sockaddr_storage source{};
    socklen_t len = sizeof(source);
    ssize_t n = recvfrom(fd_.get(), buffer, sizeof(buffer), 0,
                         reinterpret_cast<sockaddr*>(&source), &len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return ErrnoStatus(errno, "recvfrom");
    BPFPT_ASSIGN_OR_RETURN(std::string source_name, FormatSockAddr(source));
    return UdpReply{StripNewline(std::string(buffer, static_cast<size_t>(n))),
                    std::move(source_name)};
  }
}

absl::StatusOr<std::string> UdpClient::PeerName() const { return SocketName(fd_.get(), true); }
absl::StatusOr<std::string> UdpClient::LocalName() const { return SocketName(fd_.get(), false); }

absl::StatusOr<UdpReply> UdpExchange(const IpAddress& ip, uint16_t port, absl::Duration timeout) {
  BPFPT_ASSIGN_OR_RETURN(UdpClient client, UdpClient::Open(FamilyOf(ip)));
  BPFPT_RETURN_IF_ERROR(client.SendTo(ip, port));
  return client.Receive(timeout);
}

}  // namespace bpfproxy::e2e
