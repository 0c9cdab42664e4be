# FrontendPolicy, InMemoryPolicyMaps and the IpPrefix helpers.
add_executable(policy_maps_test policy_maps_test.cc)
target_link_libraries(policy_maps_test PRIVATE bpfproxy_policy_maps GTest::gtest_main GTest::gmock)
gtest_discover_tests(policy_maps_test)

# --nodeport-addresses selection and the default-device rule.
add_executable(node_addresses_test node_addresses_test.cc)
target_link_libraries(node_addresses_test PRIVATE bpfproxy_node_addresses GTest::gtest_main GTest::gmock)
gtest_discover_tests(node_addresses_test)
