# The per-packet datapath's userspace side: policy maps, node addresses and
# devices, the tc loader and the Datapath facade. Included from
# proxy/CMakeLists.txt.

# The pin layout both loaders share (proxy/bpf_pins.h): part of the socket
# LB's library, which proxy/CMakeLists.txt defines before including this.
target_sources(bpfproxy_datapath PRIVATE bpf_pins.cc)

# FrontendPolicy, InMemoryPolicyMaps and IpPrefix helpers: no kernel.
add_library(bpfproxy_policy_maps STATIC policy_maps.cc ip_prefix.cc)
target_link_libraries(bpfproxy_policy_maps PUBLIC bpfproxy_core absl::btree absl::strings)

# Devices and addresses of the node (rtnetlink), NodePort address selection.
add_library(bpfproxy_node_addresses STATIC node_addresses.cc rtnetlink.cc)
target_link_libraries(bpfproxy_node_addresses PUBLIC bpfproxy_policy_maps absl::statusor absl::strings)

# PolicyMaps on bpfp_xpol_v1 and bpfp_xsrc_v1.
add_library(bpfproxy_bpf_policy_maps STATIC bpf_policy_maps.cc)
target_link_libraries(bpfproxy_bpf_policy_maps PUBLIC bpfproxy_policy_maps bpfproxy_util PkgConfig::LIBBPF)

# The tc loader: skeleton, pinned maps, clsact filters on the node's devices.
add_library(bpfproxy_tc_lb STATIC tc_lb.cc)
target_link_libraries(bpfproxy_tc_lb PUBLIC bpfproxy_datapath bpfproxy_bpf_policy_maps bpfproxy_node_addresses lb_tc_skel)

# The daemon's datapath facade: socket LB, tc LB, devices and addresses.
add_library(bpfproxy_datapath_facade STATIC datapath.cc)
target_link_libraries(bpfproxy_datapath_facade PUBLIC bpfproxy_tc_lb)
