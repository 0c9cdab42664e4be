// Loads the socket-LB programs, pins their maps and links under a bpffs
// directory, and attaches them to a cgroup v2 directory.
//
// Restart is not an outage: a second Open() on the same --bpf-root reuses the
// pinned maps (nothing is flushed) and swaps the new programs into the pinned
// links with BPF_LINK_UPDATE, so the hooks stay attached throughout. Closing
// a SocketLb leaves the pins, and so the datapath, in place; only Cleanup()
// removes them.
//
//   <bpf-root>/maps/bpfp_svc_v1 ...   pinned maps (proxy/bpf_pins.h)
//   <bpf-root>/links/bpfp_connect4 ... pinned cgroup links
//
// Host-only mode: with SocketLbConfig::netns_cookie set, the programs leave
// every socket of another network namespace (pods) untouched.
#ifndef BPFPROXY_PROXY_SOCKET_LB_H_
#define BPFPROXY_PROXY_SOCKET_LB_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proxy/bpf_lb_maps.h"
#include "proxy/lb_maps.h"

struct lb_sock;
struct bpf_link;
struct bpf_program;

namespace bpfproxy {

struct SocketLbConfig {
  std::string bpf_root = "/sys/fs/bpf/bpfproxy";
  // cgroup v2 directory to attach to; empty: the root of the cgroup2 mount
  // (mounted at /run/bpfproxy/cgroupv2 if there is none).
  std::string cgroup_root;
  // Sizes for maps this Open() creates. A pinned map keeps its size: changing
  // it takes a Cleanup() (a warning says so).
  LbMapCapacity capacity;
  // 0: translate the sockets of every network namespace in the cgroup.
  // Else only those of the namespace with this cookie (host-only mode; see
  // CurrentNetnsCookie()). Takes effect on a restart too: the programs are
  // swapped in place.
  uint64_t netns_cookie = 0;
};

// The cookie of the calling thread's network namespace (SO_NETNS_COOKIE,
// Linux 5.14+): what bpf_get_netns_cookie() returns for its sockets.
absl::StatusOr<uint64_t> CurrentNetnsCookie();

class SocketLb {
 public:
  static absl::StatusOr<std::unique_ptr<SocketLb>> Open(const SocketLbConfig& config);
  // Detaches the programs and removes every pin of ours (bpfp_*) under
  // |bpf_root| (the tc maps' too: detach the tc programs first, see
  // TcLb::Cleanup), and the directories if nothing else is in them. Missing
  // pins are fine.
  static absl::Status Cleanup(const std::string& bpf_root);

  ~SocketLb();
  SocketLb(const SocketLb&) = delete;
  SocketLb& operator=(const SocketLb&) = delete;

  LbMaps& maps() { return *maps_; }
  const std::string& cgroup_path() const { return cgroup_path_; }
  // Whether Open() found pinned maps from an earlier run and kept them.
  bool reused_maps() const { return reused_maps_; }

 private:
  SocketLb() = default;
  absl::Status PrepareMaps(const SocketLbConfig& config);
  // Attaches |prog| through its pinned link: swapped in place when the link
  // is on this cgroup, else a new link (the old one detached after).
  absl::Status AttachOne(bpf_program* prog, int cgroup_fd, uint64_t cgroup_id);
  // Detaches and unpins our links and maps this binary does not have (an
  // older version's), once the current programs are attached. The tc
  // object's maps are current too (CurrentMapNames()).
  absl::Status RemoveStalePins();

  lb_sock* skel_ = nullptr;
  std::vector<bpf_link*> links_;
  std::unique_ptr<BpfLbMaps> maps_;
  std::string bpf_root_;
  std::string cgroup_path_;
  bool reused_maps_ = false;
};

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_SOCKET_LB_H_
