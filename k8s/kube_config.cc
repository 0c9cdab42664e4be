#include "k8s/kube_config.h"

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "k8s/file_util.h"
#include "proxy/log.h"
#include "yaml-cpp/yaml.h"

namespace bpfproxy::k8s {
namespace {

// Reads one kubeconfig document; every error names the file and the field.
class KubeconfigReader {
 public:
  KubeconfigReader(std::string path, YAML::Node root)
      : path_(std::move(path)), dir_(std::filesystem::path(path_).parent_path()), root_(std::move(root)) {}

  absl::StatusOr<ClientConfig> Read(const std::string& context_override);

 private:
  absl::Status Error(absl::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path_, ": ", problem));
  }
  // The "inner" map of the entry of |list| named |name|, e.g.
  // clusters[name=c].cluster; nullopt if there is no such entry.
  absl::StatusOr<std::optional<YAML::Node>> FindNamed(const char* list, const std::string& name,
                                                      const char* inner) const;
  // A scalar field of |map| ("" if absent), |field| names it for errors.
  absl::StatusOr<std::string> String(const YAML::Node& map, const char* key, absl::string_view field) const;
  absl::StatusOr<bool> Bool(const YAML::Node& map, const char* key, absl::string_view field) const;
  // PEM from |data_key| (base64) or else from the file |file_key| names.
  absl::StatusOr<std::string> Pem(const YAML::Node& map, const char* file_key, const char* data_key,
                                  absl::string_view prefix) const;
  std::string Resolve(const std::string& file) const {
    return std::filesystem::path(file).is_absolute() || dir_.empty() ? file : (dir_ / file).string();
  }
  absl::Status ReadCluster(const std::string& name, ClientConfig& config) const;
  absl::Status ReadUser(const std::string& name, ClientConfig& config) const;

  std::string path_;
  std::filesystem::path dir_;
  const YAML::Node root_;
};

absl::StatusOr<std::optional<YAML::Node>> KubeconfigReader::FindNamed(const char* list, const std::string& name,
                                                                      const char* inner) const {
  const YAML::Node entries = root_[list];
  if (!entries.IsDefined() || entries.IsNull()) return std::nullopt;
  if (!entries.IsSequence()) return Error(absl::StrCat(list, " is not a list"));
  for (size_t i = 0; i < entries.size(); ++i) {
    const YAML::Node entry = entries[i];
    if (!entry.IsMap()) return Error(absl::StrCat(list, "[", i, "] is not a map"));
    absl::StatusOr<std::string> entry_name = String(entry, "name", absl::StrCat(list, "[", i, "].name"));
    if (!entry_name.ok()) return entry_name.status();
    if (*entry_name != name) continue;
    const YAML::Node value = entry[inner];
    if (!value.IsDefined() || value.IsNull()) return YAML::Node(YAML::NodeType::Map);
    if (!value.IsMap()) return Error(absl::StrCat(list, "[name=", name, "].", inner, " is not a map"));
    return value;
  }
  return std::nullopt;
}

absl::StatusOr<std::string> KubeconfigReader::String(const YAML::Node& map, const char* key,
                                                     absl::string_view field) const {
  // Const access throughout: yaml-cpp's non-const operator[] inserts keys.
  const YAML::Node value = map[key];
  if (!value.IsDefined() || value.IsNull()) return std::string();
  if (!value.IsScalar()) return Error(absl::StrCat(field, " is not a string"));
  return value.Scalar();
}

absl::StatusOr<bool> KubeconfigReader::Bool(const YAML::Node& map, const char* key, absl::string_view field) const {
  const YAML::Node value = map[key];
  if (!value.IsDefined() || value.IsNull()) return false;
  bool result = false;
  if (!value.IsScalar() || !YAML::convert<bool>::decode(value, result)) {
    return Error(absl::StrCat(field, " is not a boolean"));
  }
  return result;
}

absl::StatusOr<std::string> KubeconfigReader::Pem(const YAML::Node& map, const char* file_key, const char* data_key,
                                                  absl::string_view prefix) const {
  absl::StatusOr<std::string> data = String(map, data_key, absl::StrCat(prefix, data_key));
  if (!data.ok()) return data.status();
  if (!data->empty()) {
    std::string pem;
    if (!absl::Base64Unescape(*data, &pem) || pem.empty()) {
      return Error(absl::StrCat(prefix, data_key, " is not valid base64"));
    }
    return pem;
  }
  absl::StatusOr<std::string> file = String(map, file_key, absl::StrCat(prefix, file_key));
  if (!file.ok() || file->empty()) return file;
  absl::StatusOr<std::string> pem = ReadSmallFile(Resolve(*file));
  if (!pem.ok()) return Error(absl::StrCat(prefix, file_key, ": ", pem.status().message()));
  return pem;
}

absl::Status KubeconfigReader::ReadCluster(const std::string& name, ClientConfig& config) const {
  absl::StatusOr<std::optional<YAML::Node>> cluster = FindNamed("clusters", name, "cluster");
  if (!cluster.ok()) return cluster.status();
  if (!cluster->has_value()) return Error(absl::StrCat("cluster \"", name, "\" not found in clusters"));
  const YAML::Node& map = **cluster;
  const std::string prefix = absl::StrCat("clusters[name=", name, "].cluster.");
  absl::StatusOr<std::string> server = String(map, "server", prefix + "server");
  if (!server.ok()) return server.status();
  if (server->empty()) return Error(absl::StrCat(prefix, "server is missing"));
  absl::StatusOr<bool> insecure = Bool(map, "insecure-skip-tls-verify", prefix + "insecure-skip-tls-verify");
  if (!insecure.ok()) return insecure.status();
  absl::StatusOr<std::string> ca = Pem(map, "certificate-authority", "certificate-authority-data", prefix);
  if (!ca.ok()) return ca.status();
  if (*insecure && !ca->empty()) {
    // client-go refuses this too: the two settings contradict each other.
    return Error(absl::StrCat(prefix, "insecure-skip-tls-verify and a certificate authority are both set"));
  }
  config.server = *std::move(server);
  config.ca_pem = *std::move(ca);
  config.insecure_skip_tls_verify = *insecure;
  return absl::OkStatus();
}

absl::Status KubeconfigReader::ReadUser(const std::string& name, ClientConfig& config) const {
  absl::StatusOr<std::optional<YAML::Node>> user = FindNamed("users", name, "user");
  if (!user.ok()) return user.status();
  if (!user->has_value()) return Error(absl::StrCat("user \"", name, "\" not found in users"));
  const YAML::Node& map = **user;
  const std::string prefix = absl::StrCat("users[name=", name, "].user.");
  absl::StatusOr<std::string> token = String(map, "token", prefix + "token");
  absl::StatusOr<std::string> token_file = String(map, "tokenFile", prefix + "tokenFile");
  absl::StatusOr<std::string> cert = Pem(map, "client-certificate", "client-certificate-data", prefix);
  absl::StatusOr<std::string> key = Pem(map, "client-key", "client-key-data", prefix);
  for (const absl::Status& status : {token.status(), token_file.status(), cert.status(), key.status()}) {
    if (!status.ok()) return status;
  }
  if (cert->empty() != key->empty()) {
    return Error(absl::StrCat(prefix, "client-certificate and client-key must be set together"));
  }
  if (!token_file->empty()) {
    *token_file = Resolve(*token_file);
    // Checked now so a typo fails at startup, not at the first request.
    if (absl::StatusOr<std::string> read = ReadSmallFile(*token_file); !read.ok() && token->empty()) {
      return Error(absl::StrCat(prefix, "tokenFile: ", read.status().message()));
    }
  }
  const bool has_credentials = !token->empty() || !token_file->empty() || !cert->empty();
  if (!has_credentials && (map["exec"].IsDefined() || map["auth-provider"].IsDefined())) {
    return absl::UnimplementedError(absl::StrCat("kubeconfig ", path_, ": ", prefix,
                                                 "exec and auth-provider are not supported; use token, "
                                                 "tokenFile or client-certificate"));
  }
  config.token = std::string(absl::StripAsciiWhitespace(*token));
  config.token_file = *std::move(token_file);
  config.client_cert_pem = *std::move(cert);
  config.client_key_pem = *std::move(key);
  return absl::OkStatus();
}

absl::StatusOr<ClientConfig> KubeconfigReader::Read(const std::string& context_override) {
  if (!root_.IsMap()) return Error("not a kubeconfig (the document is not a map)");
  std::string context_name = context_override;
  if (context_name.empty()) {
    absl::StatusOr<std::string> current = String(root_, "current-context", "current-context");
    if (!current.ok()) return current.status();
    if (current->empty()) return Error("current-context is not set");
    context_name = *std::move(current);
  }
  absl::StatusOr<std::optional<YAML::Node>> context = FindNamed("contexts", context_name, "context");
  if (!context.ok()) return context.status();
  if (!context->has_value()) return Error(absl::StrCat("context \"", context_name, "\" not found in contexts"));
  const std::string prefix = absl::StrCat("contexts[name=", context_name, "].context.");
  absl::StatusOr<std::string> cluster = String(**context, "cluster", prefix + "cluster");
  absl::StatusOr<std::string> user = String(**context, "user", prefix + "user");
  if (!cluster.ok()) return cluster.status();
  if (!user.ok()) return user.status();
  if (cluster->empty()) return Error(absl::StrCat(prefix, "cluster is missing"));

  ClientConfig config;
  if (absl::Status status = ReadCluster(*cluster, config); !status.ok()) return status;
  // A context without a user talks to the server anonymously.
  if (!user->empty()) {
    if (absl::Status status = ReadUser(*user, config); !status.ok()) return status;
  }
  config.source = absl::StrCat("kubeconfig ", path_, " (context ", context_name, ")");
  return config;
}

// client-go's DefaultServerURL: a bare host:port means https when any TLS
// setting is present, else http.
absl::StatusOr<std::string> NormalizeServer(absl::string_view server, const ClientConfig& config,
                                            absl::string_view source) {
  std::string url(absl::StripAsciiWhitespace(server));
  if (!absl::StrContains(url, "://")) {
    const bool tls = !config.ca_pem.empty() || !config.client_cert_pem.empty() || config.insecure_skip_tls_verify;
    url = absl::StrCat(tls ? "https://" : "http://", url);
  }
  while (absl::EndsWith(url, "/")) url.pop_back();
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "https://") && !absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": server \"", server, "\" is not an http(s) URL"));
  }
  if (rest.empty() || rest.front() == '/' || rest.front() == ':') {
    return absl::InvalidArgumentError(absl::StrCat(source, ": server \"", server, "\" has no host"));
  }
  return url;
}

}  // namespace

absl::StatusOr<ClientConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return absl::Status(text.status().code(), absl::StrCat("kubeconfig: ", text.status().message()));
  absl::StatusOr<ClientConfig> config;
  try {
    KubeconfigReader reader(path, YAML::Load(*text));
    config = reader.Read(context);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ": ", e.what()));
  }
  if (!config.ok()) return config.status();
  absl::StatusOr<std::string> server = NormalizeServer(config->server, *config, absl::StrCat("kubeconfig ", path));
  if (!server.ok()) return server.status();
  config->server = *std::move(server);
  return config;
}

InClusterSource InClusterSource::FromEnvironment() {
  InClusterSource source;
  if (const char* host = std::getenv("KUBERNETES_SERVICE_HOST")) source.service_host = host;
  if (const char* port = std::getenv("KUBERNETES_SERVICE_PORT")) source.service_port = port;
  return source;
}

absl::StatusOr<ClientConfig> LoadInClusterConfig(const InClusterSource& source) {
  if (source.service_host.empty() || source.service_port.empty()) {
    return absl::FailedPreconditionError(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
        "(or give --kubeconfig or --master)");
  }
  // An IPv6 host needs brackets in a URL (net.JoinHostPort).
  const bool ipv6 = absl::StrContains(source.service_host, ':') && !absl::StartsWith(source.service_host, "[");
  ClientConfig config;
  config.server =
      absl::StrCat("https://", ipv6 ? "[" : "", source.service_host, ipv6 ? "]" : "", ":", source.service_port);
  config.token_file = (std::filesystem::path(source.service_account_dir) / "token").string();
  if (absl::StatusOr<std::string> token = ReadSmallFile(config.token_file); !token.ok()) {
    return absl::Status(token.status().code(), absl::StrCat("in-cluster config: ", token.status().message()));
  }
  const std::string ca_file = (std::filesystem::path(source.service_account_dir) / "ca.crt").string();
  if (absl::StatusOr<std::string> ca = ReadSmallFile(ca_file); ca.ok()) {
    config.ca_pem = *std::move(ca);
  } else {
    KLOG(ERROR) << "In-cluster config: expected a root CA in " << ca_file
                << ", using the system roots: " << ca.status();
  }
  config.source = "in-cluster";
  return config;
}

absl::StatusOr<ClientConfig> LoadClientConfig(const std::string& kubeconfig, const std::string& master,
                                              const InClusterSource& in_cluster) {
  if (kubeconfig.empty() && master.empty()) {
    KLOG(INFO) << "Neither --kubeconfig nor --master was given, using the in-cluster config";
    return LoadInClusterConfig(in_cluster);
  }
  ClientConfig config;
  config.source = "--master";
  if (!kubeconfig.empty()) {
    absl::StatusOr<ClientConfig> loaded = LoadKubeconfig(kubeconfig);
    if (!loaded.ok()) return loaded.status();
    config = *std::move(loaded);
  }
  if (!master.empty()) {
    absl::StatusOr<std::string> server = NormalizeServer(master, config, "--master");
    if (!server.ok()) return server.status();
    config.server = *std::move(server);
    if (!kubeconfig.empty()) absl::StrAppend(&config.source, " with --master");
  }
  return config;
}

}  // namespace bpfproxy::k8s
