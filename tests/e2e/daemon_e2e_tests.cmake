# The daemon against the API server emulator, on the kernel (root).
add_executable(daemon_e2e_test ${CMAKE_CURRENT_LIST_DIR}/daemon_e2e_test.cc)
target_link_libraries(daemon_e2e_test PRIVATE bpfproxy_datapath bpfproxy_e2e bpfproxy_apiserver_emulator
  GTest::gtest_main)
target_compile_definitions(daemon_e2e_test PRIVATE BPFPROXY_BINARY="$<TARGET_FILE:bpfproxy>")
add_dependencies(daemon_e2e_test bpfproxy)
gtest_discover_tests(daemon_e2e_test PROPERTIES LABELS "kernel;e2e" DISCOVERY_TIMEOUT 30)
