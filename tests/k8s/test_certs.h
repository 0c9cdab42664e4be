// Throwaway certificates for TLS tests, made in memory with OpenSSL: a CA,
// and leaf certificates it signs (server certificates for IP addresses,
// client certificates for a common name). P-256 keys, valid for a day.
#ifndef BPFPROXY_TESTS_K8S_TEST_CERTS_H_
#define BPFPROXY_TESTS_K8S_TEST_CERTS_H_

#include <string>
#include <vector>

namespace bpfproxy::k8s::testing {

struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;
};

class TestCa {
 public:
  explicit TestCa(const std::string& common_name);
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& cert_pem() const { return ca_.cert_pem; }
  // A server certificate with these IP addresses as subjectAltNames.
  CertAndKey IssueServer(const std::vector<std::string>& ips) const;
  // A client certificate (extendedKeyUsage clientAuth).
  CertAndKey IssueClient(const std::string& common_name) const;

 private:
  CertAndKey Issue(const std::string& common_name, const std::string& san, bool server) const;
  void* key_ = nullptr;   // EVP_PKEY*
  void* cert_ = nullptr;  // X509*
  CertAndKey ca_;
};

}  // namespace bpfproxy::k8s::testing

#endif  // BPFPROXY_TESTS_K8S_TEST_CERTS_H_
