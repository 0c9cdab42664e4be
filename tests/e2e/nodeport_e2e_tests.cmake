# NodePort, LoadBalancer IPs and externalIPs end to end: two node namespaces,
# each with the real daemon, one API server emulator (root; kernel and e2e).
add_executable(nodeport_e2e_test ${CMAKE_CURRENT_LIST_DIR}/nodeport_e2e_test.cc)
target_link_libraries(nodeport_e2e_test PRIVATE bpfproxy_datapath bpfproxy_e2e bpfproxy_apiserver_emulator apiserver_test_util
  http_test_client GTest::gmock GTest::gtest_main)
target_compile_definitions(nodeport_e2e_test PRIVATE BPFPROXY_BINARY="$<TARGET_FILE:bpfproxy>")
add_dependencies(nodeport_e2e_test bpfproxy)
gtest_discover_tests(nodeport_e2e_test PROPERTIES TIMEOUT 180 DISCOVERY_TIMEOUT 30)
bpfproxy_label_discovered_tests(nodeport_e2e_test kernel e2e)
