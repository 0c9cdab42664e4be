# Decoding of API objects (k8s/objects.h): fixtures shaped as the API server
# sends them, shared with the ServiceTracker tests.
add_library(k8s_objects_fixtures STATIC
  ${CMAKE_CURRENT_LIST_DIR}/objects_fixtures.cc
  ${CMAKE_CURRENT_LIST_DIR}/objects_mutator.cc)
target_link_libraries(k8s_objects_fixtures PUBLIC nlohmann_json::nlohmann_json absl::strings)

foreach(test objects_decode_test objects_malformed_test objects_fuzz_test)
  add_executable(${test} ${CMAKE_CURRENT_LIST_DIR}/${test}.cc)
  target_link_libraries(${test} PRIVATE bpfproxy_k8s_objects k8s_objects_fixtures GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${test})
endforeach()
