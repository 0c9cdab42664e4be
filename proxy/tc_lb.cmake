# The per-packet datapath's userspace side: policy maps, node addresses and
# devices, the tc loader and the Datapath facade. Included from
# proxy/CMakeLists.txt.

# FrontendPolicy, InMemoryPolicyMaps and IpPrefix helpers: no kernel.
add_library(bpfproxy_policy_maps STATIC policy_maps.cc ip_prefix.cc)
target_link_libraries(bpfproxy_policy_maps PUBLIC bpfproxy_core absl::btree absl::strings)
