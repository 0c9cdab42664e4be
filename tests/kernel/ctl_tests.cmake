# bpfproxyctl on the kernel: against the daemon and the API server emulator,
# and against every map type pinned by hand.
add_executable(ctl_test ${CMAKE_CURRENT_LIST_DIR}/ctl_test.cc)
target_link_libraries(ctl_test PRIVATE bpfproxy_datapath bpfproxy_e2e bpfproxy_apiserver_emulator
  GTest::gtest_main GTest::gmock)
target_compile_definitions(ctl_test PRIVATE BPFPROXY_BINARY="$<TARGET_FILE:bpfproxy>"
  BPFPROXYCTL_BINARY="$<TARGET_FILE:bpfproxyctl>")
add_dependencies(ctl_test bpfproxy bpfproxyctl)
gtest_discover_tests(ctl_test PROPERTIES DISCOVERY_TIMEOUT 30)
bpfproxy_label_discovered_tests(ctl_test kernel e2e)
