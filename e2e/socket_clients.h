// Small socket clients for the e2e topology: a line-oriented TCP client, a UDP
// client that keeps its socket across exchanges, and address formatting. They
// act in the calling thread's network namespace and the process's cgroup, so
// the BPF programs attached there see their connect() and sendmsg() calls.
#ifndef BPFPROXY_E2E_SOCKET_CLIENTS_H_
#define BPFPROXY_E2E_SOCKET_CLIENTS_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proxy/ip_address.h"
#include "proxy/unique_fd.h"

namespace bpfproxy::e2e {

// "10.244.0.2:8080" or "[fd00:244::2]:8080".
std::string HostPort(const IpAddress& ip, uint16_t port);

enum class IpFamily { kIpv4, kIpv6 };
IpFamily FamilyOf(const IpAddress& ip);

// A connected TCP socket in the calling thread's netns and the process's cgroup.
class TcpClient {
 public:
  // Fails with the connect() errno (see ErrnoOf in e2e/netns.h): ECONNREFUSED
  // gives UnavailableError "... Connection refused"; a timeout gives
  // DeadlineExceededError with ETIMEDOUT.
  static absl::StatusOr<TcpClient> Connect(const IpAddress& ip, uint16_t port,
                                           absl::Duration timeout = absl::Seconds(2));

  // Sends "ping\n" and returns the answer line without "\n".
  absl::StatusOr<std::string> Request(absl::Duration timeout = absl::Seconds(2));
  // getpeername() / getsockname() as "ip:port".
  absl::StatusOr<std::string> PeerName() const;
  absl::StatusOr<std::string> LocalName() const;
  int fd() const { return fd_.get(); }

 private:
  explicit TcpClient(UniqueFd fd) : fd_(std::move(fd)) {}

  UniqueFd fd_;
  std::string pending_;  // Bytes received after the last returned line.
};

struct UdpReply {
  std::string line;    // Without the trailing "\n".
  std::string source;  // recvfrom() address as "ip:port".
};

// A UDP socket that stays open across exchanges, so a test can check that one
// socket sticks to one backend.
class UdpClient {
 public:
  static absl::StatusOr<UdpClient> Open(IpFamily family);

  // An IPv4 |ip| on an IPv6 socket is sent to as ::ffff:a.b.c.d.
  absl::Status SendTo(const IpAddress& ip, uint16_t port, absl::string_view payload = "ping\n");
  // connect() (runs cgroup connect hooks), then Send() / PeerName().
  absl::Status Connect(const IpAddress& ip, uint16_t port);
  absl::Status Send(absl::string_view payload = "ping\n");
  absl::StatusOr<UdpReply> Receive(absl::Duration timeout = absl::Seconds(2));
  absl::StatusOr<std::string> PeerName() const;
  absl::StatusOr<std::string> LocalName() const;
  int fd() const { return fd_.get(); }

 private:
  UdpClient(UniqueFd fd, IpFamily family) : fd_(std::move(fd)), family_(family) {}

  UniqueFd fd_;
  IpFamily family_;
};

// One datagram "ping\n" to ip:port from a fresh unconnected socket, one reply.
absl::StatusOr<UdpReply> UdpExchange(const IpAddress& ip, uint16_t port,
                                     absl::Duration timeout = absl::Seconds(2));

}  // namespace bpfproxy::e2e

#endif  // BPFPROXY_E2E_SOCKET_CLIENTS_H_
