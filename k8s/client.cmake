# The API client side of k8s/: the ApiClient interface and the reflector
# (no cpprestsdk, testable against a fake), and the REST client with its
# configuration loaders.

# ApiClient, Reflector, Backoff, Clock: plain code, no network library.
add_library(bpfproxy_k8s_reflector STATIC
  ${CMAKE_CURRENT_LIST_DIR}/api_client.cc
  ${CMAKE_CURRENT_LIST_DIR}/backoff.cc
  ${CMAKE_CURRENT_LIST_DIR}/cancellation.cc
  ${CMAKE_CURRENT_LIST_DIR}/clock.cc
  ${CMAKE_CURRENT_LIST_DIR}/reflector.cc)
target_link_libraries(bpfproxy_k8s_reflector PUBLIC
  bpfproxy_util nlohmann_json::nlohmann_json
  absl::status absl::statusor absl::strings absl::cord absl::synchronization absl::time
  absl::btree absl::flat_hash_map absl::random_random Threads::Threads)

# kubeconfig / in-cluster configuration, bearer tokens, and RestApiClient on
# cpprestsdk. Link this one to talk to a real API server.
add_library(bpfproxy_k8s_client STATIC
  ${CMAKE_CURRENT_LIST_DIR}/bearer_token.cc
  ${CMAKE_CURRENT_LIST_DIR}/file_util.cc
  ${CMAKE_CURRENT_LIST_DIR}/kube_config.cc
  ${CMAKE_CURRENT_LIST_DIR}/rest_api_client.cc
  ${CMAKE_CURRENT_LIST_DIR}/tls_context.cc)
target_link_libraries(bpfproxy_k8s_client PUBLIC
  bpfproxy_k8s_reflector yaml-cpp cpprestsdk::cpprest OpenSSL::SSL OpenSSL::Crypto)
