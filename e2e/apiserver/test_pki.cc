#include "e2e/apiserver/test_pki.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "yaml-cpp/yaml.h"

extern char** environ;

namespace bpfproxy::e2e::apiserver {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Runs |argv| (no shell), output appended to |log|; error with the log's
// contents unless it exits 0.
absl::Status Run(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int error = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return absl::InternalError(absl::StrCat("spawn ", argv[0], ": ", strerror(error)));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), " failed:\n", ReadFile(log)));
}

std::string RandomToken() {
  std::random_device random;
  return absl::StrFormat("%08x%08x%08x%08x", random(), random(), random(), random());
}

std::string SubjectAltNames(const std::vector<std::string>& ips) {
  std::vector<std::string> names;
  for (const std::string& ip : ips) names.push_back(absl::StrCat("IP:", ip));
  names.push_back("DNS:localhost");
  return absl::StrCat("subjectAltName=", absl::StrJoin(names, ","));
}

}  // namespace

absl::StatusOr<TestPki> MakeTestPki(const std::string& dir, const std::vector<std::string>& ips) {
  if (ips.empty()) return absl::InvalidArgumentError("MakeTestPki needs at least one IP");
  TestPki pki{dir, dir + "/ca.crt", dir + "/ca.key", dir + "/server.crt", dir + "/server.key", RandomToken()};
  std::string log = dir + "/openssl.log", csr = dir + "/server.csr", ext = dir + "/server.ext";
  // EC keys: generating them takes milliseconds, RSA keys can take seconds.
  const std::vector<std::string> ec_key = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
  std::vector<std::string> ca = {"openssl", "req", "-x509", "-days", "2", "-subj", "/CN=bpfproxy-test-ca",
                                 "-keyout", pki.ca_key, "-out", pki.ca_cert,
                                 "-addext", "basicConstraints=critical,CA:TRUE",
                                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"};
  ca.insert(ca.begin() + 2, ec_key.begin(), ec_key.end());
  if (absl::Status status = Run(ca, log); !status.ok()) return status;
  std::vector<std::string> request = {"openssl", "req", "-subj", "/CN=bpfproxy-apiserver-emulator",
                                      "-keyout", pki.server_key, "-out", csr};
  request.insert(request.begin() + 2, ec_key.begin(), ec_key.end());
  if (absl::Status status = Run(request, log); !status.ok()) return status;
  std::string extensions = absl::StrCat(SubjectAltNames(ips), "\nbasicConstraints=CA:FALSE\n",
                                        "keyUsage=critical,digitalSignature,keyEncipherment\n",
                                        "extendedKeyUsage=serverAuth\n");
  if (absl::Status status = WriteFile(ext, extensions); !status.ok()) return status;
  if (absl::Status status = Run({"openssl", "x509", "-req", "-in", csr, "-CA", pki.ca_cert, "-CAkey", pki.ca_key,
                                 "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", pki.server_cert},
                                log);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = WriteFile(dir + "/token", pki.token); !status.ok()) return status;
  return pki;
}

absl::StatusOr<std::string> TestPki::WriteKubeconfig(std::string_view server_url) const {
  std::string path = dir + "/kubeconfig";
  if (absl::Status status = apiserver::WriteKubeconfig(path, server_url, ca_cert, token); !status.ok()) return status;
  return path;
}

absl::Status WriteKubeconfig(const std::string& path, std::string_view server_url, std::string_view ca_file,
                             std::string_view token) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "v1" << YAML::Key << "kind" << YAML::Value
      << "Config";
  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq << YAML::BeginMap << YAML::Key << "name"
      << YAML::Value << "emulator" << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap << YAML::Key
      << "server" << YAML::Value << std::string(server_url) << YAML::Key << "certificate-authority" << YAML::Value
      << std::string(ca_file) << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq << YAML::BeginMap << YAML::Key << "name"
      << YAML::Value << "emulator" << YAML::Key << "user" << YAML::Value << YAML::BeginMap << YAML::Key << "token"
      << YAML::Value << std::string(token) << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap << YAML::Key << "name"
      << YAML::Value << "emulator" << YAML::Key << "context" << YAML::Value << YAML::BeginMap << YAML::Key
      << "cluster" << YAML::Value << "emulator" << YAML::Key << "user" << YAML::Value << "emulator" << YAML::EndMap
      << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "current-context" << YAML::Value << "emulator" << YAML::EndMap;
  return WriteFile(path, std::string(out.c_str()) + "\n");
}

}  // namespace bpfproxy::e2e::apiserver
