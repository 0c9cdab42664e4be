#include "tests/k8s/test_certs.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <memory>

namespace bpfproxy::k8s::testing {
namespace {

// Test helper: any OpenSSL failure is a broken test environment.
void Check(bool ok) {
  if (!ok) std::abort();
}

EVP_PKEY* NewKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  Check(key != nullptr);
  return key;
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, size);
}

std::string CertPem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  Check(PEM_write_bio_X509(bio.get(), cert) == 1);
  return BioText(bio.get());
}

std::string KeyPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  Check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  return BioText(bio.get());
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  Check(ext != nullptr);
  Check(X509_add_ext(cert, ext, -1) == 1);
  X509_EXTENSION_free(ext);
}

// A certificate for |key| named |common_name|, signed by |issuer_key| (as
// |issuer|, or self-signed when null).
X509* NewCert(EVP_PKEY* key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1;
  X509* cert = X509_new();
  Check(cert != nullptr);
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  return cert;
}

}  // namespace

TestCa::TestCa(const std::string& common_name) {
  EVP_PKEY* key = NewKey();
  X509* cert = NewCert(key, common_name, nullptr, nullptr);
  AddExtension(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExtension(cert, cert, NID_subject_key_identifier, "hash");
  Check(X509_sign(cert, key, EVP_sha256()) > 0);
  key_ = key;
  cert_ = cert;
  ca_ = {CertPem(cert), KeyPem(key)};
}

TestCa::~TestCa() {
  X509_free(static_cast<X509*>(cert_));
  EVP_PKEY_free(static_cast<EVP_PKEY*>(key_));
}

CertAndKey TestCa::IssueServer(const std::vector<std::string>& ips) const {
  std::string san;
  for (const std::string& ip : ips) san += (san.empty() ? "IP:" : ",IP:") + ip;
  return Issue("test-apiserver", san, /*server=*/true);
}

CertAndKey TestCa::IssueClient(const std::string& common_name) const {
  return Issue(common_name, "", /*server=*/false);
}

CertAndKey TestCa::Issue(const std::string& common_name, const std::string& san, bool server) const {
  auto* issuer = static_cast<X509*>(cert_);
  auto* issuer_key = static_cast<EVP_PKEY*>(key_);
  EVP_PKEY* key = NewKey();
  X509* cert = NewCert(key, common_name, issuer, issuer_key);
  AddExtension(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
  AddExtension(cert, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  AddExtension(cert, issuer, NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
  if (!san.empty()) AddExtension(cert, issuer, NID_subject_alt_name, san);
  Check(X509_sign(cert, issuer_key, EVP_sha256()) > 0);
  CertAndKey result{CertPem(cert), KeyPem(key)};
  X509_free(cert);
  EVP_PKEY_free(key);
  return result;
}

}  // namespace bpfproxy::k8s::testing
