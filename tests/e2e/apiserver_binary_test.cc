// build/bpfproxy-apiserver-emulator as a process: prints its URL, serves
// the objects file over HTTPS, honours its flags, exits 0 on SIGTERM.
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/apiserver_test_util.h"
#include "tests/util/status_macros.h"
#include "yaml-cpp/yaml.h"

extern char** environ;

namespace bpfproxy::e2e::apiserver::testing {
namespace {

// The emulator process; killed (only this PID) if the test did not stop it.
class EmulatorProcess {
 public:
  // The process's stderr goes to |stderr_path|.
  explicit EmulatorProcess(std::string stderr_path) : stderr_path_(std::move(stderr_path)) {}
  ~EmulatorProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }

  absl::Status Start(std::vector<std::string> flags) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0600);
    std::vector<std::string> args = {BPFPROXY_APISERVER_EMULATOR_PATH};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    int error = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    stdout_fd_ = out[0];
    return error == 0 ? absl::OkStatus() : absl::InternalError(absl::StrCat("spawn: ", strerror(error)));
  }

  // The first line of stdout, waiting at most |timeout|.
  std::string FirstLine(absl::Duration timeout) {
    std::string line;
    absl::Time deadline = absl::Now() + timeout;
    char c;
    while (absl::Now() < deadline) {
      pollfd pfd{stdout_fd_, POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()))) <= 0) break;
      if (read(stdout_fd_, &c, 1) != 1 || c == '\n') return line;
      line.push_back(c);
    }
    return line;
  }

  // Waits for the exit; its status, or -1 on timeout.
  int Wait(absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return -1;
  }

  pid_t pid() const { return pid_; }

 private:
  std::string stderr_path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
};

class ApiServerBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(dir_, TempDir::Make());
    ASSERT_OK_AND_ASSIGN(pki_, MakeTestPki(dir_->path(), {"127.0.0.1", "10.11.12.13"}));
  }

  std::vector<std::string> TlsFlags() const {
    return {"--listen=127.0.0.1:0", "--tls-cert=" + pki_.server_cert, "--tls-key", pki_.server_key,
            "--token=" + pki_.token};
  }

  // Starts the binary and returns a client for the URL it printed.
  TestClient StartAndConnect(EmulatorProcess& process, std::vector<std::string> flags) {
    EXPECT_OK(process.Start(std::move(flags)));
    std::string url = process.FirstLine(absl::Seconds(10));
    EXPECT_THAT(url, ::testing::MatchesRegex("https://127\\.0\\.0\\.1:[0-9]+"));
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(url.substr(url.rfind(':') + 1), &port)) << url;
    url_ = url;
    return TestClient({"127.0.0.1", static_cast<uint16_t>(port), pki_.ca_cert, pki_.token});
  }

  std::unique_ptr<TempDir> dir_;
  TestPki pki_;
  std::string url_;
};

TEST_F(ApiServerBinaryTest, PrintsItsUrlServesTheObjectsFileAndExitsOnSigterm) {
  std::string objects = dir_->path() + "/objects.yaml";
  std::ofstream(objects) << "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
                            "spec: {clusterIP: 10.96.0.10, ports: [{port: 80, protocol: TCP}]}\n---\n"
                            "apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\n";
  EmulatorProcess process(dir_->path() + "/stderr");
  std::vector<std::string> flags = TlsFlags();
  flags.push_back("--objects=" + objects);
  TestClient client = StartAndConnect(process, flags);
  ASSERT_FALSE(HasFailure());

  ASSERT_OK_AND_ASSIGN(Response list, client.Get("/api/v1/services"));
  EXPECT_EQ(list.code, 200);
  EXPECT_EQ(list.Json()["items"][0]["spec"]["ports"][0]["port"], 80);
  ASSERT_OK_AND_ASSIGN(Response node, client.Get("/api/v1/nodes/node-1"));
  EXPECT_EQ(node.code, 200);
  ASSERT_OK_AND_ASSIGN(Response denied, client.WithToken("").Get("/api/v1/services"));
  EXPECT_EQ(denied.code, 401);

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WatchStream> watch, client.Watch("/api/v1/services?watch=1"));
  EXPECT_EQ(watch->Read().event["type"], "ADDED");
  ASSERT_EQ(kill(process.pid(), SIGTERM), 0);
  int status = process.Wait(absl::Seconds(5));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(watch->Read().state, WatchStream::State::kAbruptEnd);
}

TEST_F(ApiServerBinaryTest, HistoryLimitAndExpiredAsHttp410Flags) {
  EmulatorProcess process(dir_->path() + "/stderr");
  std::vector<std::string> flags = TlsFlags();
  flags.insert(flags.end(), {"--history-limit=1", "--expired-as-http-410", "--bookmark-interval=100ms"});
  TestClient client = StartAndConnect(process, flags);
  ASSERT_FALSE(HasFailure());
  for (std::string name : {"a", "b"}) {
    ASSERT_OK_AND_ASSIGN(Response created, client.Request("POST", "/emulator/objects", Node(name).dump()));
    ASSERT_EQ(created.code, 200) << created.body;
  }
  ASSERT_OK_AND_ASSIGN(Response state, client.Get("/emulator/state"));
  int64_t rv = 0;
  ASSERT_TRUE(absl::SimpleAtoi(state.Json()["resourceVersion"].get<std::string>(), &rv));
  ASSERT_OK_AND_ASSIGN(Response expired, client.Get(absl::StrCat("/api/v1/nodes?watch=1&resourceVersion=", rv - 2)));
  EXPECT_EQ(expired.code, 410);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WatchStream> watch,
                       client.Watch(absl::StrCat("/api/v1/nodes?watch=1&allowWatchBookmarks=1&resourceVersion=", rv - 1)));
  EXPECT_EQ(watch->Read().event["type"], "ADDED");
  EXPECT_EQ(watch->Read().event["type"], "BOOKMARK");
}

TEST_F(ApiServerBinaryTest, UsageErrorsExit2WithTheReason) {
  struct Case {
    std::vector<std::string> flags;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {{"--listen=127.0.0.1:0", "--plain-http"}, "--token is required"},
      {{"--listen=127.0.0.1:0", "--token=t"}, "--tls-cert and --tls-key are required"},
      {{"--listen=:0", "--token=t", "--plain-http"}, "--listen needs an explicit address"},
      {{"--token=t", "--plain-http", "--bind-everywhere"}, "unknown flag --bind-everywhere"},
      {{"--token=t", "--plain-http", "--objects=/nonexistent/objects.yaml"}, "cannot open /nonexistent/objects.yaml"},
      {{"--token=t", "--plain-http", "--bookmark-interval=soon"}, "invalid duration \"soon\""},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string stderr_path = absl::StrCat(dir_->path(), "/stderr-", i);
    EmulatorProcess process(stderr_path);
    ASSERT_OK(process.Start(cases[i].flags));
    int status = process.Wait(absl::Seconds(5));
    ASSERT_TRUE(WIFEXITED(status)) << cases[i].reason;
    EXPECT_EQ(WEXITSTATUS(status), 2) << cases[i].reason;
    std::ifstream in(stderr_path);
    std::string first_line;
    std::getline(in, first_line);
    EXPECT_THAT(first_line, ::testing::HasSubstr(cases[i].reason));
  }
}

TEST_F(ApiServerBinaryTest, KubeconfigPointsAtTheServerWithTheCaAndToken) {
  ASSERT_OK_AND_ASSIGN(std::string path, pki_.WriteKubeconfig("https://127.0.0.1:6443"));
  YAML::Node config = YAML::LoadFile(path);
  EXPECT_EQ(config["current-context"].as<std::string>(), "emulator");
  EXPECT_EQ(config["contexts"][0]["context"]["cluster"].as<std::string>(), "emulator");
  EXPECT_EQ(config["clusters"][0]["cluster"]["server"].as<std::string>(), "https://127.0.0.1:6443");
  EXPECT_EQ(config["clusters"][0]["cluster"]["certificate-authority"].as<std::string>(), pki_.ca_cert);
  EXPECT_EQ(config["users"][0]["user"]["token"].as<std::string>(), pki_.token);
  // The server certificate names every IP it was made for, and only those.
  FILE* file = fopen(pki_.server_cert.c_str(), "r");
  ASSERT_NE(file, nullptr);
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  fclose(file);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "10.11.12.13", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "10.11.12.14", 0), 0);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  X509_free(cert);
}

}  // namespace
}  // namespace bpfproxy::e2e::apiserver::testing
