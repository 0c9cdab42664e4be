// RestApiClient: ApiClient over HTTPS with cpprestsdk's http_client.
//
// - TLS is verified unless the config says insecure-skip-tls-verify; a
//   configured CA replaces the system roots (pinning); client certificates
//   and keys come from memory.
// - Every request carries the bearer token read just before it (token files
//   rotate).
// - WATCH bodies are read as chunks arrive and split into lines, so events
//   are delivered while the stream stays open.
// - Destroying the client cancels every call and watch still open; watches
//   may outlive it (their Next() then returns kCancelled). Nothing is kept
//   in a static.
//
// Limitation: cpprestsdk 2.10 cannot connect to an IPv6 literal host
// ("https://[fd00::1]:6443"); Create() refuses such a server.
#ifndef BPFPROXY_K8S_REST_API_CLIENT_H_
#define BPFPROXY_K8S_REST_API_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "k8s/api_client.h"
#include "k8s/kube_config.h"

namespace bpfproxy::k8s {

struct RestClientOptions {
  // A LIST (or a WATCH's answer headers) that stays silent this long fails.
  // cpprestsdk's timeout is an idle timeout: it restarts with every chunk.
  absl::Duration request_timeout = absl::Seconds(60);
  // A WATCH is given up when silent for its server-side timeout plus this.
  absl::Duration watch_timeout_slack = absl::Seconds(60);
  std::string user_agent = "bpfproxy";
  RequestObserver observer;  // optional
};

class RestApiClient : public ApiClient {
 public:
  static absl::StatusOr<std::unique_ptr<RestApiClient>> Create(const ClientConfig& config,
                                                               RestClientOptions options = {});
  ~RestApiClient() override;
  RestApiClient(const RestApiClient&) = delete;
  RestApiClient& operator=(const RestApiClient&) = delete;

  absl::StatusOr<ListPage> List(const ResourceRequest& request, int64_t limit,
                                const std::string& continue_token) override;
  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const ResourceRequest& request,
                                                     const std::string& resource_version,
                                                     absl::Duration timeout) override;

  struct Shared;  // rest_api_client.cc; shared with open watch streams

 private:
  explicit RestApiClient(std::shared_ptr<Shared> shared);
  std::shared_ptr<Shared> shared_;
};

// "a=b&c=d" with every byte outside [A-Za-z0-9-._~] percent-encoded.
std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace bpfproxy::k8s

#endif  // BPFPROXY_K8S_REST_API_CLIENT_H_
