# The daemon against the API server emulator, on the kernel (root).
add_executable(daemon_e2e_test ${CMAKE_CURRENT_LIST_DIR}/daemon_e2e_test.cc)
target_link_libraries(daemon_e2e_test PRIVATE bpfproxy_datapath bpfproxy_e2e bpfproxy_apiserver_emulator
  GTest::gtest_main)
target_compile_definitions(daemon_e2e_test PRIVATE BPFPROXY_BINARY="$<TARGET_FILE:bpfproxy>")
add_dependencies(daemon_e2e_test bpfproxy)
gtest_discover_tests(daemon_e2e_test PROPERTIES DISCOVERY_TIMEOUT 30)
bpfproxy_label_discovered_tests(daemon_e2e_test kernel e2e)

# Health, metrics and /proxyMode of the daemon started from kubeadm's
# ConfigMap, probed and scraped in the node namespace (root; kernel and e2e).
add_executable(metrics_health_e2e_test ${CMAKE_CURRENT_LIST_DIR}/metrics_health_e2e_test.cc)
target_link_libraries(metrics_health_e2e_test PRIVATE bpfproxy_datapath bpfproxy_e2e bpfproxy_apiserver_emulator
  http_test_client exposition_parser yaml-cpp GTest::gmock GTest::gtest_main)
target_compile_definitions(metrics_health_e2e_test PRIVATE BPFPROXY_BINARY="$<TARGET_FILE:bpfproxy>"
  KUBEADM_CONFIGMAP="${PROJECT_SOURCE_DIR}/tests/proxy/testdata/kubeadm-kube-proxy-configmap.yaml")
add_dependencies(metrics_health_e2e_test bpfproxy)
gtest_discover_tests(metrics_health_e2e_test PROPERTIES TIMEOUT 120 DISCOVERY_TIMEOUT 30)
bpfproxy_label_discovered_tests(metrics_health_e2e_test kernel e2e)
