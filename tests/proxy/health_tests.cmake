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
