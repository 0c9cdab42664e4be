// Dispatches a request: bearer-token check, then the Kubernetes API
// (/api, /apis), /version, or the test controls (/emulator/).
#ifndef BPFPROXY_E2E_APISERVER_ROUTER_H_
#define BPFPROXY_E2E_APISERVER_ROUTER_H_

#include <string>

#include "e2e/apiserver/handler.h"
#include "e2e/apiserver/object_store.h"

namespace bpfproxy::e2e::apiserver {

struct RouterOptions {
  // Required as "Authorization: Bearer <token>" on every request; empty
  // disables the check (debugging only).
  std::string token;
  ApiOptions api;
};

class Router {
 public:
  Router(ObjectStore* store, RouterOptions options) : store_(store), options_(std::move(options)) {}

  HandlerResult Handle(const HttpRequest& request) const;

 private:
  bool Authorized(const HttpRequest& request) const;
  HandlerResult HandleApi(const HttpRequest& request) const;

  ObjectStore* store_;
  RouterOptions options_;
};

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_ROUTER_H_
