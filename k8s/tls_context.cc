#include "k8s/tls_context.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>

#include "absl/strings/str_cat.h"

namespace bpfproxy::k8s {
namespace {

absl::Status TlsError(absl::string_view what, const boost::system::error_code& error) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", error.message()));
}

}  // namespace

absl::Status ConfigureTlsContext(const TlsMaterial& material, boost::asio::ssl::context& context) {
  namespace ssl = boost::asio::ssl;
  boost::system::error_code error;
  context.set_options(
      ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1, error);
  if (error) return TlsError("TLS options", error);
  if (!material.ca_pem.empty()) {
    // A fresh store: the cluster's CA alone is trusted, not the system roots
    // cpprestsdk loaded (client-go does the same when a CA is configured).
    X509_STORE* store = X509_STORE_new();
    if (store == nullptr) return absl::ResourceExhaustedError("X509_STORE_new failed");
    SSL_CTX_set_cert_store(context.native_handle(), store);  // takes ownership
    context.add_certificate_authority(boost::asio::buffer(material.ca_pem), error);
    if (error) return TlsError("certificate authority", error);
  }
  if (!material.client_cert_pem.empty()) {
    context.use_certificate_chain(boost::asio::buffer(material.client_cert_pem), error);
    if (error) return TlsError("client certificate", error);
    context.use_private_key(boost::asio::buffer(material.client_key_pem), ssl::context::pem, error);
    if (error) return TlsError("client key", error);
    if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
      return absl::InvalidArgumentError("client key does not match the client certificate");
    }
  }
  return absl::OkStatus();
}

}  // namespace bpfproxy::k8s
