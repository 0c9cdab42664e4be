# Tests of the API client side of k8s/: fast, no network beyond loopback.

# Fakes for reflector tests: a scripted ApiClient, a clock that does not
# sleep, a recording ObjectHandler.
add_library(bpfproxy_k8s_fakes STATIC ${CMAKE_CURRENT_LIST_DIR}/fake_api_client.cc)
target_link_libraries(bpfproxy_k8s_fakes PUBLIC bpfproxy_k8s_reflector)

# A loopback HTTP(S) server scripted by tests, and in-memory certificates.
add_library(bpfproxy_k8s_test_server STATIC
  ${CMAKE_CURRENT_LIST_DIR}/scripted_server.cc
  ${CMAKE_CURRENT_LIST_DIR}/test_certs.cc)
target_link_libraries(bpfproxy_k8s_test_server PUBLIC
  absl::strings absl::synchronization OpenSSL::SSL OpenSSL::Crypto Threads::Threads)

# GCC 12 warns about members left out of designated initializers, which is
# what the tests' tables use designated initializers for.
set(K8S_CLIENT_TEST_OPTIONS -Wno-missing-field-initializers)

foreach(test api_client_test reflector_test)
  add_executable(${test} ${CMAKE_CURRENT_LIST_DIR}/${test}.cc)
  target_link_libraries(${test} PRIVATE bpfproxy_k8s_fakes GTest::gtest_main GTest::gmock)
  target_compile_options(${test} PRIVATE ${K8S_CLIENT_TEST_OPTIONS})
  gtest_discover_tests(${test})
endforeach()

add_executable(kube_config_test ${CMAKE_CURRENT_LIST_DIR}/kube_config_test.cc)
target_link_libraries(kube_config_test PRIVATE bpfproxy_k8s_client GTest::gtest_main GTest::gmock)
target_compile_options(kube_config_test PRIVATE ${K8S_CLIENT_TEST_OPTIONS})
gtest_discover_tests(kube_config_test)

add_executable(rest_api_client_test ${CMAKE_CURRENT_LIST_DIR}/rest_api_client_test.cc)
target_link_libraries(rest_api_client_test PRIVATE
  bpfproxy_k8s_client bpfproxy_k8s_fakes bpfproxy_k8s_test_server GTest::gtest_main GTest::gmock)
target_compile_options(rest_api_client_test PRIVATE ${K8S_CLIENT_TEST_OPTIONS})
gtest_discover_tests(rest_api_client_test)

# The whole client stack against the in-process API server emulator over
# HTTPS (tests/e2e's fixture makes its CA with the openssl CLI). Labelled e2e
# like the emulator's own tests; no root needed.
add_executable(reflector_emulator_test ${CMAKE_CURRENT_LIST_DIR}/reflector_emulator_test.cc)
target_link_libraries(reflector_emulator_test PRIVATE
  bpfproxy_k8s_client bpfproxy_k8s_fakes apiserver_test_util GTest::gtest_main GTest::gmock)
target_compile_options(reflector_emulator_test PRIVATE ${K8S_CLIENT_TEST_OPTIONS})
gtest_discover_tests(reflector_emulator_test PROPERTIES LABELS e2e TIMEOUT 60)
