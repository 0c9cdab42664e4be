# Decoding of Service, EndpointSlice and Node objects (objects.h): plain
# data, no I/O, testable anywhere.
add_library(bpfproxy_k8s_objects STATIC ${CMAKE_CURRENT_LIST_DIR}/objects.cc)
target_link_libraries(bpfproxy_k8s_objects PUBLIC
  bpfproxy_core nlohmann_json::nlohmann_json
  absl::status absl::statusor absl::strings absl::time absl::algorithm_container)
