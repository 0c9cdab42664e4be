/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The external service view (bpfp_xsvc/xbe/xmemb_v1), per-frontend policy
 * (bpfp_xpol_v1) and loadBalancerSourceRanges (bpfp_xsrc_v1).
 *
 * Slots and backends are read with lb_common.h's ID-checked lookups, the
 * same as the socket LB's: hash map elements are recycled as soon as they
 * are deleted, so a value counts only if it still carries the IDs looked up.
 */
#ifndef BPFPROXY_LB_TC_SVC_H_
#define BPFPROXY_LB_TC_SVC_H_

#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>

#include "bpfproxy/lb_abi.h"
#include "lb_common.h"
#include "lb_tc_maps.h"
#include "lb_tc_pkt.h"

#define LB_SELECT_ATTEMPTS 4

/* The master entry of the frontend |pkt| is addressed to, copied. -ENOENT: no frontend. */
static __always_inline int lb_frontend_lookup(const struct lb_pkt *pkt, struct lb_service_key *key,
					      struct lb_service_value *master)
{
	struct lb_service_value *v;

	key->vip = pkt->daddr;
	key->port = pkt->dport;
	key->proto = pkt->proto;
	key->slot = LB_SLOT_MASTER;
	v = bpf_map_lookup_elem(&bpfp_xsvc_v1, key);
	if (!v)
		return -ENOENT;
	*master = *v;
	return 0;
}

static __always_inline __u16 lb_policy_flags(const struct lb_service_key *svc)
{
	struct lb_frontend_key key = {};
	struct lb_policy_value *v;

	key.vip = svc->vip;
	key.port = svc->port;
	key.proto = svc->proto;
	v = bpf_map_lookup_elem(&bpfp_xpol_v1, &key);
	return v ? v->flags : 0;
}

/* 0 if some range of the frontend contains the source, else -EACCES. */
static __always_inline int lb_source_allowed(const struct lb_service_key *svc, const struct lb_pkt *pkt)
{
	struct lb_src_range_key key = {};

	key.prefixlen = LB_SRC_RANGE_FRONTEND_BITS + 128;
	key.vip = svc->vip;
	key.port = svc->port;
	key.proto = svc->proto;
	key.src = pkt->saddr;
	return bpf_map_lookup_elem(&bpfp_xsrc_v1, &key) ? 0 : -EACCES;
}

/*
 * One attempt: a fresh master, a random slot, its backend. -ENOENT when the
 * frontend is gone, -ECONNREFUSED when it has no backend, -EAGAIN when a
 * concurrent update got in the way.
 */
static __always_inline int lb_select_once(struct lb_service_key *key, __u32 *service_id, __u32 *backend_id,
					  struct lb_backend_value *backend)
{
	__u16 count;
	int ret;

	ret = lb_lookup_master(&bpfp_xsvc_v1, key, service_id, &count);
	if (ret)
		return ret;
	return lb_pick_backend(&bpfp_xsvc_v1, &bpfp_xbe_v1, key, *service_id, count, backend_id, backend);
}

/*
 * Picks a backend of the frontend at |key| uniformly at random. A run of
 * LB_SELECT_ATTEMPTS races with the reconciler does not happen in practice;
 * if it did, the client is refused rather than sent anywhere unchecked.
 */
static __always_inline int lb_select_backend(struct lb_service_key *key, __u32 *service_id, __u32 *backend_id,
					     struct lb_backend_value *backend)
{
	int ret = -EAGAIN;

	for (int i = 0; i < LB_SELECT_ATTEMPTS && ret == -EAGAIN; i++)
		ret = lb_select_once(key, service_id, backend_id, backend);
	if (ret == -EAGAIN)
		return -ECONNREFUSED;
	if (ret)
		return ret;
	if (backend->proto != key->proto)
		return -ECONNREFUSED;
	return 0;
}

#endif /* BPFPROXY_LB_TC_SVC_H_ */
