# The Service model: Services, EndpointSlices and this node's Node in,
# per-Service frontends of both datapath views out (service_tracker.h,
# service_views.h). No kernel, no I/O.
add_library(bpfproxy_service_tracker STATIC ${CMAKE_CURRENT_LIST_DIR}/service_tracker.cc
  ${CMAKE_CURRENT_LIST_DIR}/service_views.cc)
target_link_libraries(bpfproxy_service_tracker PUBLIC
  bpfproxy_core bpfproxy_policy_maps bpfproxy_k8s_objects nlohmann_json::nlohmann_json
  absl::btree absl::flat_hash_map absl::status absl::strings absl::time absl::algorithm_container
  absl::synchronization)

# The sync loop writes the external view's policies too (proxier.h).
target_link_libraries(bpfproxy_proxier PUBLIC bpfproxy_policy_maps)

# The daemon (main.cc) opens the datapath through its facade, picks the
# NodePort addresses and serves health checks and metrics.
target_link_libraries(bpfproxy PRIVATE bpfproxy_datapath_facade bpfproxy_node_addresses bpfproxy_health_and_metrics)
