# The ServiceTracker (proxy/service_tracker.h): kube-proxy's rules, one
# case each; incremental changes and their bookkeeping; random input.
foreach(test service_tracker_semantics_test service_tracker_changes_test service_tracker_fuzz_test)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${test}.cc)
    add_executable(${test} ${CMAKE_CURRENT_LIST_DIR}/${test}.cc)
    target_link_libraries(${test} PRIVATE bpfproxy_service_tracker k8s_objects_fixtures GTest::gtest_main GTest::gmock)
    gtest_discover_tests(${test})
  endif()
endforeach()
