// kubeconfig, in-cluster and --master configuration, with real-shaped
// kubeconfig files written to temporary directories.
#include "k8s/kube_config.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "k8s/bearer_token.h"

namespace bpfproxy::k8s {
namespace {

using ::testing::HasSubstr;

constexpr char kCaPem[] = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
constexpr char kCertPem[] = "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n";
constexpr char kKeyPem[] = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kubeconfig_test.XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  // Writes |contents| to |name| (creating directories); returns the path.
  std::string Write(const std::string& name, const std::string& contents) const {
    std::filesystem::path file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << contents;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

// A kubeconfig like kubeadm writes, with {CLUSTER} and {USER} fields
// substituted into the "prod" cluster and user.
std::string Kubeconfig(const std::string& cluster_fields, const std::string& user_fields,
                       const std::string& current_context = "prod") {
  return absl::StrReplaceAll(R"(apiVersion: v1
kind: Config
clusters:
- name: staging
  cluster:
    server: https://staging.example:6443
- name: prod
  cluster:
{CLUSTER}
contexts:
- name: staging
  context:
    cluster: staging
    user: staging-user
- name: prod
  context:
    cluster: prod
    user: prod-user
    namespace: kube-system
current-context: {CURRENT}
users:
- name: staging-user
  user:
    token: staging-token
- name: prod-user
  user:
{USER}
preferences: {}
)",
                             {{"{CLUSTER}", cluster_fields}, {"{USER}", user_fields}, {"{CURRENT}", current_context}});
}

std::string Base64(const std::string& text) { return absl::Base64Escape(text); }

class KubeconfigTest : public ::testing::Test {
 protected:
  absl::StatusOr<ClientConfig> Load(const std::string& contents, const std::string& context = "") {
    path_ = dir_.Write("home/.kube/config", contents);
    return LoadKubeconfig(path_, context);
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(KubeconfigTest, TokenAndCaData) {
  absl::StatusOr<ClientConfig> config = Load(
      Kubeconfig(absl::StrCat("    server: https://10.0.0.1:6443/\n    certificate-authority-data: ", Base64(kCaPem)),
                 "    token: abc.def\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->token, "abc.def");
  EXPECT_EQ(config->token_file, "");
  EXPECT_THAT(config->source, HasSubstr("context prod"));
}

TEST_F(KubeconfigTest, FilesAreRelativeToTheKubeconfig) {
  dir_.Write("home/.kube/pki/ca.crt", kCaPem);
  dir_.Write("home/.kube/pki/client.crt", kCertPem);
  dir_.Write("home/.kube/pki/client.key", kKeyPem);
  absl::StatusOr<ClientConfig> config =
      Load(Kubeconfig("    server: https://api:6443\n    certificate-authority: pki/ca.crt",
                      "    client-certificate: pki/client.crt\n    client-key: pki/client.key\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->client_cert_pem, kCertPem);
  EXPECT_EQ(config->client_key_pem, kKeyPem);
}

TEST_F(KubeconfigTest, DataFieldsWinOverFiles) {
  absl::StatusOr<ClientConfig> config =
      Load(Kubeconfig(absl::StrCat("    server: https://api:6443\n    certificate-authority: missing.crt\n"
                                   "    certificate-authority-data: ",
                                   Base64(kCaPem)),
                      absl::StrCat("    client-certificate-data: ", Base64(kCertPem),
                                   "\n    client-key-data: ", Base64(kKeyPem), "\n    client-key: missing.key\n")));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->client_cert_pem, kCertPem);
  EXPECT_EQ(config->client_key_pem, kKeyPem);
}

TEST_F(KubeconfigTest, TokenFileIsReadAgainForEveryRequest) {
  const std::string token_path = dir_.Write("home/.kube/token", "first-token\n");
  absl::StatusOr<ClientConfig> config = Load(Kubeconfig("    server: https://api:6443", "    tokenFile: token\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->token_file, token_path);

  BearerTokenSource tokens(*config);
  EXPECT_EQ(tokens.Token().value_or("?"), "first-token");
  dir_.Write("home/.kube/token", "rotated-token");
  EXPECT_EQ(tokens.Token().value_or("?"), "rotated-token");
  // Mid-rotation the file may be missing: the last token read still works.
  std::filesystem::remove(token_path);
  EXPECT_EQ(tokens.Token().value_or("?"), "rotated-token");
}

TEST_F(KubeconfigTest, InsecureSkipTlsVerify) {
  absl::StatusOr<ClientConfig> config =
      Load(Kubeconfig("    server: https://api:6443\n    insecure-skip-tls-verify: true", "    token: t\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->ca_pem, "");
}

TEST_F(KubeconfigTest, CurrentContextOrTheOneAskedFor) {
  const std::string contents = Kubeconfig("    server: https://prod:6443", "    token: prod-token\n", "staging");
  absl::StatusOr<ClientConfig> current = Load(contents);
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(current->server, "https://staging.example:6443");
  EXPECT_EQ(current->token, "staging-token");

  absl::StatusOr<ClientConfig> prod = Load(contents, "prod");
  ASSERT_TRUE(prod.ok()) << prod.status();
  EXPECT_EQ(prod->server, "https://prod:6443");
  EXPECT_EQ(prod->token, "prod-token");
}

TEST_F(KubeconfigTest, BareHostGetsHttpsWhenTlsIsConfigured) {
  absl::StatusOr<ClientConfig> config =
      Load(Kubeconfig(absl::StrCat("    server: api.example:6443\n    certificate-authority-data: ", Base64(kCaPem)),
                      "    token: t\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://api.example:6443");
}

struct BadKubeconfigCase {
  std::string name;
  std::string contents;
  std::string expected;  // in the error, after the file name
};

void PrintTo(const BadKubeconfigCase& c, std::ostream* os) { *os << c.name; }

class BadKubeconfigTest : public KubeconfigTest, public ::testing::WithParamInterface<BadKubeconfigCase> {};

TEST_P(BadKubeconfigTest, ErrorNamesTheFileAndTheField) {
  absl::StatusOr<ClientConfig> config = Load(GetParam().contents);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(path_));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(GetParam().expected));
}

const std::string kServer = "    server: https://api:6443";
const std::string kToken = "    token: t\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, BadKubeconfigTest,
    ::testing::Values(
        BadKubeconfigCase{"NoCurrentContext", Kubeconfig(kServer, kToken, "\"\""), "current-context is not set"},
        BadKubeconfigCase{"MissingContext", Kubeconfig(kServer, kToken, "dev"), "context \"dev\" not found"},
        BadKubeconfigCase{"MissingCluster",
                          absl::StrReplaceAll(Kubeconfig(kServer, kToken), {{"cluster: prod", "cluster: gone"}}),
                          "cluster \"gone\" not found"},
        BadKubeconfigCase{"MissingUser",
                          absl::StrReplaceAll(Kubeconfig(kServer, kToken), {{"user: prod-user", "user: gone"}}),
                          "user \"gone\" not found"},
        BadKubeconfigCase{"ContextWithoutCluster",
                          absl::StrReplaceAll(Kubeconfig(kServer, kToken), {{"    cluster: prod\n", ""}}),
                          "contexts[name=prod].context.cluster is missing"},
        BadKubeconfigCase{"NoServer", Kubeconfig("    insecure-skip-tls-verify: true", kToken),
                          "clusters[name=prod].cluster.server is missing"},
        BadKubeconfigCase{"BadBase64", Kubeconfig(kServer + "\n    certificate-authority-data: '%%%'", kToken),
                          "clusters[name=prod].cluster.certificate-authority-data is not valid base64"},
        BadKubeconfigCase{"MissingCaFile", Kubeconfig(kServer + "\n    certificate-authority: nope.crt", kToken),
                          "clusters[name=prod].cluster.certificate-authority: cannot read"},
        BadKubeconfigCase{
            "InsecureWithCa",
            Kubeconfig(kServer +
                           "\n    insecure-skip-tls-verify: true\n    certificate-authority-data: " + Base64(kCaPem),
                       kToken),
            "insecure-skip-tls-verify and a certificate authority are both set"},
        BadKubeconfigCase{"InsecureNotABool", Kubeconfig(kServer + "\n    insecure-skip-tls-verify: maybe", kToken),
                          "insecure-skip-tls-verify is not a boolean"},
        BadKubeconfigCase{"CertWithoutKey",
                          Kubeconfig(kServer, "    client-certificate-data: " + Base64(kCertPem) + "\n"),
                          "client-certificate and client-key must be set together"},
        BadKubeconfigCase{"MissingTokenFile", Kubeconfig(kServer, "    tokenFile: /nonexistent/token\n"),
                          "users[name=prod-user].user.tokenFile: cannot read /nonexistent/token"},
        BadKubeconfigCase{"ExecPlugin", Kubeconfig(kServer, "    exec:\n      command: aws\n"),
                          "exec and auth-provider are not supported"},
        BadKubeconfigCase{"ServerNotAString", Kubeconfig("    server: [a, b]", kToken),
                          "clusters[name=prod].cluster.server is not a string"},
        BadKubeconfigCase{"ServerNotHttp", Kubeconfig("    server: ftp://api", kToken), "is not an http(s) URL"},
        BadKubeconfigCase{"ClustersNotAList",
                          "clusters: {}\ncontexts:\n- name: x\n  context:\n    cluster: c\ncurrent-context: x\n",
                          "clusters is not a list"},
        BadKubeconfigCase{"NotAMap", "- just\n- a list\n", "not a kubeconfig"},
        BadKubeconfigCase{"InvalidYaml", "clusters: [\n", "end of sequence"}),
    [](const ::testing::TestParamInfo<BadKubeconfigCase>& info) { return info.param.name; });

TEST(LoadKubeconfigTest, MissingFileIsNamed) {
  absl::StatusOr<ClientConfig> config = LoadKubeconfig("/nonexistent/kubeconfig");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("/nonexistent/kubeconfig"));
}

class InClusterTest : public ::testing::Test {
 protected:
  InClusterSource Source(const std::string& host, const std::string& port) {
    return InClusterSource{host, port, (dir_.path() / "serviceaccount").string()};
  }
  TempDir dir_;
};

TEST_F(InClusterTest, ServiceAccountTokenAndCa) {
  const std::string token = dir_.Write("serviceaccount/token", "sa-token\n");
  dir_.Write("serviceaccount/ca.crt", kCaPem);
  absl::StatusOr<ClientConfig> config = LoadInClusterConfig(Source("10.96.0.1", "443"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token_file, token);
  EXPECT_EQ(config->token, "");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(BearerTokenSource(*config).Token().value_or("?"), "sa-token");
}

TEST_F(InClusterTest, Ipv6HostIsBracketed) {
  dir_.Write("serviceaccount/token", "t");
  absl::StatusOr<ClientConfig> config = LoadInClusterConfig(Source("fd00:10:96::1", "6443"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://[fd00:10:96::1]:6443");
}

TEST_F(InClusterTest, MissingCaFallsBackToSystemRoots) {
  dir_.Write("serviceaccount/token", "t");
  absl::StatusOr<ClientConfig> config = LoadInClusterConfig(Source("10.96.0.1", "443"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca_pem, "");
}

TEST_F(InClusterTest, NeedsEnvironmentAndToken) {
  dir_.Write("serviceaccount/ca.crt", kCaPem);
  EXPECT_THAT(std::string(LoadInClusterConfig(Source("", "443")).status().message()),
              HasSubstr("KUBERNETES_SERVICE_HOST"));
  EXPECT_THAT(std::string(LoadInClusterConfig(Source("10.96.0.1", "443")).status().message()),
              HasSubstr("serviceaccount/token"));
}

TEST_F(InClusterTest, FromEnvironmentReadsTheVariables) {
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.10", 1);
  setenv("KUBERNETES_SERVICE_PORT", "8443", 1);
  InClusterSource source = InClusterSource::FromEnvironment();
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  EXPECT_EQ(source.service_host, "10.96.0.10");
  EXPECT_EQ(source.service_port, "8443");
  EXPECT_EQ(source.service_account_dir, "/var/run/secrets/kubernetes.io/serviceaccount");
}

class LoadClientConfigTest : public InClusterTest {};

TEST_F(LoadClientConfigTest, MasterOverridesTheKubeconfigServer) {
  const std::string path = dir_.Write(
      "kubeconfig", Kubeconfig(absl::StrCat(kServer, "\n    certificate-authority-data: ", Base64(kCaPem)), kToken));
  absl::StatusOr<ClientConfig> config = LoadClientConfig(path, "https://lb.example:443", Source("", ""));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://lb.example:443");
  EXPECT_EQ(config->token, "t");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_THAT(config->source, HasSubstr("with --master"));
}

TEST_F(LoadClientConfigTest, MasterAloneHasNoCredentials) {
  absl::StatusOr<ClientConfig> config = LoadClientConfig("", "127.0.0.1:8080", Source("", ""));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "http://127.0.0.1:8080");  // bare host, no TLS settings: http
  EXPECT_EQ(config->token, "");
  EXPECT_EQ(config->source, "--master");
}

TEST_F(LoadClientConfigTest, NeitherMeansInCluster) {
  dir_.Write("serviceaccount/token", "t");
  absl::StatusOr<ClientConfig> config = LoadClientConfig("", "", Source("10.96.0.1", "443"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->source, "in-cluster");
}

TEST_F(LoadClientConfigTest, KubeconfigErrorsPassThrough) {
  EXPECT_FALSE(LoadClientConfig("/nonexistent", "https://x", Source("", "")).ok());
  EXPECT_FALSE(LoadClientConfig("", "", Source("", "")).ok());
}

}  // namespace
}  // namespace bpfproxy::k8s
