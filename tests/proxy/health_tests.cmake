# The embedded HTTP server, /healthz and /livez, and the health check node
# ports, over real sockets on the loopback (no root needed).
add_library(http_test_client STATIC ${CMAKE_CURRENT_LIST_DIR}/http_test_client.cc)
target_link_libraries(http_test_client PUBLIC absl::status absl::statusor absl::strings absl::time)

foreach(test http_server_test healthz_test health_check_server_test)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${test}.cc)
    add_executable(${test} ${CMAKE_CURRENT_LIST_DIR}/${test}.cc)
    target_link_libraries(${test} PRIVATE bpfproxy_health http_test_client GTest::gtest_main GTest::gmock)
    gtest_discover_tests(${test})
  endif()
endforeach()

# The daemon's entry point to health and metrics, over HTTP.
add_executable(health_and_metrics_test ${CMAKE_CURRENT_LIST_DIR}/health_and_metrics_test.cc)
target_link_libraries(health_and_metrics_test PRIVATE
  bpfproxy_health_and_metrics http_test_client exposition_parser GTest::gtest_main GTest::gmock)
gtest_discover_tests(health_and_metrics_test)
