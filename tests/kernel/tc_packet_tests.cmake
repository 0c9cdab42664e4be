# Packet tests of the per-packet datapath (bpf/lb_tc.bpf.c): the skeleton is
# loaded directly and driven with BPF_PROG_TEST_RUN inside a test namespace.

# Frame builder, parser and checksums: plain C++, no kernel.
add_library(packet_test_util STATIC
  ${CMAKE_CURRENT_LIST_DIR}/packet_builder.cc
  ${CMAKE_CURRENT_LIST_DIR}/packet_checksum.cc
  ${CMAKE_CURRENT_LIST_DIR}/packet_parser.cc)
target_link_libraries(packet_test_util PUBLIC bpfproxy_core absl::status absl::statusor absl::strings
  absl::str_format absl::span)

# The helpers check what they claim to (runs without root).
add_executable(packet_util_test ${CMAKE_CURRENT_LIST_DIR}/packet_util_test.cc)
target_link_libraries(packet_util_test PRIVATE packet_test_util GTest::gtest_main)
gtest_discover_tests(packet_util_test)

# The test node (namespace, devices, routes) and the skeleton wrapper.
add_library(packet_tc_harness STATIC
  ${CMAKE_CURRENT_LIST_DIR}/packet_test_node.cc
  ${CMAKE_CURRENT_LIST_DIR}/packet_tc_program.cc)
target_link_libraries(packet_tc_harness PUBLIC packet_test_util bpfproxy_datapath bpfproxy_e2e lb_tc_skel
  GTest::gtest)

add_executable(tc_packet_test ${CMAKE_CURRENT_LIST_DIR}/tc_packet_test.cc)
target_link_libraries(tc_packet_test PRIVATE packet_tc_harness GTest::gmock GTest::gtest_main)
gtest_discover_tests(tc_packet_test PROPERTIES LABELS kernel DISCOVERY_TIMEOUT 30)
