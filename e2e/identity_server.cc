#include "e2e/identity_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "e2e/socket_util.h"
#include "e2e/status_macros.h"

namespace bpfproxy::e2e {
namespace {

struct Connection {
  UniqueFd fd;
  std::string peer;    // "ip:port" as accept() reported it.
  std::string buffer;  // Received bytes not yet ended by "\n".
};

std::string Answer(const std::string& identity, absl::string_view peer) {
  return absl::StrCat("backend=", identity, " client=", peer, "\n");
}

void AcceptAll(int listener, std::map<int, Connection>& connections) {
  while (true) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    int fd = accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: nothing more queued.
    absl::StatusOr<std::string> name = FormatSockAddr(peer);
    connections.emplace(fd, Connection{UniqueFd(fd), name.ok() ? *name : "?", ""});
  }
}

// Answers every complete line; false once the connection is finished.
bool ServeConnection(const std::string& identity, Connection& connection) {
  char buffer[4096];
  ssize_t n = read(connection.fd.get(), buffer, sizeof(buffer));
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) return false;
  connection.buffer.append(buffer, static_cast<size_t>(n));
  for (size_t end; (end = connection.buffer.find('\n')) != std::string::npos;) {
    connection.buffer.erase(0, end + 1);
    absl::Time deadline = absl::Now() + absl::Seconds(1);
    if (!SendAll(connection.fd.get(), Answer(identity, connection.peer), deadline).ok()) {
      return false;
    }
  }
  return true;
}

void AnswerDatagrams(const std::string& identity, int udp) {
  while (true) {
    char buffer[2048];
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    ssize_t n = recvfrom(udp, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&peer), &len);
    if (n < 0) return;  // EAGAIN: queue drained.
    absl::StatusOr<std::string> name = FormatSockAddr(peer);
    std::string answer = Answer(identity, name.ok() ? *name : "?");
    // Best effort, like any UDP server: the client times out if this fails.
    sendto(udp, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<IdentityServer>> IdentityServer::Start(const NetNs& ns,
                                                                      const IpAddress& ip,
                                                                      uint16_t port) {
  UniqueFd tcp, udp;
  {
    // Sockets belong to the netns they were created in, so only their
    // creation needs to happen inside; the serving thread can run anywhere.
    BPFPT_ASSIGN_OR_RETURN(NetNs::Entered entered, ns.Enter());
    BPFPT_ASSIGN_OR_RETURN(tcp, BoundSocket(ip, port, SOCK_STREAM));
    if (listen(tcp.get(), SOMAXCONN) != 0) return ErrnoStatus(errno, "listen");
    BPFPT_ASSIGN_OR_RETURN(port, LocalPort(tcp.get()));
    BPFPT_ASSIGN_OR_RETURN(udp, BoundSocket(ip, port, SOCK_DGRAM));
  }
  UniqueFd stop(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!stop.valid()) return ErrnoStatus(errno, "eventfd");
  std::unique_ptr<IdentityServer> server(
      new IdentityServer(ip, port, std::move(tcp), std::move(udp), std::move(stop)));
  server->thread_ = std::thread([raw = server.get()] { raw->Serve(); });
  return server;
}

IdentityServer::IdentityServer(IpAddress ip, uint16_t port, UniqueFd tcp, UniqueFd udp,
                               UniqueFd stop)
    : ip_(ip),
      port_(port),
      tcp_listener_(std::move(tcp)),
      udp_(std::move(udp)),
      stop_(std::move(stop)) {}

IdentityServer::~IdentityServer() {
  uint64_t one = 1;
  if (write(stop_.get(), &one, sizeof(one)) != sizeof(one)) {
    // Without the wakeup join() would hang forever; abort loudly instead.
    std::perror("bpfproxy::e2e: IdentityServer stop");
    std::abort();
  }
  if (thread_.joinable()) thread_.join();
}

void IdentityServer::Serve() {
  const std::string self = identity();
  std::map<int, Connection> connections;  // By fd; closed when erased.
  while (true) {
    std::vector<pollfd> fds = {
        {stop_.get(), POLLIN, 0}, {tcp_listener_.get(), POLLIN, 0}, {udp_.get(), POLLIN, 0}};
    for (const auto& [fd, connection] : connections) fds.push_back({fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("bpfproxy::e2e: IdentityServer poll");
      return;
    }
    if (fds[0].revents != 0) return;
    if (fds[1].revents != 0) AcceptAll(tcp_listener_.get(), connections);
    if (fds[2].revents != 0) AnswerDatagrams(self, udp_.get());
    for (size_t i = 3; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto it = connections.find(fds[i].fd);
      if (!ServeConnection(self, it->second)) connections.erase(it);
    }
  }
}

}  // namespace bpfproxy::e2e
