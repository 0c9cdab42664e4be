#include "e2e/topology.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "absl/algorithm/container.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

extern char** environ;

// Local helpers; absl does not ship public status macros.
#define BPFPT_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    if (absl::Status status_ = (expr); !status_.ok()) \
      return status_;                               \
  } while (0)
#define BPFPT_CONCAT_INNER(a, b) a##b
#define BPFPT_CONCAT(a, b) BPFPT_CONCAT_INNER(a, b)
#define BPFPT_ASSIGN_OR_RETURN(lhs, expr) \
  BPFPT_ASSIGN_OR_RETURN_IMPL(BPFPT_CONCAT(statusor_, __LINE__), lhs, expr)
#define BPFPT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(*tmp)

namespace bpfproxy::e2e {
namespace {

constexpr absl::string_view kErrnoPayloadUrl = "type.bpfproxy.dev/e2e.Errno";
// iproute2's NETNS_RUN_DIR.
constexpr absl::string_view kNetnsRunDir = "/var/run/netns/";
constexpr absl::string_view kBridge = "br0";

// Counter shared by every name this process creates, so that two topologies
// (or a topology and a demo) in one process never collide.
std::atomic<int> g_name_counter{0};

std::string UniqueName(absl::string_view prefix) {
  return absl::StrCat(prefix, "-", getpid(), "-", g_name_counter.fetch_add(1));
}

void Warn(absl::string_view what, const absl::Status& status) {
  // Destructors cannot return a status; say what is left behind so the sweep
  // script (or a human) can clean it.
  std::fprintf(stderr, "bpfproxy::e2e: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               status.ToString().c_str());
}

// For a failed syscall on |path|; reads errno before anything can clobber it.
void WarnErrno(const char* syscall, const std::string& path) {
  const int error = errno;
  Warn(absl::StrCat(syscall, " ", path), ErrnoStatus(error, syscall));
}

absl::StatusOr<UniqueFd> OpenFile(const std::string& path, int flags) {
  int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
  return UniqueFd(fd);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ErrnoStatus(errno, absl::StrCat("open ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status WriteFile(const std::string& path, absl::string_view text) {
  BPFPT_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY));
  ssize_t written = write(fd.get(), text.data(), text.size());
  if (written != static_cast<ssize_t>(text.size())) {
    return ErrnoStatus(written < 0 ? errno : EIO, absl::StrCat("write ", path));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Processes.

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exited with ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return absl::StrCat("killed by signal ", WTERMSIG(wait_status));
  return absl::StrCat("ended with wait status ", wait_status);
}

absl::StatusOr<std::pair<UniqueFd, UniqueFd>> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe2");
  return std::make_pair(UniqueFd(fds[0]), UniqueFd(fds[1]));
}

// Reads |out_fd| and |err_fd| together until both reach EOF, so a child that
// fills one pipe cannot block while we wait on the other.
absl::Status ReadUntilEof(int out_fd, int err_fd, std::string* out, std::string* err) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {out, err};
  int open_count = 2;
  while (open_count > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "poll");
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;  // poll() ignores negative fds.
        --open_count;
        continue;
      }
      sinks[i]->append(buffer, static_cast<size_t>(n));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return ErrnoStatus(rc, absl::StrCat("spawn ", argv[0]));
  return pid;
}

absl::StatusOr<int> WaitForExit(pid_t pid) {
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "waitpid");
  }
  return wait_status;
}

// ---------------------------------------------------------------------------
// Mounts and cgroups.

struct MountEntry {
  std::string root;         // Path inside the filesystem that is mounted.
  std::string mount_point;  // Where it is mounted.
};

// Undoes the octal escapes (e.g. "\040" for a space) of /proc/self/mountinfo.
std::string UnescapeMountField(absl::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    auto is_octal = [&](size_t j) { return field[j] >= '0' && field[j] <= '7'; };
    if (field[i] == '\\' && i + 3 < field.size() && is_octal(i + 1) && is_octal(i + 2) &&
        is_octal(i + 3)) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
      continue;
    }
    out.push_back(field[i]);
  }
  return out;
}

// The first mount of |fstype| in /proc/self/mountinfo, whose lines read
// "id parent maj:min root mount_point options [optional...] - fstype source super".
absl::StatusOr<std::optional<MountEntry>> FindMount(absl::string_view fstype) {
  BPFPT_ASSIGN_OR_RETURN(std::string text, ReadFile("/proc/self/mountinfo"));
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    if (fields.size() < 9) continue;
    auto dash = std::find(fields.begin() + 6, fields.end(), "-");
    if (dash == fields.end() || dash + 1 == fields.end() || *(dash + 1) != fstype) continue;
    return MountEntry{UnescapeMountField(fields[3]), UnescapeMountField(fields[4])};
  }
  return std::nullopt;
}

// The process's cgroup v2 path, from the "0::" line of /proc/self/cgroup.
absl::StatusOr<std::string> CurrentCgroup2Path() {
  BPFPT_ASSIGN_OR_RETURN(std::string text, ReadFile("/proc/self/cgroup"));
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "0::")) return std::string(line);
  }
  return absl::FailedPreconditionError("no cgroup v2 entry (\"0::\") in /proc/self/cgroup");
}

absl::Status MoveProcessTo(const std::string& cgroup_dir) {
  // cgroup.procs moves every thread of the process, not just the caller.
  return WriteFile(absl::StrCat(cgroup_dir, "/cgroup.procs"), absl::StrCat(getpid()));
}

// ---------------------------------------------------------------------------
// Sockets.

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

int Domain(IpFamily family) { return family == IpFamily::kIpv4 ? AF_INET : AF_INET6; }

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

absl::StatusOr<std::string> FormatSockAddr(const sockaddr_storage& storage) {
  BPFPT_ASSIGN_OR_RETURN(auto ip_port, FromSockAddr(storage));
  return HostPort(ip_port.first, ip_port.second);
}

absl::StatusOr<std::string> SocketName(int fd, bool peer) {
  sockaddr_storage storage{};
  socklen_t len = sizeof(storage);
  auto* addr = reinterpret_cast<sockaddr*>(&storage);
  if ((peer ? getpeername(fd, addr, &len) : getsockname(fd, addr, &len)) != 0) {
    return ErrnoStatus(errno, peer ? "getpeername" : "getsockname");
  }
  return FormatSockAddr(storage);
}

// Every socket here is non-blocking; waits go through poll() with a deadline.
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

std::string StripNewline(std::string line) {
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

absl::Status AddServiceRoutes(const NetNs& ns) {
  BPFPT_RETURN_IF_ERROR(ns.Ip({"route", "add", "unreachable", std::string(kServiceCidr4)}));
  return ns.Ip({"-6", "route", "add", "unreachable", std::string(kServiceCidr6)});
}

}  // namespace

// ---------------------------------------------------------------------------
// Errors.

absl::Status ErrnoStatus(int error_number, absl::string_view what) {
  absl::Status status = absl::ErrnoToStatus(error_number, what);
  status.SetPayload(kErrnoPayloadUrl, absl::Cord(absl::StrCat(error_number)));
  return status;
}

int ErrnoOf(const absl::Status& status) {
  auto payload = status.GetPayload(kErrnoPayloadUrl);
  int error_number = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &error_number)) return 0;
  return error_number;
}

// ---------------------------------------------------------------------------
// Run.

absl::StatusOr<std::string> RunOutput(const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command line");
  BPFPT_ASSIGN_OR_RETURN(auto out_pipe, MakePipe());
  BPFPT_ASSIGN_OR_RETURN(auto err_pipe, MakePipe());
  BPFPT_ASSIGN_OR_RETURN(pid_t pid, Spawn(argv, out_pipe.second.get(), err_pipe.second.get()));
  // Close our copies of the write ends, or the reads below never see EOF.
  out_pipe.second.reset();
  err_pipe.second.reset();
  std::string out, err;
  absl::Status read_status = ReadUntilEof(out_pipe.first.get(), err_pipe.first.get(), &out, &err);
  // Reap even if reading failed, so no zombie is left.
  BPFPT_ASSIGN_OR_RETURN(int wait_status, WaitForExit(pid));
  BPFPT_RETURN_IF_ERROR(read_status);
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    return absl::InternalError(absl::StrCat("`", absl::StrJoin(argv, " "), "` ",
                                            DescribeWaitStatus(wait_status), ": ",
                                            absl::StripTrailingAsciiWhitespace(err)));
  }
  return out;
}

absl::Status Run(const std::vector<std::string>& argv) { return RunOutput(argv).status(); }

std::string HostPort(const IpAddress& ip, uint16_t port) {
  if (ip.is_v4()) return absl::StrCat(ip.ToString(), ":", port);
  return absl::StrCat("[", ip.ToString(), "]:", port);
}

IpFamily FamilyOf(const IpAddress& ip) { return ip.is_v4() ? IpFamily::kIpv4 : IpFamily::kIpv6; }

// ---------------------------------------------------------------------------
// NetNs.

absl::StatusOr<std::unique_ptr<NetNs>> NetNs::Create(absl::string_view prefix) {
  std::string name = UniqueName(prefix);
  BPFPT_RETURN_IF_ERROR(Run({"ip", "netns", "add", name}));
  // Owned from here on: any later failure deletes the namespace again.
  std::unique_ptr<NetNs> ns(new NetNs(name, UniqueFd()));
  BPFPT_ASSIGN_OR_RETURN(ns->fd_, OpenFile(absl::StrCat(kNetnsRunDir, name), O_RDONLY));
  BPFPT_RETURN_IF_ERROR(ns->Ip({"link", "set", "lo", "up"}));
  return ns;
}

NetNs::~NetNs() {
  fd_.reset();
  if (absl::Status status = Run({"ip", "netns", "delete", name_}); !status.ok()) {
    Warn(absl::StrCat("leaving netns ", name_), status);
  }
}

absl::StatusOr<std::string> NetNs::IpOutput(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"ip", "-n", name_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunOutput(argv);
}

absl::Status NetNs::Ip(const std::vector<std::string>& args) const {
  return IpOutput(args).status();
}

absl::StatusOr<NetNs::Entered> NetNs::Enter() const {
  BPFPT_ASSIGN_OR_RETURN(UniqueFd original, OpenFile("/proc/thread-self/ns/net", O_RDONLY));
  if (setns(fd_.get(), CLONE_NEWNET) != 0) {
    return ErrnoStatus(errno, absl::StrCat("setns ", name_));
  }
  return Entered(std::move(original), gettid());
}

NetNs::Entered& NetNs::Entered::operator=(Entered&& other) noexcept {
  if (this != &other) {
    Leave();
    original_ = std::move(other.original_);
    tid_ = other.tid_;
  }
  return *this;
}

void NetNs::Entered::Leave() {
  if (!original_.valid()) return;
  // A thread left in the wrong namespace would make every later step of the
  // process act on the wrong network, so these are fatal.
  if (gettid() != tid_) {
    std::fprintf(stderr, "bpfproxy::e2e: NetNs::Entered destroyed on another thread\n");
    std::abort();
  }
  if (setns(original_.get(), CLONE_NEWNET) != 0) {
    std::perror("bpfproxy::e2e: setns back to the original netns");
    std::abort();
  }
  original_.reset();
}

// ---------------------------------------------------------------------------
// Mounts.

absl::StatusOr<std::unique_ptr<TempMount>> TempMount::Create(std::string dir_template,
                                                             absl::string_view fstype,
                                                             absl::string_view options) {
  if (mkdtemp(dir_template.data()) == nullptr) {
    return ErrnoStatus(errno, absl::StrCat("mkdtemp ", dir_template));
  }
  std::unique_ptr<TempMount> mount_dir(new TempMount(dir_template));
  std::string type(fstype);
  std::string data(options);
  if (mount(type.c_str(), mount_dir->path_.c_str(), type.c_str(), MS_NOSUID | MS_NODEV | MS_NOEXEC,
            data.empty() ? nullptr : data.c_str()) != 0) {
    return ErrnoStatus(errno, absl::StrCat("mount ", type, " on ", mount_dir->path_));
  }
  mount_dir->mounted_ = true;
  return mount_dir;
}

TempMount::~TempMount() {
  // A plain umount fails while something still has an fd open below the mount;
  // detaching then still takes it out of the tree, and the kernel frees it
  // when that last user goes away.
  if (mounted_ && umount2(path_.c_str(), 0) != 0 && umount2(path_.c_str(), MNT_DETACH) != 0) {
    WarnErrno("umount2", path_);
    return;  // rmdir would fail on a mount point anyway.
  }
  if (rmdir(path_.c_str()) != 0) WarnErrno("rmdir", path_);
}

absl::StatusOr<std::unique_ptr<BpffsMount>> BpffsMount::Create() {
  BPFPT_ASSIGN_OR_RETURN(
      std::unique_ptr<TempMount> mount_dir,
      TempMount::Create(absl::StrCat("/tmp/", kTestPrefix, "-bpffs-", getpid(), "-XXXXXX"), "bpf",
                        "mode=0700"));
  return std::unique_ptr<BpffsMount>(new BpffsMount(std::move(mount_dir)));
}

// ---------------------------------------------------------------------------
// TestCgroup.

absl::StatusOr<std::unique_ptr<TestCgroup>> TestCgroup::Create(absl::string_view prefix) {
  std::unique_ptr<TestCgroup> cgroup(new TestCgroup());
  BPFPT_ASSIGN_OR_RETURN(std::optional<MountEntry> found, FindMount("cgroup2"));
  if (found.has_value()) {
    cgroup->mount_point_ = found->mount_point;
    cgroup->mount_root_ = found->root;
  } else {
    // No cgroup2 anywhere (e.g. a v1-only CI host): mount the hierarchy
    // ourselves. It is one hierarchy per machine, so the cgroup we create
    // outlives this mount unless we rmdir it first, which ~TestCgroup does.
    BPFPT_ASSIGN_OR_RETURN(
        cgroup->own_mount_,
        TempMount::Create(absl::StrCat("/tmp/", kTestPrefix, "-cgroup2-", getpid(), "-XXXXXX"),
                          "cgroup2"));
    cgroup->mount_point_ = cgroup->own_mount_->path();
    cgroup->mount_root_ = "/";
  }
  std::string path = absl::StrCat(cgroup->mount_point_, "/", UniqueName(prefix));
  if (mkdir(path.c_str(), 0755) != 0) return ErrnoStatus(errno, absl::StrCat("mkdir ", path));
  cgroup->path_ = std::move(path);
  return cgroup;
}

TestCgroup::~TestCgroup() {
  if (path_.empty()) return;
  // A process that just left may still count as a member for a moment (for
  // example a child being reaped), so rmdir answers EBUSY briefly.
  for (int attempt = 0;; ++attempt) {
    if (rmdir(path_.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY || attempt >= 200) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  WarnErrno("rmdir", path_);
}

absl::StatusOr<TestCgroup::Membership> TestCgroup::Enter() {
  BPFPT_ASSIGN_OR_RETURN(std::string current, CurrentCgroup2Path());
  // /proc/self/cgroup and the mount's root are both relative to the same
  // cgroup namespace root; the mount shows the part below mount_root_.
  absl::string_view below_root = current;
  if (mount_root_ != "/" && (!absl::ConsumePrefix(&below_root, mount_root_) ||
                             (!below_root.empty() && below_root.front() != '/'))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cgroup ", current, " is outside the cgroup2 mount of ", mount_root_, " at ", mount_point_));
  }
  std::string return_dir = absl::StrCat(mount_point_, below_root == "/" ? "" : below_root);
  BPFPT_RETURN_IF_ERROR(MoveProcessTo(path_));
  return Membership(std::move(return_dir));
}

TestCgroup::Membership& TestCgroup::Membership::operator=(Membership&& other) noexcept {
  if (this != &other) {
    Leave();
    return_dir_ = std::exchange(other.return_dir_, std::string());
  }
  return *this;
}

void TestCgroup::Membership::Leave() {
  if (return_dir_.empty()) return;
  if (absl::Status status = MoveProcessTo(return_dir_); !status.ok()) {
    Warn(absl::StrCat("moving back to cgroup ", return_dir_), status);
  }
  return_dir_.clear();
}

// ---------------------------------------------------------------------------
// IdentityServer.

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

// ---------------------------------------------------------------------------
// PodTopology.

IpAddress PodTopology::node_ip4() { return IpAddress::Parse("10.244.0.1").value(); }
IpAddress PodTopology::node_ip6() { return IpAddress::Parse("fd00:244::1").value(); }

IpAddress PodTopology::pod_ip4(int i) {
  return IpAddress::Parse(absl::StrCat("10.244.0.", 10 + i)).value();
}

// The interface id spells the same digits as the IPv4 last octet (pod 0 is
// fd00:244::10), which keeps logs and dumps easy to match up.
IpAddress PodTopology::pod_ip6(int i) {
  return IpAddress::Parse(absl::StrCat("fd00:244::", 10 + i)).value();
}

absl::StatusOr<std::unique_ptr<PodTopology>> PodTopology::Create(
    const PodTopologyOptions& options) {
  if (options.pods < 0 || options.pods > 244) {
    return absl::InvalidArgumentError(absl::StrCat("pods must be 0..244, got ", options.pods));
  }
  if (options.prefix.empty()) return absl::InvalidArgumentError("empty prefix");
  if (absl::c_linear_search(options.ports, 0)) {
    return absl::InvalidArgumentError("port 0 would give every pod a different port");
  }
  // Owned from the start: a failure half-way destroys what was built so far.
  std::unique_ptr<PodTopology> topology(new PodTopology(options.ports));
  BPFPT_RETURN_IF_ERROR(topology->AddNode(options.prefix));
  for (int i = 0; i < options.pods; ++i) {
    BPFPT_RETURN_IF_ERROR(topology->AddPod(options.prefix, i));
  }
  return topology;
}

PodTopology::~PodTopology() = default;

absl::Status PodTopology::AddNode(const std::string& prefix) {
  BPFPT_ASSIGN_OR_RETURN(node_, NetNs::Create(absl::StrCat(prefix, "-node")));
  const std::string bridge(kBridge);
  const std::vector<std::vector<std::string>> commands = {
      {"link", "add", bridge, "type", "bridge"},
      {"addr", "add", absl::StrCat(node_ip4().ToString(), "/24"), "dev", bridge},
      // nodad: usable at once instead of after ~1s of duplicate detection.
      {"addr", "add", absl::StrCat(node_ip6().ToString(), "/64"), "dev", bridge, "nodad"},
      {"link", "set", bridge, "up"},
  };
  for (const auto& args : commands) BPFPT_RETURN_IF_ERROR(node_->Ip(args));
  return AddServiceRoutes(*node_);
}

absl::Status PodTopology::AddPod(const std::string& prefix, int i) {
  BPFPT_ASSIGN_OR_RETURN(std::unique_ptr<NetNs> created,
                         NetNs::Create(absl::StrCat(prefix, "-pod", i)));
  pods_.push_back(std::move(created));
  const NetNs& pod = *pods_.back();
  // Both ends are created directly in their namespaces, so the host never sees
  // them; the names only need to be unique inside the node and the pod.
  const std::string node_end = absl::StrCat("lxc", i);
  BPFPT_RETURN_IF_ERROR(node_->Ip(
      {"link", "add", node_end, "type", "veth", "peer", "name", "eth0", "netns", pod.name()}));
  BPFPT_RETURN_IF_ERROR(node_->Ip({"link", "set", node_end, "master", std::string(kBridge), "up"}));
  const std::vector<std::vector<std::string>> commands = {
      {"link", "set", "eth0", "up"},
      {"addr", "add", absl::StrCat(pod_ip4(i).ToString(), "/24"), "dev", "eth0"},
      {"addr", "add", absl::StrCat(pod_ip6(i).ToString(), "/64"), "dev", "eth0", "nodad"},
      {"route", "add", "default", "via", node_ip4().ToString()},
      {"-6", "route", "add", "default", "via", node_ip6().ToString()},
  };
  for (const auto& args : commands) BPFPT_RETURN_IF_ERROR(pod.Ip(args));
  BPFPT_RETURN_IF_ERROR(AddServiceRoutes(pod));
  for (uint16_t port : ports_) {
    for (const IpAddress& ip : {pod_ip4(i), pod_ip6(i)}) {
      BPFPT_ASSIGN_OR_RETURN(std::unique_ptr<IdentityServer> server,
                             IdentityServer::Start(pod, ip, port));
      servers_.push_back(std::move(server));
    }
  }
  return absl::OkStatus();
}

}  // namespace bpfproxy::e2e
