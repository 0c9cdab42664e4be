// GET ...?watch=true: validates the watch parameters and opens the watch.
//
// Start (https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch):
//   resourceVersion unset or "0": the current objects as ADDED events, then changes;
//   N: the retained changes after N, then live ones; N older than the history
//     is Expired: a 200 stream with one ERROR event carrying a 410 Status,
//     or HTTP 410 when ApiOptions::expired_as_http_410;
//   sendInitialEvents=true (needs resourceVersionMatch=NotOlderThan and
//     allowWatchBookmarks=true): the current objects as ADDED, then a BOOKMARK
//     annotated k8s.io/initial-events-end, then changes;
//   sendInitialEvents=false (same requirements): changes only, after N or
//     from now for unset/"0".
// timeoutSeconds ends the stream cleanly; allowWatchBookmarks=true adds
// BOOKMARKs every ApiOptions::bookmark_interval.
#ifndef BPFPROXY_E2E_APISERVER_WATCH_REQUEST_H_
#define BPFPROXY_E2E_APISERVER_WATCH_REQUEST_H_

#include "e2e/apiserver/api_paths.h"
#include "e2e/apiserver/handler.h"
#include "e2e/apiserver/object_store.h"

namespace bpfproxy::e2e::apiserver {

// The query's watch flag, parsed like Go's strconv.ParseBool.
bool IsWatchRequest(const HttpRequest& request);

HandlerResult HandleWatch(ObjectStore& store, const ApiPath& path, const HttpRequest& request,
                          const ApiOptions& options);

}  // namespace bpfproxy::e2e::apiserver

#endif  // BPFPROXY_E2E_APISERVER_WATCH_REQUEST_H_
