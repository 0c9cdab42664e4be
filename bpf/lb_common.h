/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the socket LB (lb_sock.bpf.c) and the per-packet path (lb_tc.bpf.c)
 * share: how a service view's maps are declared, the one map both objects
 * write (bpfp_stat_v1), addresses in the maps' encoding, and the ID-checked
 * lookups of a service view.
 *
 * The two objects read different views with the same layouts (bpfp_svc/be/
 * memb_v1 and bpfp_xsvc/xbe/xmemb_v1, lb_abi.h), so the lookups take the
 * maps as arguments. Every helper is __always_inline, so each call site
 * still compiles to a lookup in one known map, as if the map were named
 * directly: no BPF-to-BPF call, nothing more for the verifier to track.
 *
 * For BPF objects only: including it declares bpfp_stat_v1 in the object.
 */
#ifndef BPFPROXY_LB_COMMON_H_
#define BPFPROXY_LB_COMMON_H_

#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpfproxy/lb_abi.h"

/*
 * Map declarations. No map declares a pinning attribute: the loaders
 * (proxy/socket_lb.cc, proxy/tc_lb.cc) resize maps with
 * bpf_map__set_max_entries() and reuse pins by name, and a pinned map is
 * reused only if type, key, value, flags and size still match: changing any
 * of them here is a layout change (lb_abi.h). _flags 0 is what a declaration
 * without map_flags means; BPF_F_NO_PREALLOC allocates elements on insert,
 * so unused capacity costs no memory (LPM tries require it).
 */
#define LB_MAP(_name, _type, _flags, _key, _value, _max_entries)                             \
	struct {                                                                             \
		__uint(type, _type);                                                         \
		__uint(map_flags, _flags);                                                   \
		__uint(max_entries, _max_entries);                                           \
		__type(key, _key);                                                           \
		__type(value, _value);                                                       \
	} _name SEC(".maps")

/*
 * One service view: frontends with their slots, backends by ID, and which
 * backends belong to which frontend. The members map has the services map's
 * capacity (lb_abi.h).
 */
#define LB_SERVICE_VIEW_MAPS(_services, _backends, _members)                                 \
	LB_MAP(_services, BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, struct lb_service_key,       \
	       struct lb_service_value, LB_DEFAULT_SERVICE_ENTRIES);                         \
	LB_MAP(_backends, BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, __u32,                       \
	       struct lb_backend_value, LB_DEFAULT_BACKEND_ENTRIES);                         \
	LB_MAP(_members, BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, struct lb_member_key,         \
	       struct lb_member_value, LB_DEFAULT_SERVICE_ENTRIES)

/*
 * Connections per frontend and view: translated TCP connects and new UDP
 * affinities (socket LB), new flows (tc). Both objects share it through one
 * pin; declaring it here, once, keeps the two declarations identical.
 */
LB_MAP(bpfp_stat_v1, BPF_MAP_TYPE_LRU_PERCPU_HASH, 0, struct lb_stats_key, struct lb_stats_value,
       LB_DEFAULT_STATS_ENTRIES);

/* ---- Addresses: 16 bytes, network byte order, IPv4 v4-mapped ---- */

static __always_inline void lb_addr_from_v4(union lb_addr *a, __be32 ip4)
{
	a->u32[0] = 0;
	a->u32[1] = 0;
	a->u32[2] = bpf_htonl(0xffff);
	a->u32[3] = ip4;
}

static __always_inline int lb_addr_is_v4_mapped(const union lb_addr *a)
{
	return a->u32[0] == 0 && a->u32[1] == 0 && a->u32[2] == bpf_htonl(0xffff);
}

static __always_inline int lb_addr_eq(const union lb_addr *a, const union lb_addr *b)
{
	return a->u32[0] == b->u32[0] && a->u32[1] == b->u32[1] && a->u32[2] == b->u32[2] &&
	       a->u32[3] == b->u32[3];
}

/* ---- ID-checked lookups of a service view ---- */

/*
 * Hash map elements are recycled as soon as they are deleted, so a pointer
 * from a lookup may, a moment later, show another key's value. Each value is
 * therefore copied once, and the copy is accepted only if the IDs it carries
 * are the ones looked up. IDs are not reused for a long time (lb_abi.h), so
 * a recycled element never passes. A failed check is -EAGAIN: the caller
 * tries again with a fresh master.
 */
#ifndef barrier
#define barrier() asm volatile("" ::: "memory")
#endif

/*
 * The master of the frontend at key->vip/port/proto (key->slot is set here).
 * -ENOENT when there is no such frontend, -ECONNREFUSED when it has no
 * backend; otherwise 0 with its ID and number of slots.
 */
static __always_inline int lb_lookup_master(void *services, struct lb_service_key *key, __u32 *service_id,
					    __u16 *count)
{
	struct lb_service_value *v;

	key->slot = LB_SLOT_MASTER;
	v = bpf_map_lookup_elem(services, key);
	if (!v)
		return -ENOENT;
	*count = v->count;
	*service_id = v->service_id;
	if (*count == 0)
		return -ECONNREFUSED;
	return 0;
}

/* The backend ID in |slot| of |service_id|; -EAGAIN unless the slot is still that frontend's. */
static __always_inline int lb_lookup_slot(void *services, struct lb_service_key *key, __u16 slot,
					  __u32 service_id, __u32 *backend_id)
{
	struct lb_service_value *v;

	key->slot = slot;
	v = bpf_map_lookup_elem(services, key);
	if (!v)
		return -EAGAIN;
	*backend_id = v->backend_id;
	barrier();
	if (v->service_id != service_id)
		return -EAGAIN;
	return 0;
}

static __always_inline int lb_lookup_backend(void *backends, __u32 id, struct lb_backend_value *out)
{
	struct lb_backend_value *v;

	v = bpf_map_lookup_elem(backends, &id);
	if (!v)
		return -EAGAIN;
	*out = *v;
	barrier();
	/* Both the copy and the element still hold |id|: not torn, not recycled. */
	if (out->id != id || v->id != id)
		return -EAGAIN;
	return 0;
}

/*
 * A slot of the frontend picked uniformly at random (|count| and
 * |service_id| from its master) and that slot's backend. -EAGAIN when a
 * concurrent update got in the way.
 */
static __always_inline int lb_pick_backend(void *services, void *backends, struct lb_service_key *key,
					   __u32 service_id, __u16 count, __u32 *backend_id,
					   struct lb_backend_value *backend)
{
	int ret;

	ret = lb_lookup_slot(services, key, (__u16)(bpf_get_prandom_u32() % count) + 1, service_id,
			     backend_id);
	if (ret)
		return ret;
	return lb_lookup_backend(backends, *backend_id, backend);
}

/* Whether |backend_id| is still a member of |service_id|, in whatever slot. */
static __always_inline int lb_is_member(void *members, __u32 service_id, __u32 backend_id)
{
	struct lb_member_key key = {};

	key.service_id = service_id;
	key.backend_id = backend_id;
	return bpf_map_lookup_elem(members, &key) != NULL;
}

/* ---- Connection counter ---- */

/*
 * One more connection to the frontend |service_id| of |view| (LB_VIEW_*).
 * Best effort. Another CPU may create the same key at the same moment:
 * BPF_NOEXIST then fails and the second lookup finds that entry. The map is
 * per CPU, but programs on one CPU may still interleave (a tc program in
 * softirq, a preempted socket hook): the increment is atomic.
 */
static __always_inline void lb_count_connection(__u32 service_id, __u8 view)
{
	struct lb_stats_key key = {};
	struct lb_stats_value zero = {};
	struct lb_stats_value *v;

	key.service_id = service_id;
	key.view = view;
	v = bpf_map_lookup_elem(&bpfp_stat_v1, &key);
	if (!v) {
		bpf_map_update_elem(&bpfp_stat_v1, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&bpfp_stat_v1, &key);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->connections, 1);
}

#endif /* BPFPROXY_LB_COMMON_H_ */
