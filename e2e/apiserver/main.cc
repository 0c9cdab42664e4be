// bpfproxy-apiserver-emulator: the Kubernetes API server emulator as a
// process, for end-to-end tests and the README demo. Prints the URL it
// serves on as its first line of stdout, then runs until SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "e2e/apiserver/emulator.h"
#include "e2e/apiserver/objects_file.h"

namespace bpfproxy::e2e::apiserver {
namespace {

constexpr char kUsage[] = R"(Usage: bpfproxy-apiserver-emulator --token=TOKEN [flags]

  --listen=ADDR:PORT        address to serve on (default 127.0.0.1:0; port 0 picks a free port;
                            IPv6 as [::1]:0). The URL is printed as the first line of stdout.
  --tls-cert=FILE           server certificate (PEM)
  --tls-key=FILE            server key (PEM)
  --plain-http              serve plain HTTP instead of HTTPS (debugging only)
  --token=TOKEN             bearer token every request must carry (required)
  --objects=FILE            initial objects: JSON (object, array or List) or multi-document YAML
  --bookmark-interval=D     between BOOKMARK events on watches that allow them (default 60s)
  --default-watch-timeout=D for watches without timeoutSeconds (default 30m)
  --history-limit=N         retained changes; older resourceVersions are Expired (default 1000)
  --expired-as-http-410     answer a watch from an expired resourceVersion with HTTP 410
                            instead of a 200 stream holding one ERROR event
  --help                    this text
Durations: 500ms, 2s, 1m; a bare number is seconds.
)";

struct Flags {
  EmulatorConfig config;
  std::string objects_file;
  bool plain_http = false;
};

absl::StatusOr<absl::Duration> ParseDurationFlag(const std::string& text) {
  absl::Duration duration;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds) && seconds > 0) return absl::Seconds(seconds);
  if (absl::ParseDuration(text, &duration) && duration > absl::ZeroDuration()) return duration;
  return absl::InvalidArgumentError(absl::StrCat("invalid duration \"", text, "\""));
}

absl::Status ParseListen(const std::string& text, ServerOptions& server) {
  size_t colon = text.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(text.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--listen needs ADDR:PORT, got \"", text, "\""));
  }
  std::string host = text.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) host = host.substr(1, host.size() - 2);
  if (host.empty()) return absl::InvalidArgumentError("--listen needs an explicit address");
  server.address = host;
  server.port = static_cast<uint16_t>(port);
  return absl::OkStatus();
}

bool IsValueFlag(const std::string& name) {
  for (const char* flag : {"listen", "tls-cert", "tls-key", "token", "objects", "bookmark-interval",
                           "default-watch-timeout", "history-limit"}) {
    if (name == flag) return true;
  }
  return false;
}

absl::Status ApplyFlag(const std::string& name, const std::string& value, Flags& flags) {
  EmulatorConfig& config = flags.config;
  if (name == "listen") return ParseListen(value, config.server);
  if (name == "tls-cert") config.server.tls_cert_file = value;
  else if (name == "tls-key") config.server.tls_key_file = value;
  else if (name == "token") config.token = value;
  else if (name == "objects") flags.objects_file = value;
  else if (name == "bookmark-interval" || name == "default-watch-timeout") {
    absl::StatusOr<absl::Duration> duration = ParseDurationFlag(value);
    if (!duration.ok()) return duration.status();
    (name == "bookmark-interval" ? config.api.bookmark_interval : config.api.default_watch_timeout) = *duration;
  } else if (name == "history-limit") {
    if (!absl::SimpleAtoi(value, &config.store.history_limit)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid --history-limit \"", value, "\""));
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
  }
  return absl::OkStatus();
}

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!absl::StartsWith(arg, "--")) return absl::InvalidArgumentError(absl::StrCat("unexpected argument ", arg));
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (name == "plain-http" || name == "expired-as-http-410") {
      bool on = !has_value || value == "true";
      (name == "plain-http" ? flags.plain_http : flags.config.api.expired_as_http_410) = on;
      continue;
    }
    if (!IsValueFlag(name)) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (!has_value) {
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      value = argv[++i];
    }
    if (absl::Status status = ApplyFlag(name, value, flags); !status.ok()) return status;
  }
  return flags;
}

absl::Status CheckFlags(Flags& flags) {
  const ServerOptions& server = flags.config.server;
  if (flags.config.token.empty()) return absl::InvalidArgumentError("--token is required");
  if (!flags.plain_http && (server.tls_cert_file.empty() || server.tls_key_file.empty())) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key are required (or --plain-http)");
  }
  if (flags.plain_http) {
    flags.config.server.tls_cert_file.clear();
    flags.config.server.tls_key_file.clear();
  }
  if (!flags.objects_file.empty()) {
    absl::StatusOr<std::vector<nlohmann::json>> objects = LoadObjectsFile(flags.objects_file);
    if (!objects.ok()) return objects.status();
    flags.config.initial_objects = *std::move(objects);
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  absl::StatusOr<Flags> flags = ParseFlags(argc, argv);
  absl::Status checked = flags.ok() ? CheckFlags(*flags) : flags.status();
  if (!checked.ok()) {
    std::fprintf(stderr, "bpfproxy-apiserver-emulator: %s\n\n%s", std::string(checked.message()).c_str(), kUsage);
    return 2;
  }
  // Block the stop signals before any thread starts so that every thread
  // inherits the mask and sigwait below is the one place they arrive.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  absl::StatusOr<std::unique_ptr<ApiServerEmulator>> emulator = ApiServerEmulator::Start(flags->config);
  if (!emulator.ok()) {
    std::fprintf(stderr, "bpfproxy-apiserver-emulator: %s\n", emulator.status().ToString().c_str());
    return 1;
  }
  std::printf("%s\n", (*emulator)->url().c_str());
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "bpfproxy-apiserver-emulator: signal %d, stopping\n", signal_number);
  emulator->reset();
  return 0;
}

}  // namespace
}  // namespace bpfproxy::e2e::apiserver

int main(int argc, char** argv) { return bpfproxy::e2e::apiserver::Main(argc, argv); }
