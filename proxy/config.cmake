# The daemon's configuration: kube-proxy's flags and bpfproxy's, the
# KubeProxyConfiguration file (--config), and process settings
# (oom_score_adj). Plain data and files: testable anywhere.
add_library(bpfproxy_flags STATIC
  config_values.cc
  flag_table.cc
  flags.cc
  kube_proxy_config.cc
  oom_score_adj.cc
  yaml_fields.cc)
target_link_libraries(bpfproxy_flags PUBLIC bpfproxy_core bpfproxy_util bpfproxy_datapath yaml-cpp
  absl::btree absl::strings absl::str_format absl::time absl::status absl::statusor)
