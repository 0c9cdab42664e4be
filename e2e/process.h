// A process a test or the demo starts (posix_spawn, stderr appended to a log file); it
// is killed, by its PID, if still running when the object goes.
#ifndef BPFPROXY_E2E_PROCESS_H_
#define BPFPROXY_E2E_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

extern char** environ;

namespace bpfproxy::e2e {

class Process {
 public:
  static absl::StatusOr<std::unique_ptr<Process>> Start(std::vector<std::string> args, const std::string& log) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    pid_t pid = 0;
    int err = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) return absl::InternalError(absl::StrCat("spawn ", args[0], ": ", strerror(err)));
    return std::unique_ptr<Process>(new Process(pid));
  }
  ~Process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void Signal(int sig) { kill(pid_, sig); }
  // Exit code, or -1 if it did not exit normally.
  int Wait() {
    if (pid_ <= 0) return -1;  // Already reaped: never waitpid(-1).
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // Like Wait(), but gives up after |timeout| (nullopt: still running).
  std::optional<int> WaitFor(absl::Duration timeout) {
    if (pid_ <= 0) return std::nullopt;  // Already reaped: never waitpid(-1).
    for (absl::Time end = absl::Now() + timeout;; absl::SleepFor(absl::Milliseconds(20))) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      if (absl::Now() >= end) return std::nullopt;
    }
  }

 private:
  explicit Process(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace bpfproxy::e2e

#endif  // BPFPROXY_E2E_PROCESS_H_
