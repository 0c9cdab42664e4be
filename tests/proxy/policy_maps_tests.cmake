# FrontendPolicy, InMemoryPolicyMaps and the IpPrefix helpers.
add_executable(policy_maps_test policy_maps_test.cc)
target_link_libraries(policy_maps_test PRIVATE bpfproxy_policy_maps GTest::gtest_main GTest::gmock)
gtest_discover_tests(policy_maps_test)
