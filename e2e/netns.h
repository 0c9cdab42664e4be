// Test-owned kernel objects for the e2e topology: commands run without a shell,
// named network namespaces, temporary mounts (bpffs among them) and a cgroup v2
// directory, plus errno-carrying statuses.
//
// Safety contract (see DESIGN.md, "Testing on a real kernel"): every namespace,
// cgroup and mount is removed by the destructor of the object that created it.
// Names embed the creating pid so that scripts/sweep-test-leftovers.sh can
// remove what a crashed process left behind.
#ifndef BPFPROXY_E2E_NETNS_H_
#define BPFPROXY_E2E_NETNS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proxy/unique_fd.h"

namespace bpfproxy::e2e {

// Name prefixes known to scripts/sweep-test-leftovers.sh.
inline constexpr absl::string_view kTestPrefix = "bpfpt";
inline constexpr absl::string_view kDemoPrefix = "bpfpdemo";

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

// The names `ip netns list` shows (lines read "name" or "name (id: 3)").
absl::StatusOr<std::vector<std::string>> ListNetnsNames();
// Whether |name| is one this process made ("<prefix>-<pid>-<counter>"):
// other test processes may run in parallel, with names of their own.
bool IsNetnsOfThisProcess(absl::string_view name);

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

}  // namespace bpfproxy::e2e

#endif  // BPFPROXY_E2E_NETNS_H_
