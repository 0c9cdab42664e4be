# The Service model: Services, EndpointSlices and this node's Node in,
# per-Service frontends out (service_tracker.h). No kernel, no I/O.
add_library(bpfproxy_service_tracker STATIC ${CMAKE_CURRENT_LIST_DIR}/service_tracker.cc)
target_link_libraries(bpfproxy_service_tracker PUBLIC
  bpfproxy_core bpfproxy_k8s_objects nlohmann_json::nlohmann_json
  absl::btree absl::flat_hash_map absl::status absl::strings absl::time absl::algorithm_container)
