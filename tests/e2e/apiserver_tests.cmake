# The Kubernetes API server emulator (e2e/apiserver), over HTTPS on 127.0.0.1.
# No root needed; labelled e2e.
add_library(apiserver_test_util STATIC apiserver_test_client.cc apiserver_test_util.cc)
target_link_libraries(apiserver_test_util PUBLIC bpfproxy_apiserver_emulator GTest::gtest)

foreach(test apiserver_list_test apiserver_watch_test apiserver_binary_test apiserver_cpprest_test
             apiserver_objects_test)
  add_executable(${test} ${test}.cc)
  target_link_libraries(${test} PRIVATE apiserver_test_util GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${test} PROPERTIES LABELS e2e TIMEOUT 60)
endforeach()
target_link_libraries(apiserver_cpprest_test PRIVATE cpprestsdk::cpprest)
target_compile_definitions(apiserver_binary_test PRIVATE
  BPFPROXY_APISERVER_EMULATOR_PATH="$<TARGET_FILE:bpfproxy-apiserver-emulator>")
add_dependencies(apiserver_binary_test bpfproxy-apiserver-emulator)
