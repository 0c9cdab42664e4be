// Throwaway TLS material for tests and the demo, made with the openssl CLI:
// a CA, a server certificate signed by it for the given IPs (plus
// "localhost"), a random bearer token, and a kubeconfig pointing at a server.
#ifndef BPFPROXY_E2E_APISERVER_TEST_PKI_H_
#define BPFPROXY_E2E_APISERVER_TEST_PKI_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bpfproxy::e2e::apiserver {

struct TestPki {
  std::string dir;
  std::string ca_cert;      // <dir>/ca.crt
  std::string ca_key;       // <dir>/ca.key
  std::string server_cert;  // <dir>/server.crt (SANs: every IP given, DNS:localhost)
  std::string server_key;   // <dir>/server.key
  std::string token;        // 32 random hex digits; also in <dir>/token

  // Writes <dir>/kubeconfig for |server_url| with this CA and token.
  absl::StatusOr<std::string> WriteKubeconfig(std::string_view server_url) const;
};

// |dir| must exist and is the caller's to remove. |ips| must not be empty.
absl::StatusOr<TestPki> MakeTestPki(const std::string& dir, const std::vector<std::string>& ips);

// A kubeconfig with one cluster, user and context (current-context set):
// certificate-authority is |ca_file|'s path, the user authenticates with |token|.
absl::Status WriteKubeconfig(const std::string& path, std::string_view server_url, std::string_view ca_file,
                             std::string_view token);

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_TEST_PKI_H_
