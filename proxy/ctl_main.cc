// bpfproxyctl: reads the pinned maps of a running node and prints what the
// datapath does — the answer to iptables-save being unreadable. It only
// reads; it works while the daemon runs, and while it does not.
//
//   bpfproxyctl [--bpf-root=DIR] services [--json]   frontends and their backends
//   bpfproxyctl [--bpf-root=DIR] maps [--json]       entries and capacity per map
//   bpfproxyctl [--bpf-root=DIR] dump                every entry, sorted
#include <bpf/bpf.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "proxy/bpf_lb_maps.h"
#include "proxy/reconciler.h"

namespace bpfproxy {
namespace {

constexpr char kUsage[] =
    "Usage: bpfproxyctl [--bpf-root=DIR] services|maps|dump [--json]\n"
    "  services  the Service frontends in the datapath and their backends\n"
    "  maps      entries and capacity of every map\n"
    "  dump      every map entry, sorted\n"
    "  --bpf-root=DIR  the daemon's --bpf-root (default /sys/fs/bpf/bpfproxy)\n";

struct PinnedMap {
  std::string name;
  UniqueFd fd;
  bpf_map_info info{};
};

absl::StatusOr<PinnedMap> OpenMap(const std::string& root, const char* name) {
  PinnedMap m{name, UniqueFd(bpf_obj_get(absl::StrCat(root, "/maps/", name).c_str()))};
  if (!m.fd.valid()) {
    return absl::NotFoundError(absl::StrCat("cannot open ", root, "/maps/", name, ": ", strerror(errno),
                                            " (is --bpf-root the daemon's?)"));
  }
  uint32_t len = sizeof(m.info);
  if (bpf_obj_get_info_by_fd(m.fd.get(), &m.info, &len) != 0) return absl::InternalError("bpf_obj_get_info_by_fd");
  return m;
}

size_t CountEntries(int fd, uint32_t key_size) {
  std::vector<char> key(key_size), next(key_size);
  size_t n = 0;
  for (void* prev = nullptr; bpf_map_get_next_key(fd, prev, next.data()) == 0; prev = key.data()) {
    key = next;
    ++n;
  }
  return n;
}

int Maps(const std::string& root, bool json) {
  nlohmann::json out = nlohmann::json::array();
  for (const char* name : {LB_SERVICES_MAP_NAME, LB_BACKENDS_MAP_NAME, LB_MEMBERS_MAP_NAME, LB_REVNAT_MAP_NAME,
                           LB_AFFINITY_MAP_NAME}) {
    absl::StatusOr<PinnedMap> m = OpenMap(root, name);
    if (!m.ok()) return std::fprintf(stderr, "bpfproxyctl: %s\n", std::string(m.status().message()).c_str()), 1;
    out.push_back({{"map", name},
                   {"entries", CountEntries(m->fd.get(), m->info.key_size)},
                   {"capacity", m->info.max_entries}});
  }
  if (json) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-14s %10s %10s %6s\n", "MAP", "ENTRIES", "CAPACITY", "USED");
  for (const auto& m : out) {
    double used = 100.0 * m["entries"].get<double>() / m["capacity"].get<double>();
    std::printf("%-14s %10zu %10u %5.1f%%\n", m["map"].get<std::string>().c_str(), m["entries"].get<size_t>(),
                m["capacity"].get<uint32_t>(), used);
  }
  return 0;
}

absl::StatusOr<std::unique_ptr<BpfLbMaps>> LbMapsAt(const std::string& root) {
  std::vector<UniqueFd> fds;
  for (const char* name : {LB_SERVICES_MAP_NAME, LB_BACKENDS_MAP_NAME, LB_MEMBERS_MAP_NAME}) {
    absl::StatusOr<PinnedMap> m = OpenMap(root, name);
    if (!m.ok()) return m.status();
    fds.push_back(std::move(m->fd));
  }
  return std::make_unique<BpfLbMaps>(std::move(fds[0]), std::move(fds[1]), std::move(fds[2]), LbMapCapacity{});
}

int Services(const std::string& root, bool json) {
  absl::StatusOr<std::unique_ptr<BpfLbMaps>> maps = LbMapsAt(root);
  if (!maps.ok()) return std::fprintf(stderr, "bpfproxyctl: %s\n", std::string(maps.status().message()).c_str()), 1;
  // Reading is what a restarted daemon does; Create() writes nothing.
  absl::StatusOr<std::unique_ptr<Reconciler>> state = Reconciler::Create(maps->get());
  if (!state.ok()) return std::fprintf(stderr, "bpfproxyctl: %s\n", std::string(state.status().message()).c_str()), 1;
  DesiredFrontends applied = (*state)->Applied();
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [frontend, backends] : applied) {
      nlohmann::json b = nlohmann::json::array();
      for (const L4Address& a : backends) b.push_back(a.ToString());
      out.push_back({{"frontend", frontend.ToString()}, {"backends", b}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-30s %8s  %s\n", "FRONTEND", "BACKENDS", "");
  for (const auto& [frontend, backends] : applied) {
    std::vector<std::string> b;
    for (const L4Address& a : backends) b.push_back(absl::StrCat(a.ip.is_v4() ? a.ip.ToString() : "[" + a.ip.ToString() + "]", ":", a.port));
    std::printf("%-30s %8zu  %s\n", frontend.ToString().c_str(), backends.size(),
                backends.empty() ? "(none: connections are refused)" : absl::StrJoin(b, " ").c_str());
  }
  return 0;
}

int Dump(const std::string& root) {
  absl::StatusOr<std::unique_ptr<BpfLbMaps>> maps = LbMapsAt(root);
  if (!maps.ok()) return std::fprintf(stderr, "bpfproxyctl: %s\n", std::string(maps.status().message()).c_str()), 1;
  absl::StatusOr<std::vector<std::string>> lines = DumpLines(**maps);
  if (!lines.ok()) return std::fprintf(stderr, "bpfproxyctl: %s\n", std::string(lines.status().message()).c_str()), 1;
  for (const std::string& line : *lines) std::printf("%s\n", line.c_str());
  return 0;
}

int Run(int argc, char** argv) {
  std::string root = "/sys/fs/bpf/bpfproxy", command;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (absl::StartsWith(arg, "--bpf-root=")) {
      root = arg.substr(11);
    } else if (arg == "--json") {
      json = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (command.empty() && !absl::StartsWith(arg, "-")) {
      command = arg;
    } else {
      std::fprintf(stderr, "bpfproxyctl: unexpected argument \"%s\"\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (command == "services") return Services(root, json);
  if (command == "maps") return Maps(root, json);
  if (command == "dump") return Dump(root);
  std::fprintf(stderr, "bpfproxyctl: %s\n%s", command.empty() ? "no command" : ("unknown command " + command).c_str(),
               kUsage);
  return 2;
}

}  // namespace
}  // namespace bpfproxy

int main(int argc, char** argv) { return bpfproxy::Run(argc, argv); }
