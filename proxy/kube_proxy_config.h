// kube-proxy's configuration file, KubeProxyConfiguration
// (kubeproxy.config.k8s.io/v1alpha1), as kubeadm writes it into the
// kube-system/kube-proxy ConfigMap (config.conf), read with kube-proxy's
// rules:
//   - every v1alpha1 field is known; zero, null and absent fields take
//     kube-proxy's defaults (SetDefaults_KubeProxyConfiguration), so
//     kubeadm's all-zero file means kube-proxy's defaults;
//   - a value of the wrong type or out of range is an error naming the field;
//   - an unknown or duplicated field is a warning, not an error: kube-proxy
//     tries strict decoding, and for v1alpha1 falls back to lenient decoding
//     and logs "Using lenient decoding as strict decoding failed" (see
//     Options.loadConfig in cmd/kube-proxy/app/options.go), which is how
//     ConfigMaps from older releases (udpIdleTimeout, ...) keep loading;
//   - the sync periods come from the section of the configured mode:
//     ipvs.*, nftables.*, else iptables.* (v1alpha1 conversion.go).
// bpfproxy's own switches (--socket-lb, --per-packet-lb, --devices, --bpf-*,
// --cgroup-root, --service-proxy-name) are flags only, also with --config:
// the file stays one kube-proxy can read, so going back keeps working.
#ifndef BPFPROXY_PROXY_KUBE_PROXY_CONFIG_H_
#define BPFPROXY_PROXY_KUBE_PROXY_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proxy/flags.h"

namespace bpfproxy {

inline constexpr char kKubeProxyConfigApiVersion[] = "kubeproxy.config.k8s.io/v1alpha1";
inline constexpr char kKubeProxyConfigKind[] = "KubeProxyConfiguration";

// The kube-proxy settings of a KubeProxyConfiguration document, on a
// DaemonConfig whose other fields are their defaults. Settings that have no
// effect on bpfproxy are listed in |ignored| when they differ from
// kube-proxy's defaults; fields strict decoding refuses are in |warnings|.
absl::StatusOr<DaemonConfig> DecodeKubeProxyConfiguration(absl::string_view yaml);

// The daemon's configuration from its command line: ParseFlags(), and with
// --config, the file with kube-proxy's precedence (ApplyFlagsOverConfigFile).
// Errors name the flag, or the file and the field.
absl::StatusOr<DaemonConfig> LoadDaemonConfig(const std::vector<std::string>& args);

// The kube-proxy settings of |config| as a KubeProxyConfiguration document
// (settings bpfproxy ignores at kube-proxy's defaults), as --write-config-to
// writes it; DecodeKubeProxyConfiguration reads it back to the same settings.
std::string EncodeKubeProxyConfiguration(const DaemonConfig& config);
absl::Status WriteKubeProxyConfiguration(const DaemonConfig& config, const std::string& path);

// Logs, once at start-up, the settings given that have no effect and the
// warnings (deprecated flags, what strict decoding refused).
void LogConfigNotes(const DaemonConfig& config);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_KUBE_PROXY_CONFIG_H_
