# The control plane's model: the ServiceTracker (proxy/service_tracker.h)
# with kube-proxy's rules, one case each; both views of every Service shape
# (service_views.h); health check and no-local-endpoint status; incremental
# changes and their bookkeeping; random input.
foreach(test service_tracker_semantics_test service_tracker_changes_test service_tracker_fuzz_test
             service_views_test service_tracker_status_test)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${test}.cc)
    add_executable(${test} ${CMAKE_CURRENT_LIST_DIR}/${test}.cc)
    target_link_libraries(${test} PRIVATE bpfproxy_service_tracker k8s_objects_fixtures GTest::gtest_main GTest::gmock)
    gtest_discover_tests(${test})
  endif()
endforeach()

# The sync loop writing the external view: policy and frontend order,
# failures, full syncs (FakeLbMaps, InMemoryPolicyMaps).
add_executable(proxier_external_test ${CMAKE_CURRENT_LIST_DIR}/proxier_external_test.cc)
target_link_libraries(proxier_external_test PRIVATE bpfproxy_proxier bpfproxy_fake_maps reconciler_cases
  GTest::gtest_main GTest::gmock)
gtest_discover_tests(proxier_external_test)

# TrackerSource with the real tracker and proxier: ownership of shared
# external frontends, change statistics.
add_executable(tracker_source_external_test ${CMAKE_CURRENT_LIST_DIR}/tracker_source_external_test.cc)
target_link_libraries(tracker_source_external_test PRIVATE bpfproxy_api_watcher bpfproxy_fake_maps reconciler_cases
  k8s_objects_fixtures GTest::gtest_main GTest::gmock)
gtest_discover_tests(tracker_source_external_test)

# The ApiWatcher on an in-memory API: both views programmed, every sync
# reported to the SyncObserver with its statistics.
add_executable(api_watcher_test ${CMAKE_CURRENT_LIST_DIR}/api_watcher_test.cc)
target_link_libraries(api_watcher_test PRIVATE bpfproxy_api_watcher bpfproxy_fake_maps lb_maps_checks
  k8s_objects_fixtures GTest::gtest_main GTest::gmock)
gtest_discover_tests(api_watcher_test)
