# The two-node cluster topology of the per-packet e2e tests (e2e/cluster_topology.h).
add_executable(cluster_topology_test ${CMAKE_CURRENT_LIST_DIR}/cluster_topology_test.cc)
target_link_libraries(cluster_topology_test PRIVATE bpfproxy_e2e GTest::gmock GTest::gtest_main)
gtest_discover_tests(cluster_topology_test DISCOVERY_MODE PRE_TEST PROPERTIES LABELS kernel)
