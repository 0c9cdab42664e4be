/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Forwarding of translated packets: a FIB lookup decides the egress device
 * and the next hop, the program sets the MACs and redirects.
 *
 * Redirecting is required, not an optimisation: after SNAT the source is one
 * of the node's own addresses, and the stack drops a packet arriving with a
 * local source as a martian.
 */
#ifndef BPFPROXY_LB_TC_FIB_H_
#define BPFPROXY_LB_TC_FIB_H_

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "lb_tc_nat.h"
#include "lb_tc_pkt.h"

/*
 * Routes |pkt| with destination |daddr|:|dport| as the stack would route it
 * arriving on |ifindex|. Returns a BPF_FIB_LKUP_RET_* code (or a negative
 * errno from the helper). On SUCCESS and NO_NEIGH, fib->ifindex is the
 * egress device; on SUCCESS the MACs are filled, on NO_NEIGH
 * ipv4_dst/ipv6_dst hold the next hop.
 */
static __always_inline int lb_fib_lookup(struct __sk_buff *skb, const struct lb_pkt *pkt, const union lb_addr *daddr,
					 __be16 dport, __u32 ifindex, struct bpf_fib_lookup *fib)
{
	fib->family = pkt->family;
	fib->l4_protocol = pkt->proto;
	fib->sport = pkt->sport;
	fib->dport = dport;
	/* 0: the kernel checks the skb against the egress MTU, GSO-aware. */
	fib->tot_len = 0;
	fib->ifindex = ifindex;
	if (pkt->family == LB_AF_INET) {
		fib->tos = pkt->tos;
		fib->ipv4_src = pkt->saddr.u32[3];
		fib->ipv4_dst = daddr->u32[3];
	} else {
		__builtin_memcpy(fib->ipv6_src, pkt->saddr.u32, sizeof(fib->ipv6_src));
		__builtin_memcpy(fib->ipv6_dst, daddr->u32, sizeof(fib->ipv6_dst));
	}
	return bpf_fib_lookup(skb, fib, sizeof(*fib), 0);
}

/*
 * Sends a translated packet on its way: TC_ACT_REDIRECT to the egress
 * device when the route and (for SUCCESS) the neighbour are known, with
 * TTL / hop limit decremented; TC_ACT_OK to let the stack deal with
 * anything else (local delivery, no route, MTU exceeded, forwarding
 * disabled). Negative errno when the packet must be dropped.
 */
static __always_inline int lb_forward(struct __sk_buff *skb, struct lb_pkt *pkt)
{
	struct bpf_fib_lookup fib = {};
	int ret;

	ret = lb_fib_lookup(skb, pkt, &pkt->daddr, pkt->dport, skb->ifindex, &fib);
	if (ret == BPF_FIB_LKUP_RET_SUCCESS) {
		ret = lb_decrement_ttl(skb, pkt);
		if (ret)
			return ret;
		/* bpf_fib_lookup has smac before dmac; Ethernet the other way round. */
		if (bpf_skb_store_bytes(skb, 0, fib.dmac, ETH_ALEN, 0) ||
		    bpf_skb_store_bytes(skb, ETH_ALEN, fib.smac, ETH_ALEN, 0))
			return -EFAULT;
		return bpf_redirect(fib.ifindex, 0);
	}
	if (ret == BPF_FIB_LKUP_RET_NO_NEIGH) {
		struct bpf_redir_neigh nh = {};

		ret = lb_decrement_ttl(skb, pkt);
		if (ret)
			return ret;
		nh.nh_family = fib.family;
		if (fib.family == LB_AF_INET)
			nh.ipv4_nh = fib.ipv4_dst;
		else
			__builtin_memcpy(nh.ipv6_nh, fib.ipv6_dst, sizeof(nh.ipv6_nh));
		return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
	}
	return TC_ACT_OK;
}

#endif /* BPFPROXY_LB_TC_FIB_H_ */
