# bpfproxyctl (build/bpfproxyctl) and its parts. Included from
# proxy/CMakeLists.txt.

# Explaining a Service address, and the decoded datapath it is compared
# with: plain values, no kernel, no network.
add_library(bpfproxy_explain STATIC
  ${CMAKE_CURRENT_LIST_DIR}/../explain.cc
  ${CMAKE_CURRENT_LIST_DIR}/../explain_endpoints.cc
  ${CMAKE_CURRENT_LIST_DIR}/datapath_snapshot.cc)
target_link_libraries(bpfproxy_explain PUBLIC
  bpfproxy_core bpfproxy_k8s_objects bpfproxy_policy_maps
  absl::btree absl::flat_hash_map absl::flat_hash_set absl::status absl::statusor absl::strings
  absl::algorithm_container)

# Tables and JSON of every command; what explain lists from the API server.
add_library(bpfproxy_ctl STATIC
  ${CMAKE_CURRENT_LIST_DIR}/text_table.cc
  ${CMAKE_CURRENT_LIST_DIR}/render.cc
  ${CMAKE_CURRENT_LIST_DIR}/explain_render.cc
  ${CMAKE_CURRENT_LIST_DIR}/cluster_fetch.cc)
target_link_libraries(bpfproxy_ctl PUBLIC
  bpfproxy_explain bpfproxy_node_addresses bpfproxy_k8s_reflector nlohmann_json::nlohmann_json
  absl::str_format)

# Reading the pinned maps, and the commands.
add_library(bpfproxy_ctl_commands STATIC
  ${CMAKE_CURRENT_LIST_DIR}/pinned_maps.cc
  ${CMAKE_CURRENT_LIST_DIR}/commands.cc)
target_link_libraries(bpfproxy_ctl_commands PUBLIC
  bpfproxy_ctl bpfproxy_datapath bpfproxy_k8s_client PkgConfig::LIBBPF)

add_executable(bpfproxyctl ${CMAKE_CURRENT_LIST_DIR}/../ctl_main.cc)
target_link_libraries(bpfproxyctl PRIVATE bpfproxy_ctl_commands)
set_target_properties(bpfproxyctl PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
