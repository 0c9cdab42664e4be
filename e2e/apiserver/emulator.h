// The Kubernetes API server emulator: an ObjectStore served over HTTPS (or
// plain HTTP) by an HttpServer, plus the C++ controls tests use in-process.
//
// Serves `v1 services`, `discovery.k8s.io/v1 endpointslices` and `v1 nodes`:
// GET of one object, LIST (label/field selectors, limit/continue,
// resourceVersion/resourceVersionMatch) and WATCH (chunked JSON lines,
// bookmarks, timeoutSeconds, 410 on expired versions). Every request needs
// "Authorization: Bearer <token>". See list_request.h, watch_request.h and
// control_handler.h (the /emulator/ endpoints) for the details.
//
//   ASSERT_OK_AND_ASSIGN(auto pki, MakeTestPki(dir, {"127.0.0.1"}));
//   EmulatorConfig config;
//   config.server.tls_cert_file = pki.server_cert;
//   config.server.tls_key_file = pki.server_key;
//   config.token = pki.token;
//   ASSERT_OK_AND_ASSIGN(auto emulator, ApiServerEmulator::Start(config));
//   emulator->Apply(service_json);  // ADDED to every matching watch
//   emulator->Compact();            // older resourceVersions now answer 410
//   emulator->CutWatches();         // every open watch drops mid-stream
#ifndef BPFPROXY_E2E_APISERVER_EMULATOR_H_
#define BPFPROXY_E2E_APISERVER_EMULATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "e2e/apiserver/handler.h"
#include "e2e/apiserver/http_server.h"
#include "e2e/apiserver/object_store.h"
#include "e2e/apiserver/router.h"
#include "nlohmann/json.hpp"

namespace bpfproxy::e2e::apiserver {

struct EmulatorConfig {
  ServerOptions server;  // default: 127.0.0.1, a kernel-chosen port, plain HTTP
  std::string token;     // empty: no authentication (debugging only)
  StoreOptions store;
  ApiOptions api;
  std::vector<nlohmann::json> initial_objects;
};

class ApiServerEmulator {
 public:
  static absl::StatusOr<std::unique_ptr<ApiServerEmulator>> Start(EmulatorConfig config);
  ~ApiServerEmulator();  // stops serving, cutting open watches

  std::string url() const { return server_->url(); }
  uint16_t port() const { return server_->port(); }

  // Create or update (resource from kind/apiVersion); the stored object.
  absl::StatusOr<nlohmann::json> Apply(const nlohmann::json& object);
  // All validated first, then applied in order; the resourceVersion after.
  absl::StatusOr<int64_t> ApplyAll(const std::vector<nlohmann::json>& objects);
  // |resource| is the plural ("services", "endpointslices", "nodes"); |ns|
  // is ignored for nodes. The object's last state.
  absl::StatusOr<nlohmann::json> Delete(std::string_view resource, std::string_view ns, std::string_view name);
  // Drops the retained history; returns the compacted resourceVersion.
  int64_t Compact();
  // Abruptly closes every open watch; returns how many.
  int CutWatches();

  int64_t ResourceVersion() const { return store_->CurrentRv(); }
  size_t OpenWatches() const { return store_->WatchCount(); }
  // Waits until at least |count| watches are open (e.g. a reflector caught up).
  bool WaitForOpenWatches(size_t count, absl::Duration timeout) const;
  // Waits until at most |count| watches are open.
  bool WaitForOpenWatchesAtMost(size_t count, absl::Duration timeout) const;

  ObjectStore& store() { return *store_; }

 private:
  ApiServerEmulator() = default;

  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_EMULATOR_H_
