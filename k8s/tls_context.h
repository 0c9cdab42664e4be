// TLS settings for connections to the API server, applied to the
// boost::asio::ssl::context cpprestsdk creates for each new connection.
#ifndef BPFPROXY_K8S_TLS_CONTEXT_H_
#define BPFPROXY_K8S_TLS_CONTEXT_H_

#include <string>

#include "absl/status/status.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace bpfproxy::k8s {

struct TlsMaterial {
  std::string ca_pem;           // trusted instead of the system roots if set
  std::string client_cert_pem;  // with client_key_pem: client authentication
  std::string client_key_pem;
};

// Pins the CA (replaces the trust store, so only |material.ca_pem| is
// trusted), loads the client certificate chain and key from memory and
// refuses TLS older than 1.2. Peer verification itself (verify_peer and the
// host name check) is switched on by cpprestsdk for every connection.
// Never throws: bad PEM is an error naming what was bad.
absl::Status ConfigureTlsContext(const TlsMaterial& material, boost::asio::ssl::context& context);

}  // namespace bpfproxy::k8s

#endif  // BPFPROXY_K8S_TLS_CONTEXT_H_
