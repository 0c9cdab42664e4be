// A server for the e2e topology that answers with its own identity, so a test
// can tell which backend a translated connection or datagram reached.
#ifndef BPFPROXY_E2E_IDENTITY_SERVER_H_
#define BPFPROXY_E2E_IDENTITY_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "e2e/netns.h"
#include "e2e/socket_clients.h"
#include "proxy/ip_address.h"
#include "proxy/unique_fd.h"

namespace bpfproxy::e2e {

// Serves TCP and UDP on one address and port inside a network namespace. TCP
// connections stay open and every line received is answered with one line; every
// UDP datagram is answered to its source. The answer is
// "backend=<identity()> client=<peer ip:port>\n".
class IdentityServer {
 public:
  // |port| 0 picks a free TCP port and uses the same number for UDP.
  static absl::StatusOr<std::unique_ptr<IdentityServer>> Start(const NetNs& ns,
                                                               const IpAddress& ip,
                                                               uint16_t port);
  IdentityServer(const IdentityServer&) = delete;
  IdentityServer& operator=(const IdentityServer&) = delete;
  // Stops the serving thread and closes every socket.
  ~IdentityServer();

  // "10.244.0.2:8080" / "[fd00:244::2]:8080".
  std::string identity() const { return HostPort(ip_, port_); }
  const IpAddress& ip() const { return ip_; }
  uint16_t port() const { return port_; }

 private:
  IdentityServer(IpAddress ip, uint16_t port, UniqueFd tcp, UniqueFd udp, UniqueFd stop);
  void Serve();

  const IpAddress ip_;
  const uint16_t port_;
  const UniqueFd tcp_listener_;
  const UniqueFd udp_;
  const UniqueFd stop_;  // eventfd; readable once the destructor runs.
  std::thread thread_;
};

}  // namespace bpfproxy::e2e

#endif  // BPFPROXY_E2E_IDENTITY_SERVER_H_
