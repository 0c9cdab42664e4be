/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The external service view (bpfp_xsvc/xbe/xmemb_v1), per-frontend policy
 * (bpfp_xpol_v1) and loadBalancerSourceRanges (bpfp_xsrc_v1).
 *
 * Hash map elements are recycled as soon as they are deleted, so a pointer
 * from a lookup may, a moment later, show another key's value. Values are
 * copied once and the copy is accepted only if the IDs it carries are the
 * ones looked up (the same rule as lb_sock.bpf.c; see lb_abi.h).
 */
#ifndef BPFPROXY_LB_TC_SVC_H_
#define BPFPROXY_LB_TC_SVC_H_

#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>

#include "bpfproxy/lb_abi.h"
#include "lb_tc_maps.h"
#include "lb_tc_pkt.h"

#define LB_SELECT_ATTEMPTS 4

#ifndef barrier
#define barrier() asm volatile("" ::: "memory")
#endif

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

static __always_inline int lb_is_member(__u32 service_id, __u32 backend_id)
{
	struct lb_member_key key = {};

	key.service_id = service_id;
	key.backend_id = backend_id;
	return bpf_map_lookup_elem(&bpfp_xmemb_v1, &key) != NULL;
}

static __always_inline int lb_lookup_backend(__u32 id, struct lb_backend_value *out)
{
	struct lb_backend_value *v;

	v = bpf_map_lookup_elem(&bpfp_xbe_v1, &id);
	if (!v)
		return -EAGAIN;
	*out = *v;
	barrier();
	/* Both the copy and the element still hold |id|: not torn, not recycled. */
	if (out->id != id || v->id != id)
		return -EAGAIN;
	return 0;
}

static __always_inline int lb_lookup_slot(struct lb_service_key *key, __u16 slot, __u32 service_id,
					  __u32 *backend_id)
{
	struct lb_service_value *v;

	key->slot = slot;
	v = bpf_map_lookup_elem(&bpfp_xsvc_v1, key);
	if (!v)
		return -EAGAIN;
	*backend_id = v->backend_id;
	barrier();
	if (v->service_id != service_id)
		return -EAGAIN;
	return 0;
}

/*
 * One attempt: a fresh master, a random slot, its backend. -ENOENT when the
 * frontend is gone, -ECONNREFUSED when it has no backend, -EAGAIN when a
 * concurrent update got in the way.
 */
static __always_inline int lb_select_once(struct lb_service_key *key, __u32 *service_id, __u32 *backend_id,
					  struct lb_backend_value *backend)
{
	struct lb_service_value *v;
	__u16 count;
	int ret;

	key->slot = LB_SLOT_MASTER;
	v = bpf_map_lookup_elem(&bpfp_xsvc_v1, key);
	if (!v)
		return -ENOENT;
	count = v->count;
	*service_id = v->service_id;
	if (count == 0)
		return -ECONNREFUSED;
	ret = lb_lookup_slot(key, (__u16)(bpf_get_prandom_u32() % count) + 1, *service_id, backend_id);
	if (ret)
		return ret;
	return lb_lookup_backend(*backend_id, backend);
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
