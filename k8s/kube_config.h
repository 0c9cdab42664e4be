// Where the API server is and how to authenticate to it: from a kubeconfig
// file (--kubeconfig), from the pod's service account (in-cluster), with
// --master overriding the server. The same rules as client-go's
// clientcmd / rest.InClusterConfig, for the fields kube-proxy uses.
#ifndef BPFPROXY_K8S_KUBE_CONFIG_H_
#define BPFPROXY_K8S_KUBE_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"

namespace bpfproxy::k8s {

struct ClientConfig {
  // "https://host:port" (maybe with a path prefix), no trailing slash.
  std::string server;
  // PEM CA bundle to trust instead of the system's roots; empty = system
  // roots. TLS is always verified unless insecure_skip_tls_verify.
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  // Client certificate authentication (PEM), both or neither.
  std::string client_cert_pem;
  std::string client_key_pem;
  // Bearer token authentication. A token_file is read again for every
  // request (bound service account tokens rotate); token is used when there
  // is no token_file or it cannot be read.
  std::string token;
  std::string token_file;
  // Where this came from, for logs: "kubeconfig /path (context ctx)",
  // "in-cluster", "--master".
  std::string source;
};

// Loads |path|. Relative file names in it (certificate-authority,
// client-certificate, client-key, tokenFile) are relative to the file's
// directory; *-data fields hold base64 PEM and win over file names. Uses
// |context| if not empty, else current-context. Errors name the file and the
// field, e.g. "kubeconfig /k: context "ctx": cluster "c" not found".
absl::StatusOr<ClientConfig> LoadKubeconfig(const std::string& path, const std::string& context = "");

// What in-cluster configuration reads; injectable for tests.
struct InClusterSource {
  std::string service_host;  // $KUBERNETES_SERVICE_HOST
  std::string service_port;  // $KUBERNETES_SERVICE_PORT
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";

  // From this process's environment.
  static InClusterSource FromEnvironment();
};

// https://host:port (an IPv6 host is bracketed), the service account's token
// file (re-read per request) and CA. The token must be readable now; a
// missing ca.crt is logged and the system roots are used (as client-go does).
absl::StatusOr<ClientConfig> LoadInClusterConfig(const InClusterSource& source);

// kube-proxy's choice: no --kubeconfig and no --master: in-cluster; else the
// kubeconfig (if any) with its server replaced by |master| (if set). A bare
// "host:port" server gets https:// when TLS settings are present, else
// http:// (client-go's rule).
absl::StatusOr<ClientConfig> LoadClientConfig(const std::string& kubeconfig, const std::string& master,
                                              const InClusterSource& in_cluster);

}  // namespace bpfproxy::k8s

#endif  // BPFPROXY_K8S_KUBE_CONFIG_H_
