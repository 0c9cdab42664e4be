# bpfproxyctl's plain parts: explain's rules (and their cross-check against
# the ServiceTracker), decoding raw map entries, tables and JSON.
add_executable(explain_test ${CMAKE_CURRENT_LIST_DIR}/explain_test.cc)
target_link_libraries(explain_test PRIVATE bpfproxy_ctl k8s_objects_fixtures GTest::gtest_main GTest::gmock)
gtest_discover_tests(explain_test)

# explain's rules against the daemon's own (ServiceTracker, ComputeViews).
add_executable(explain_crosscheck_test ${CMAKE_CURRENT_LIST_DIR}/explain_crosscheck_test.cc)
target_link_libraries(explain_crosscheck_test PRIVATE bpfproxy_ctl bpfproxy_service_tracker k8s_objects_fixtures
  GTest::gtest_main)
gtest_discover_tests(explain_crosscheck_test)

# Raw map entries decoded, tables and JSON, the command line.
add_executable(ctl_render_test ${CMAKE_CURRENT_LIST_DIR}/ctl_render_test.cc)
target_link_libraries(ctl_render_test PRIVATE bpfproxy_ctl_commands k8s_objects_fixtures GTest::gtest_main GTest::gmock)
gtest_discover_tests(ctl_render_test)

# What explain lists from the API server.
add_executable(ctl_fetch_test ${CMAKE_CURRENT_LIST_DIR}/ctl_fetch_test.cc)
target_link_libraries(ctl_fetch_test PRIVATE bpfproxy_ctl k8s_objects_fixtures GTest::gtest_main GTest::gmock)
gtest_discover_tests(ctl_fetch_test)
