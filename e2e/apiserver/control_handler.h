// Test control endpoints, served under /emulator/ with the same token as
// the API:
//
//   POST   /emulator/objects     body: one object (JSON or YAML) -> create or
//                                update it; 200 with the stored object. The
//                                resource comes from kind/apiVersion.
//   POST   /emulator/bulk        body: any number of objects (a JSON array, a
//                                List, multi-document YAML) -> all validated,
//                                then applied in order;
//                                200 {"applied":N,"resourceVersion":"RV"}
//   DELETE /emulator/objects/{resource}/{namespace or _}/{name}
//                                -> 200 with the object's last state; 404 Status
//                                ({resource}: services, endpointslices, nodes)
//   POST   /emulator/compact     -> drop the retained history: watches and
//                                lists from any older resourceVersion get 410;
//                                200 {"compactedResourceVersion":"RV"}
//   POST   /emulator/cut-watches -> close every open watch abruptly (torn chunk,
//                                no terminating chunk); 200 {"cutWatches":N}
//   GET    /emulator/state       -> 200 {"resourceVersion":"RV",
//                                "compactedResourceVersion":"RV","openWatches":N}
#ifndef BPFPROXY_E2E_APISERVER_CONTROL_HANDLER_H_
#define BPFPROXY_E2E_APISERVER_CONTROL_HANDLER_H_

#include "e2e/apiserver/http_types.h"
#include "e2e/apiserver/object_store.h"

namespace bpfproxy::e2e::apiserver {

// |request.path| starts with /emulator/.
HttpResponse HandleControl(ObjectStore& store, const HttpRequest& request);

// Validates every object before applying any; returns the resourceVersion after.
absl::StatusOr<int64_t> ApplyObjects(ObjectStore& store, const std::vector<nlohmann::json>& objects);

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_CONTROL_HANDLER_H_
