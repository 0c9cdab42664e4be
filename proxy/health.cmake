# Health endpoints (healthz.h, health_check_server.h) and the HTTP server they
# and the metrics share (http_server.h). Included from proxy/CMakeLists.txt.
find_package(Boost 1.74 REQUIRED COMPONENTS system)

# Boost.Beast, header-only; asynchronous, a fixed pool of threads.
add_library(bpfproxy_http_server STATIC ${CMAKE_CURRENT_LIST_DIR}/http_server.cc)
target_link_libraries(bpfproxy_http_server PUBLIC
  bpfproxy_core bpfproxy_util Boost::system Threads::Threads
  absl::status absl::statusor absl::strings absl::str_format absl::synchronization absl::time
  absl::btree absl::flat_hash_map)

# /healthz, /livez and the per-Service health check node ports.
add_library(bpfproxy_health STATIC
  ${CMAKE_CURRENT_LIST_DIR}/healthz.cc
  ${CMAKE_CURRENT_LIST_DIR}/health_check_server.cc)
# Only proxier.h's plain SyncReport is used (through sync_observer.h): no link
# to the proxier itself.
target_link_libraries(bpfproxy_health PUBLIC
  bpfproxy_http_server bpfproxy_k8s_objects bpfproxy_k8s_reflector absl::synchronization absl::time)

# The daemon's entry point to health and metrics (health_and_metrics.h).
add_library(bpfproxy_health_and_metrics STATIC ${CMAKE_CURRENT_LIST_DIR}/health_and_metrics.cc)
target_link_libraries(bpfproxy_health_and_metrics PUBLIC bpfproxy_health bpfproxy_metrics)
