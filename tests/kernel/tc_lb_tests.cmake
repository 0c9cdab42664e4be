# Kernel tests of the datapath modes (socket LB host-only, connection
# counts). Included from tests/kernel/CMakeLists.txt.
add_executable(socket_lb_modes_test socket_lb_modes_test.cc)
target_link_libraries(socket_lb_modes_test PRIVATE bpfproxy_datapath bpfproxy_e2e GTest::gtest_main)
gtest_discover_tests(socket_lb_modes_test PROPERTIES LABELS kernel DISCOVERY_TIMEOUT 30)
