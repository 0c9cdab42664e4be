# Kernel tests of the datapath modes (socket LB host-only, connection
# counts). Included from tests/kernel/CMakeLists.txt.
add_executable(socket_lb_modes_test socket_lb_modes_test.cc)
target_link_libraries(socket_lb_modes_test PRIVATE bpfproxy_datapath bpfproxy_e2e GTest::gtest_main)
gtest_discover_tests(socket_lb_modes_test PROPERTIES LABELS kernel DISCOVERY_TIMEOUT 30)

# The tc loader and the Datapath facade in a test-owned node namespace.
add_executable(tc_lb_test tc_lb_test.cc)
target_link_libraries(tc_lb_test PRIVATE bpfproxy_datapath_facade bpfproxy_e2e GTest::gtest_main GTest::gmock)
gtest_discover_tests(tc_lb_test PROPERTIES LABELS kernel DISCOVERY_TIMEOUT 30)
