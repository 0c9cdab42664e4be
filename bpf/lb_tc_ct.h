/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking of translated flows (bpfp_ct_v1) and SNAT port choice.
 *
 * A flow has two entries, each keyed by the tuple as it is on the wire when
 * it reaches the program (lb_abi.h):
 *   forward  client:cport -> frontend:fport   => snat:sport -> backend:bport
 *   reply    backend:bport -> snat:sport      => frontend:fport -> client:cport
 * Without SNAT, "snat:sport" is the client's own address and port.
 */
#ifndef BPFPROXY_LB_TC_CT_H_
#define BPFPROXY_LB_TC_CT_H_

#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpfproxy/lb_abi.h"
#include "lb_tc_maps.h"
#include "lb_tc_pkt.h"

/*
 * last_seen_ns is rewritten at most once a second: every write dirties a
 * cache line that all CPUs forwarding the flow read.
 */
#define LB_CT_TOUCH_NS 1000000000ull

/* SNAT ports when the client's own port is taken: Linux's ephemeral range. */
#define LB_SNAT_PORT_MIN 32768
#define LB_SNAT_PORT_MAX 60999
#define LB_SNAT_ATTEMPTS 8

/* The translation chosen for a new flow. */
struct lb_flow {
	union lb_addr backend_addr; /* network byte order, v4-mapped */
	union lb_addr snat_addr;    /* with LB_CT_F_SNAT: the node's address */
	__be16 backend_port;        /* network byte order */
	__u16 flags;                /* LB_CT_F_* */
	__u32 backend_id;
	__u32 service_id;
	__u32 pad0;
};

static __always_inline void lb_ct_key_of(const struct lb_pkt *pkt, __u8 dir, struct lb_ct_key *key)
{
	key->saddr = pkt->saddr;
	key->daddr = pkt->daddr;
	key->sport = pkt->sport;
	key->dport = pkt->dport;
	key->proto = pkt->proto;
	key->dir = dir;
}

/* Copies the entry of |pkt|'s tuple in direction |dir|; -ENOENT if none. */
static __always_inline int lb_ct_lookup(const struct lb_pkt *pkt, __u8 dir, struct lb_ct_value *out)
{
	struct lb_ct_key key = {};
	struct lb_ct_value *v;
	__u64 now;

	lb_ct_key_of(pkt, dir, &key);
	v = bpf_map_lookup_elem(&bpfp_ct_v1, &key);
	if (!v)
		return -ENOENT;
	*out = *v;
	now = bpf_ktime_get_ns();
	if (now - out->last_seen_ns >= LB_CT_TOUCH_NS)
		v->last_seen_ns = now;
	return 0;
}

/* Whether the reply entry at |key| already translates back to the flow of |want|. */
static __always_inline int lb_ct_reply_is(const struct lb_ct_key *key, const struct lb_ct_value *want)
{
	struct lb_ct_value *v = bpf_map_lookup_elem(&bpfp_ct_v1, key);

	return v && lb_addr_eq(&v->saddr, &want->saddr) && lb_addr_eq(&v->daddr, &want->daddr) &&
	       v->sport == want->sport && v->dport == want->dport;
}

/*
 * Claims the reply tuple with destination port |port|. It is free, or it
 * already belongs to this very flow (the forward entry was evicted, or a
 * UDP flow is moving to another backend): then it is refreshed.
 * -EADDRINUSE when another flow holds it.
 */
static __always_inline int lb_ct_claim_reply(struct lb_ct_key *key, const struct lb_ct_value *value, __be16 port)
{
	int ret;

	key->dport = port;
	ret = bpf_map_update_elem(&bpfp_ct_v1, key, value, BPF_NOEXIST);
	if (ret != -EEXIST)
		return ret;
	if (!lb_ct_reply_is(key, value))
		return -EADDRINUSE;
	return bpf_map_update_elem(&bpfp_ct_v1, key, value, BPF_ANY);
}

static __always_inline __be16 lb_random_snat_port(void)
{
	return bpf_htons(LB_SNAT_PORT_MIN + bpf_get_prandom_u32() % (LB_SNAT_PORT_MAX - LB_SNAT_PORT_MIN + 1));
}

/*
 * Records the new flow of |pkt| translated as |flow|: the reply entry first
 * (so the backend's first answer already finds it), then the forward entry.
 * With SNAT the client's port is kept when the reply tuple is free, else a
 * few random ports are tried. Fills |fwd| with the tuple to write.
 * -EADDRNOTAVAIL when no port is free, -EADDRINUSE when the backend already
 * talks to the same client address and port for another flow.
 */
static __always_inline int lb_ct_create(const struct lb_pkt *pkt, const struct lb_flow *flow,
					struct lb_ct_value *fwd)
{
	struct lb_ct_key reply_key = {};
	struct lb_ct_key fwd_key = {};
	struct lb_ct_value reply = {};
	__u64 now = bpf_ktime_get_ns();
	int snat = flow->flags & LB_CT_F_SNAT;
	__be16 port = pkt->sport;
	int ret;

	reply.saddr = pkt->daddr;
	reply.daddr = pkt->saddr;
	reply.sport = pkt->dport;
	reply.dport = pkt->sport;
	reply.service_id = flow->service_id;
	reply.flags = flow->flags;
	reply.last_seen_ns = now;

	reply_key.saddr = flow->backend_addr;
	reply_key.daddr = snat ? flow->snat_addr : pkt->saddr;
	reply_key.sport = flow->backend_port;
	reply_key.proto = pkt->proto;
	reply_key.dir = LB_CT_DIR_REPLY;

	ret = lb_ct_claim_reply(&reply_key, &reply, port);
	for (int i = 0; snat && ret == -EADDRINUSE && i < LB_SNAT_ATTEMPTS; i++) {
		port = lb_random_snat_port();
		ret = lb_ct_claim_reply(&reply_key, &reply, port);
	}
	if (ret == -EADDRINUSE && snat)
		return -EADDRNOTAVAIL;
	if (ret)
		return ret;

	fwd->saddr = reply_key.daddr;
	fwd->daddr = flow->backend_addr;
	fwd->sport = port;
	fwd->dport = flow->backend_port;
	fwd->backend_id = flow->backend_id;
	fwd->service_id = flow->service_id;
	fwd->flags = flow->flags;
	fwd->pad0 = 0;
	fwd->last_seen_ns = now;
	lb_ct_key_of(pkt, LB_CT_DIR_FORWARD, &fwd_key);
	ret = bpf_map_update_elem(&bpfp_ct_v1, &fwd_key, fwd, BPF_ANY);
	if (ret) {
		bpf_map_delete_elem(&bpfp_ct_v1, &reply_key);
		return ret;
	}
	return 0;
}

#endif /* BPFPROXY_LB_TC_CT_H_ */
