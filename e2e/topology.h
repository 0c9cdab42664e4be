// Test and demo topology for socket-level load balancing: network namespaces
// joined by a bridge, a test-owned cgroup v2 directory, a private bpffs, servers
// that answer with their own identity, and small socket clients.
//
// Safety contract (see DESIGN.md, "Testing on a real kernel"): nothing here adds
// an address, route or program to the host's own network namespace, and every
// namespace, cgroup and mount is removed by the destructor of the object that
// created it. Names embed the creating pid so that
// scripts/sweep-test-leftovers.sh can remove what a crashed process left behind.
#ifndef BPFPROXY_E2E_TOPOLOGY_H_
#define BPFPROXY_E2E_TOPOLOGY_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proxy/ip_address.h"
#include "proxy/unique_fd.h"

namespace bpfproxy::e2e {

// Name prefixes known to scripts/sweep-test-leftovers.sh.
inline constexpr absl::string_view kTestPrefix = "bpfpt";
inline constexpr absl::string_view kDemoPrefix = "bpfpdemo";

// Service ranges of the test topology. Both get an `unreachable` route in every
// namespace, so traffic the datapath did not translate fails fast.
inline constexpr absl::string_view kServiceCidr4 = "10.96.0.0/16";
inline constexpr absl::string_view kServiceCidr6 = "fd00:96::/108";

// A status built from an errno value: the code follows absl::ErrnoToStatus, the
// message is "<what>: <strerror>", and the errno stays retrievable by ErrnoOf.
absl::Status ErrnoStatus(int error_number, absl::string_view what);
// The errno stored by ErrnoStatus, or 0 if |status| carries none.
int ErrnoOf(const absl::Status& status);

// Runs argv (no shell, stdin from /dev/null). On a non-zero exit the error holds
// the command line and its stderr. The child inherits the calling thread's
// network namespace and the process's cgroup.
absl::Status Run(const std::vector<std::string>& argv);
// Like Run, and returns what the command wrote to stdout.
absl::StatusOr<std::string> RunOutput(const std::vector<std::string>& argv);

// "10.244.0.2:8080" or "[fd00:244::2]:8080".
std::string HostPort(const IpAddress& ip, uint16_t port);

// A named network namespace "<prefix>-<pid>-<counter>" (`ip netns add`), deleted
// in the destructor. Sockets still open in it keep the kernel object alive, but
// the name disappears from `ip netns list`.
class NetNs {
 public:
  // The calling thread stays in the namespace while this lives; the destructor
  // moves it back with setns(). Must be destroyed on the thread that entered,
  // and in LIFO order when nested. Sockets created meanwhile stay in the netns.
  class Entered {
   public:
    Entered(Entered&& other) noexcept = default;
    Entered& operator=(Entered&& other) noexcept;
    Entered(const Entered&) = delete;
    Entered& operator=(const Entered&) = delete;
    ~Entered() { Leave(); }

   private:
    friend class NetNs;
    Entered(UniqueFd original, pid_t tid) : original_(std::move(original)), tid_(tid) {}
    void Leave();

    UniqueFd original_;  // The thread's netns before Enter().
    pid_t tid_ = 0;      // setns() acts on the calling thread only.
  };

  // Creates the namespace and brings its loopback up.
  static absl::StatusOr<std::unique_ptr<NetNs>> Create(absl::string_view prefix);
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;
  ~NetNs();

  const std::string& name() const { return name_; }
  // Runs `ip -n <name> args...`.
  absl::Status Ip(const std::vector<std::string>& args) const;
  absl::StatusOr<std::string> IpOutput(const std::vector<std::string>& args) const;
  // Moves the calling thread into this namespace until the result is destroyed.
  absl::StatusOr<Entered> Enter() const;

 private:
  NetNs(std::string name, UniqueFd fd) : name_(std::move(name)), fd_(std::move(fd)) {}

  std::string name_;
  UniqueFd fd_;  // /var/run/netns/<name>, for setns().
};

// A filesystem mounted on a fresh directory mkdtemp'd from |dir_template|
// (which must end in "XXXXXX"); unmounted and removed in the destructor.
class TempMount {
 public:
  static absl::StatusOr<std::unique_ptr<TempMount>> Create(std::string dir_template,
                                                           absl::string_view fstype,
                                                           absl::string_view options = "");
  TempMount(const TempMount&) = delete;
  TempMount& operator=(const TempMount&) = delete;
  ~TempMount();

  const std::string& path() const { return path_; }

 private:
  explicit TempMount(std::string path) : path_(std::move(path)) {}

  std::string path_;
  bool mounted_ = false;
};

// A private bpffs instance on /tmp/bpfpt-bpffs-<pid>-XXXXXX. Every bpffs mount
// is a new superblock, so pins made under it vanish with it.
class BpffsMount {
 public:
  static absl::StatusOr<std::unique_ptr<BpffsMount>> Create();
  const std::string& path() const { return mount_->path(); }

 private:
  explicit BpffsMount(std::unique_ptr<TempMount> mount) : mount_(std::move(mount)) {}

  std::unique_ptr<TempMount> mount_;
};

// A cgroup v2 directory "<prefix>-<pid>-<counter>" at the top of the cgroup2
// hierarchy. If cgroup2 is not mounted anywhere, it is mounted on a private
// /tmp/bpfpt-cgroup2-<pid>-XXXXXX for the lifetime of this object. The
// destructor only rmdirs (retrying briefly while the cgroup is still
// populated); Memberships must be gone by then.
class TestCgroup {
 public:
  // The whole process stays in the cgroup while this lives; the destructor moves
  // it back to the cgroup it came from.
  class Membership {
   public:
    Membership(Membership&& other) noexcept
        : return_dir_(std::exchange(other.return_dir_, std::string())) {}
    Membership& operator=(Membership&& other) noexcept;
    Membership(const Membership&) = delete;
    Membership& operator=(const Membership&) = delete;
    ~Membership() { Leave(); }

   private:
    friend class TestCgroup;
    explicit Membership(std::string return_dir) : return_dir_(std::move(return_dir)) {}
    void Leave();

    std::string return_dir_;  // Empty once moved from or left.
  };

  static absl::StatusOr<std::unique_ptr<TestCgroup>> Create(absl::string_view prefix);
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;
  ~TestCgroup();

  // Absolute directory, e.g. "/sys/fs/cgroup/bpfpt-1234-0".
  const std::string& path() const { return path_; }
  // Writes getpid() to cgroup.procs. Sockets created while inside are subject to
  // BPF programs attached to this cgroup.
  absl::StatusOr<Membership> Enter();

 private:
  TestCgroup() = default;

  std::unique_ptr<TempMount> own_mount_;  // Set only if we had to mount cgroup2.
  std::string mount_point_;               // Where the hierarchy is mounted.
  std::string mount_root_;                // Its root within the hierarchy ("/").
  std::string path_;
};

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

enum class IpFamily { kIpv4, kIpv6 };
IpFamily FamilyOf(const IpAddress& ip);

// A connected TCP socket in the calling thread's netns and the process's cgroup.
class TcpClient {
 public:
  // Fails with the connect() errno (see ErrnoOf): ECONNREFUSED gives
  // UnavailableError "... Connection refused"; a timeout gives
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

struct PodTopologyOptions {
  int pods = 3;                         // 0..244.
  std::vector<uint16_t> ports = {8080};  // IdentityServers per pod, IPv4 and IPv6.
  std::string prefix = "bpfpt";         // Namespace names "<prefix>-node-<pid>-<n>".
};

// A "node" netns with bridge br0 (10.244.0.1/24, fd00:244::1/64) and N "pod"
// netns, each linked to br0 by a veth pair whose ends are created directly inside
// the node and pod namespaces. Pod i has 10.244.0.(10+i) and fd00:244::(10+i),
// default routes via the bridge, and one IdentityServer per family and port.
// Every namespace has unreachable routes for kServiceCidr4 and kServiceCidr6.
class PodTopology {
 public:
  static absl::StatusOr<std::unique_ptr<PodTopology>> Create(const PodTopologyOptions& options);
  PodTopology(const PodTopology&) = delete;
  PodTopology& operator=(const PodTopology&) = delete;
  ~PodTopology();

  NetNs& node() { return *node_; }
  NetNs& pod(int i) { return *pods_.at(i); }
  int pods() const { return static_cast<int>(pods_.size()); }
  const std::vector<uint16_t>& ports() const { return ports_; }
  static IpAddress node_ip4();
  static IpAddress node_ip6();
  static IpAddress pod_ip4(int i);
  static IpAddress pod_ip6(int i);

 private:
  explicit PodTopology(std::vector<uint16_t> ports) : ports_(std::move(ports)) {}
  absl::Status AddNode(const std::string& prefix);
  absl::Status AddPod(const std::string& prefix, int i);

  std::vector<uint16_t> ports_;
  // Destroyed in reverse order: servers (their sockets pin the namespaces),
  // then pods, then the node.
  std::unique_ptr<NetNs> node_;
  std::vector<std::unique_ptr<NetNs>> pods_;
  std::vector<std::unique_ptr<IdentityServer>> servers_;
};

}  // namespace bpfproxy::e2e

#endif  // BPFPROXY_E2E_TOPOLOGY_H_
