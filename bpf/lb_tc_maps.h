/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps of the per-packet path (lb_tc.bpf.c). Layouts and names come from
 * bpfproxy/lb_abi.h, the declaration macros from lb_common.h (which also
 * declares bpfp_stat_v1, shared with lb_sock.bpf.c through one pin). No map
 * declares a pinning attribute: the loader (proxy/tc_lb.cc) resizes them with
 * bpf_map__set_max_entries() and reuses pins by name.
 *
 * Include from one BPF object only: the declarations define the maps.
 */
#ifndef BPFPROXY_LB_TC_MAPS_H_
#define BPFPROXY_LB_TC_MAPS_H_

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpfproxy/lb_abi.h"
#include "lb_common.h"

/* The external service view: same layouts as bpfp_svc/be/memb_v1. */
LB_SERVICE_VIEW_MAPS(bpfp_xsvc_v1, bpfp_xbe_v1, bpfp_xmemb_v1);

/* One entry per external frontend at most; absent means flags 0. */
LB_MAP(bpfp_xpol_v1, BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, struct lb_frontend_key, struct lb_policy_value,
       LB_DEFAULT_SERVICE_ENTRIES);

/* LPM tries must not be preallocated. The value is unused (1). */
LB_MAP(bpfp_xsrc_v1, BPF_MAP_TYPE_LPM_TRIE, BPF_F_NO_PREALLOC, struct lb_src_range_key, __u8,
       LB_DEFAULT_SRC_RANGE_ENTRIES);

/* Both directions of every translated flow; the LRU evicts idle flows. */
LB_MAP(bpfp_ct_v1, BPF_MAP_TYPE_LRU_HASH, 0, struct lb_ct_key, struct lb_ct_value, LB_DEFAULT_CT_ENTRIES);

LB_MAP(bpfp_dev_v1, BPF_MAP_TYPE_HASH, 0, __u32, struct lb_device_value, LB_DEFAULT_DEVICE_ENTRIES);

#endif /* BPFPROXY_LB_TC_MAPS_H_ */
