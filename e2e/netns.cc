#include "e2e/netns.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "e2e/status_macros.h"

extern char** environ;

namespace bpfproxy::e2e {
namespace {

constexpr absl::string_view kErrnoPayloadUrl = "type.bpfproxy.dev/e2e.Errno";
// iproute2's NETNS_RUN_DIR.
constexpr absl::string_view kNetnsRunDir = "/var/run/netns/";

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

absl::StatusOr<std::vector<std::string>> ListNetnsNames() {
  absl::StatusOr<std::string> listing = RunOutput({"ip", "netns", "list"});
  if (!listing.ok()) return listing.status();
  std::vector<std::string> names;
  for (absl::string_view line : absl::StrSplit(*listing, '\n', absl::SkipEmpty())) {
    names.emplace_back(line.substr(0, line.find(' ')));
  }
  return names;
}

bool IsNetnsOfThisProcess(absl::string_view name) {
  return absl::StrContains(name, absl::StrCat("-", getpid(), "-"));
}

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

}  // namespace bpfproxy::e2e
