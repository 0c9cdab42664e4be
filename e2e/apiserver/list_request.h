// GET on a resource: one object, or a list with selectors and pagination.
//
// Lists follow the documented resourceVersion semantics
// (https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-get-and-list):
//   resourceVersion unset: most recent; "0": any (served as most recent,
//     honouring limit, which upstream's watch cache may ignore);
//   N with resourceVersionMatch=Exact, or with limit and no match: exactly N;
//   N otherwise (NotOlderThan): most recent, 504 if N is in the future.
// A continue token pins its whole walk to the first page's snapshot; one
// whose snapshot has been compacted answers 410 Expired with a token that
// continues (inconsistently) from the latest version, as upstream.
#ifndef BPFPROXY_E2E_APISERVER_LIST_REQUEST_H_
#define BPFPROXY_E2E_APISERVER_LIST_REQUEST_H_

#include "absl/status/statusor.h"
#include "e2e/apiserver/api_paths.h"
#include "e2e/apiserver/http_types.h"
#include "e2e/apiserver/object_store.h"
#include "e2e/apiserver/selectors.h"

namespace bpfproxy::e2e::apiserver {

// The namespace from the path plus labelSelector and fieldSelector.
absl::StatusOr<ObjectFilter> FilterFor(const ApiPath& path, const HttpRequest& request);

HttpResponse HandleGet(const ObjectStore& store, const ApiPath& path);
HttpResponse HandleList(const ObjectStore& store, const ApiPath& path, const HttpRequest& request);

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_LIST_REQUEST_H_
