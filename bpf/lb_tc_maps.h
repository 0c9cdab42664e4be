/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps of the per-packet path (lb_tc.bpf.c). Layouts and names come from
 * bpfproxy/lb_abi.h. No map declares a pinning attribute: the loader
 * (proxy/tc_lb.cc) resizes them with bpf_map__set_max_entries() and reuses
 * pins by name, and bpfp_stat_v1 is declared identically in lb_sock.bpf.c so
 * both objects share one pinned map.
 *
 * Include from one BPF object only: the declarations define the maps.
 */
#ifndef BPFPROXY_LB_TC_MAPS_H_
#define BPFPROXY_LB_TC_MAPS_H_

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpfproxy/lb_abi.h"

/* The external service view: same layouts as bpfp_svc/be/memb_v1. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_DEFAULT_SERVICE_ENTRIES);
	__type(key, struct lb_service_key);
	__type(value, struct lb_service_value);
} bpfp_xsvc_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_DEFAULT_BACKEND_ENTRIES);
	__type(key, __u32);
	__type(value, struct lb_backend_value);
} bpfp_xbe_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_DEFAULT_SERVICE_ENTRIES);
	__type(key, struct lb_member_key);
	__type(value, struct lb_member_value);
} bpfp_xmemb_v1 SEC(".maps");

/* One entry per external frontend at most; absent means flags 0. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_DEFAULT_SERVICE_ENTRIES);
	__type(key, struct lb_frontend_key);
	__type(value, struct lb_policy_value);
} bpfp_xpol_v1 SEC(".maps");

/* LPM tries must not be preallocated. The value is unused (1). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_DEFAULT_SRC_RANGE_ENTRIES);
	__type(key, struct lb_src_range_key);
	__type(value, __u8);
} bpfp_xsrc_v1 SEC(".maps");

/* Both directions of every translated flow; the LRU evicts idle flows. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_DEFAULT_CT_ENTRIES);
	__type(key, struct lb_ct_key);
	__type(value, struct lb_ct_value);
} bpfp_ct_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_DEFAULT_DEVICE_ENTRIES);
	__type(key, __u32);
	__type(value, struct lb_device_value);
} bpfp_dev_v1 SEC(".maps");

/* Shared with lb_sock.bpf.c: keep the two declarations identical. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, LB_DEFAULT_STATS_ENTRIES);
	__type(key, struct lb_stats_key);
	__type(value, struct lb_stats_value);
} bpfp_stat_v1 SEC(".maps");

#endif /* BPFPROXY_LB_TC_MAPS_H_ */
