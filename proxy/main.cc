// bpfproxy: the daemon. For now it loads and pins the socket-LB datapath,
// optionally programs static frontends from a file, and runs until SIGTERM
// or SIGINT, leaving the pinned datapath in place so traffic keeps flowing
// while it restarts. The Kubernetes watcher arrives with the API client.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proxy/frontends_file.h"
#include "proxy/log.h"
#include "proxy/reconciler.h"
#include "proxy/socket_lb.h"

namespace bpfproxy {
namespace {

constexpr char kUsage[] = R"(Usage: bpfproxy [flags]

  --bpf-root=DIR         bpffs directory for pinned maps and links (default /sys/fs/bpf/bpfproxy;
                         bpffs is mounted if needed)
  --cgroup-root=DIR      cgroup v2 directory the socket hooks attach to (default: the root of the
                         cgroup2 mount; cgroup2 is mounted at /run/bpfproxy/cgroupv2 if none is)
  --frontends-file=FILE  program static frontends from FILE (JSON, see README) and re-read it on SIGHUP
  --bpf-lb-services-max=N   capacity of the services map: masters + backend slots (default 2097152)
  --bpf-lb-backends-max=N   capacity of the backends map (default 1048576)
  --bpf-lb-sockets-max=N    capacity of each per-socket LRU map (default 262144)
                         (sizes apply to maps created by this start; pinned maps keep theirs
                         until --cleanup)
  --cleanup              detach the programs, remove every pin under --bpf-root, and exit
  --v=N                  log verbosity (klog levels)
  --help                 this text
)";

struct Config {
  SocketLbConfig datapath;
  std::string frontends_file;
  bool cleanup = false;
};

uint32_t* MapSizeFlag(Config& config, const std::string& name) {
  if (name == "bpf-lb-services-max") return &config.datapath.capacity.services;
  if (name == "bpf-lb-backends-max") return &config.datapath.capacity.backends;
  if (name == "bpf-lb-sockets-max") return &config.datapath.capacity.sockets;
  return nullptr;
}

// Parses --name=value and --name value; an unknown flag is an error.
absl::StatusOr<Config> ParseFlags(int argc, char** argv) {
  Config config;
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
    auto take_value = [&]() -> absl::StatusOr<std::string> {
      if (has_value) return value;
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      return std::string(argv[++i]);
    };
    if (name == "help" || name == "h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (name == "cleanup") {
      config.cleanup = !has_value || value == "true";
    } else if (uint32_t* size = MapSizeFlag(config, name); size != nullptr) {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      if (!absl::SimpleAtoi(*v, size) || *size == 0) {
        return absl::InvalidArgumentError(absl::StrCat("invalid value \"", *v, "\" for flag --", name));
      }
    } else if (name == "bpf-root" || name == "cgroup-root" || name == "frontends-file" || name == "v") {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      if (name == "bpf-root") config.datapath.bpf_root = *v;
      if (name == "cgroup-root") config.datapath.cgroup_root = *v;
      if (name == "frontends-file") config.frontends_file = *v;
      int level = 0;
      if (name == "v" && !absl::SimpleAtoi(*v, &level)) {
        return absl::InvalidArgumentError(absl::StrCat("invalid value \"", *v, "\" for flag --v"));
      }
      if (name == "v") log::SetVerbosity(level);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
  }
  return config;
}

void Apply(Reconciler& reconciler, const std::string& path) {
  absl::StatusOr<DesiredFrontends> desired = ReadFrontendsFile(path);
  if (!desired.ok()) {
    KLOG(ERROR) << "Not applying " << path << ": " << desired.status().message();
    return;
  }
  SyncResult result = reconciler.Sync(*desired);
  for (const auto& [frontend, status] : result.failed) KLOG(ERROR) << status.message();
  KLOG(INFO) << "Synced " << desired->size() << " frontends from " << path << " (" << result.failed.size()
             << " failed, pruned " << result.pruned_services << " service and " << result.pruned_backends
             << " backend entries)";
}

int Run(int argc, char** argv) {
  absl::StatusOr<Config> config = ParseFlags(argc, argv);
  if (!config.ok()) {
    std::fprintf(stderr, "bpfproxy: %s\n%s", std::string(config.status().message()).c_str(), kUsage);
    return 2;
  }
  if (config->cleanup) {
    absl::Status s = SocketLb::Cleanup(config->datapath.bpf_root);
    if (!s.ok()) KLOG(ERROR) << "Cleanup failed: " << s.message();
    return s.ok() ? 0 : 1;
  }
  // Block the signals before any thread starts; sigwait below takes them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<SocketLb>> datapath = SocketLb::Open(config->datapath);
  if (!datapath.ok()) {
    KLOG(ERROR) << "Cannot set up the datapath: " << datapath.status().message();
    return 1;
  }
  absl::StatusOr<std::unique_ptr<Reconciler>> reconciler = Reconciler::Create(&(*datapath)->maps());
  if (!reconciler.ok()) {
    KLOG(ERROR) << "Cannot read the pinned maps: " << reconciler.status().message();
    return 1;
  }
  KLOG(INFO) << "Restored " << (*reconciler)->Applied().size() << " frontends and "
             << (*reconciler)->backend_entries() << " backends from the pinned maps";
  if (!config->frontends_file.empty()) Apply(**reconciler, config->frontends_file);

  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP && !config->frontends_file.empty()) {
      Apply(**reconciler, config->frontends_file);
      continue;
    }
    if (sig != SIGHUP) break;
  }
  KLOG(INFO) << "Exiting; the pinned datapath stays in place";
  return 0;
}

}  // namespace
}  // namespace bpfproxy

int main(int argc, char** argv) { return bpfproxy::Run(argc, argv); }
