# The daemon's configuration: flags, the KubeProxyConfiguration file, oom_score_adj.
add_executable(flags_test flags_test.cc)
target_link_libraries(flags_test PRIVATE bpfproxy_flags GTest::gtest_main GTest::gmock)
gtest_discover_tests(flags_test)

add_executable(kube_proxy_config_test kube_proxy_config_test.cc)
target_link_libraries(kube_proxy_config_test PRIVATE bpfproxy_flags yaml-cpp GTest::gtest_main GTest::gmock)
target_compile_definitions(kube_proxy_config_test PRIVATE BPFPROXY_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
gtest_discover_tests(kube_proxy_config_test)
