// The contract between a Reflector (k8s/reflector.h), which keeps one
// resource in sync with the API server, and whoever consumes its objects.
#ifndef BPFPROXY_K8S_OBJECT_HANDLER_H_
#define BPFPROXY_K8S_OBJECT_HANDLER_H_

#include "nlohmann/json.hpp"

namespace bpfproxy::k8s {

// Called on the reflector's thread, one call at a time. Every object is a
// whole API object as the server sent it (kind, metadata, spec, ...).
// Each state of an object is delivered once: a relist delivers only objects
// whose resourceVersion changed, and deletes of objects that vanished.
class ObjectHandler {
 public:
  virtual ~ObjectHandler() = default;
  // Added or modified.
  virtual void OnUpsert(const nlohmann::json& object) = 0;
  // Deleted; |object| is its last known state.
  virtual void OnDelete(const nlohmann::json& object) = 0;
  // The first complete LIST has been delivered (once per Reflector).
  virtual void OnSynced() = 0;
};

}  // namespace bpfproxy::k8s

#endif  // BPFPROXY_K8S_OBJECT_HANDLER_H_
