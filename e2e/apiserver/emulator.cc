#include "e2e/apiserver/emulator.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "e2e/apiserver/control_handler.h"
#include "e2e/apiserver/string_compat.h"

namespace bpfproxy::e2e::apiserver {

absl::StatusOr<std::unique_ptr<ApiServerEmulator>> ApiServerEmulator::Start(EmulatorConfig config) {
  std::unique_ptr<ApiServerEmulator> emulator(new ApiServerEmulator());
  emulator->store_ = std::make_unique<ObjectStore>(config.store);
  if (absl::StatusOr<int64_t> loaded = ApplyObjects(*emulator->store_, config.initial_objects); !loaded.ok()) {
    return absl::Status(loaded.status().code(), absl::StrCat("initial objects: ", loaded.status().message()));
  }
  emulator->router_ = std::make_unique<Router>(emulator->store_.get(), RouterOptions{config.token, config.api});
  const Router* router = emulator->router_.get();
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(config.server, [router](const HttpRequest& request) { return router->Handle(request); });
  if (!server.ok()) return server.status();
  emulator->server_ = *std::move(server);
  return emulator;
}

ApiServerEmulator::~ApiServerEmulator() {
  // The connection threads use the router and the store: stop them first.
  if (server_) server_->Stop();
}

absl::StatusOr<nlohmann::json> ApiServerEmulator::Apply(const nlohmann::json& object) { return store_->Apply(object); }

absl::StatusOr<int64_t> ApiServerEmulator::ApplyAll(const std::vector<nlohmann::json>& objects) {
  return ApplyObjects(*store_, objects);
}

absl::StatusOr<nlohmann::json> ApiServerEmulator::Delete(std::string_view resource, std::string_view ns,
                                                         std::string_view name) {
  std::optional<Resource> which = ResourceByPlural(resource);
  if (!which) return absl::InvalidArgumentError(absl::StrCat("unknown resource \"", AbslView(resource), "\""));
  return store_->Delete(*which, InfoOf(*which).namespaced ? ns : std::string_view(), name);
}

int64_t ApiServerEmulator::Compact() { return store_->Compact(); }

int ApiServerEmulator::CutWatches() { return store_->CutWatches(); }

bool ApiServerEmulator::WaitForOpenWatches(size_t count, absl::Duration timeout) const {
  return store_->AwaitWatchCount([count](size_t open) { return open >= count; }, timeout);
}

bool ApiServerEmulator::WaitForOpenWatchesAtMost(size_t count, absl::Duration timeout) const {
  return store_->AwaitWatchCount([count](size_t open) { return open <= count; }, timeout);
}

}  // namespace bpfproxy::e2e::apiserver
