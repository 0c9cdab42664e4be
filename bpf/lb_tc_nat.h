/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Address and port rewriting with incremental checksum updates.
 *
 * Checksums are only ever updated through the kernel's csum helpers, which
 * know how the skb carries its checksum: with CHECKSUM_PARTIAL (a packet from
 * a local sender, checksum to be finished by the device) only the
 * pseudo-header part is adjusted, otherwise the field itself. skb->csum of a
 * CHECKSUM_COMPLETE packet stays right as long as every byte change is
 * balanced: an IPv4 address change is cancelled out by the IP header
 * checksum change, so those bytes are stored without BPF_F_RECOMPUTE_CSUM and
 * bpf_l4_csum_replace(BPF_F_PSEUDO_HDR) accounts for the L4 field. IPv6 has
 * no header checksum to cancel the change, so IPv6 bytes are stored with
 * BPF_F_RECOMPUTE_CSUM (which works on kernels with and without BPF_F_IPV6).
 */
#ifndef BPFPROXY_LB_TC_NAT_H_
#define BPFPROXY_LB_TC_NAT_H_

#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lb_tc_pkt.h"

#define LB_IPV4_CSUM_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, check))
#define LB_IPV4_TTL_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, ttl))
#define LB_IPV4_SADDR_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, saddr))
#define LB_IPV4_DADDR_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, daddr))
#define LB_IPV6_HOPLIMIT_OFF (ETH_HLEN + __builtin_offsetof(struct ipv6hdr, hop_limit))
#define LB_IPV6_SADDR_OFF (ETH_HLEN + __builtin_offsetof(struct ipv6hdr, saddr))
#define LB_IPV6_DADDR_OFF (ETH_HLEN + __builtin_offsetof(struct ipv6hdr, daddr))
/* Source and destination ports are the first two fields of TCP and UDP. */
#define LB_L4_SPORT_OFF 0
#define LB_L4_DPORT_OFF 2

/* A zero UDP checksum over IPv4 means "none" and must stay zero. */
static __always_inline __u64 lb_l4_csum_flags(const struct lb_pkt *pkt)
{
	return pkt->family == LB_AF_INET && pkt->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
}

static __always_inline int lb_rewrite_addr4(struct __sk_buff *skb, const struct lb_pkt *pkt, __u32 off,
					    __be32 from, __be32 to)
{
	if (from == to)
		return 0;
	if (bpf_l4_csum_replace(skb, pkt->csum_off, from, to, BPF_F_PSEUDO_HDR | sizeof(to) | lb_l4_csum_flags(pkt)))
		return -EFAULT;
	if (bpf_l3_csum_replace(skb, LB_IPV4_CSUM_OFF, from, to, sizeof(to)))
		return -EFAULT;
	if (bpf_skb_store_bytes(skb, off, &to, sizeof(to), 0))
		return -EFAULT;
	return 0;
}

static __always_inline int lb_rewrite_addr6(struct __sk_buff *skb, const struct lb_pkt *pkt, __u32 off,
					    union lb_addr *from, union lb_addr *to)
{
	__s64 diff;

	if (lb_addr_eq(from, to))
		return 0;
	diff = bpf_csum_diff(from->u32, sizeof(*from), to->u32, sizeof(*to), 0);
	if (diff < 0)
		return -EFAULT;
	if (bpf_skb_store_bytes(skb, off, to->u8, sizeof(*to), BPF_F_RECOMPUTE_CSUM))
		return -EFAULT;
	if (bpf_l4_csum_replace(skb, pkt->csum_off, 0, (__u32)diff, BPF_F_PSEUDO_HDR))
		return -EFAULT;
	return 0;
}

static __always_inline int lb_rewrite_port(struct __sk_buff *skb, const struct lb_pkt *pkt, __u32 off,
					   __be16 from, __be16 to)
{
	if (from == to)
		return 0;
	if (bpf_l4_csum_replace(skb, pkt->csum_off, from, to, sizeof(to) | lb_l4_csum_flags(pkt)))
		return -EFAULT;
	if (bpf_skb_store_bytes(skb, pkt->l4_off + off, &to, sizeof(to), 0))
		return -EFAULT;
	return 0;
}

/*
 * Rewrites the packet's tuple to (saddr, daddr, sport, dport) and updates
 * |pkt| to match. Both addresses must be of the packet's family: the
 * reconciler keeps a frontend's backends in its family, so anything else is
 * a corrupt entry (-EAFNOSUPPORT).
 */
static __always_inline int lb_rewrite(struct __sk_buff *skb, struct lb_pkt *pkt, union lb_addr *saddr,
				      union lb_addr *daddr, __be16 sport, __be16 dport)
{
	int ret;

	if (lb_addr_family(saddr) != pkt->family || lb_addr_family(daddr) != pkt->family)
		return -EAFNOSUPPORT;
	if (pkt->family == LB_AF_INET) {
		ret = lb_rewrite_addr4(skb, pkt, LB_IPV4_SADDR_OFF, pkt->saddr.u32[3], saddr->u32[3]);
		if (!ret)
			ret = lb_rewrite_addr4(skb, pkt, LB_IPV4_DADDR_OFF, pkt->daddr.u32[3], daddr->u32[3]);
	} else {
		ret = lb_rewrite_addr6(skb, pkt, LB_IPV6_SADDR_OFF, &pkt->saddr, saddr);
		if (!ret)
			ret = lb_rewrite_addr6(skb, pkt, LB_IPV6_DADDR_OFF, &pkt->daddr, daddr);
	}
	if (!ret)
		ret = lb_rewrite_port(skb, pkt, LB_L4_SPORT_OFF, pkt->sport, sport);
	if (!ret)
		ret = lb_rewrite_port(skb, pkt, LB_L4_DPORT_OFF, pkt->dport, dport);
	if (ret)
		return ret;
	pkt->saddr = *saddr;
	pkt->daddr = *daddr;
	pkt->sport = sport;
	pkt->dport = dport;
	return 0;
}

/*
 * What a router does to a packet it forwards: TTL / hop limit minus one.
 * -ETIMEDOUT when it would reach zero (the packet is dropped; no ICMP time
 * exceeded is sent).
 */
static __always_inline int lb_decrement_ttl(struct __sk_buff *skb, struct lb_pkt *pkt)
{
	__u8 ttl;

	if (pkt->ttl <= 1)
		return -ETIMEDOUT;
	ttl = pkt->ttl - 1;
	if (pkt->family == LB_AF_INET) {
		/* The header checksum sums TTL and protocol as one 16-bit word. */
		__be16 from = bpf_htons(((__u16)pkt->ttl << 8) | pkt->proto);
		__be16 to = bpf_htons(((__u16)ttl << 8) | pkt->proto);

		if (bpf_l3_csum_replace(skb, LB_IPV4_CSUM_OFF, from, to, sizeof(to)))
			return -EFAULT;
		if (bpf_skb_store_bytes(skb, LB_IPV4_TTL_OFF, &ttl, sizeof(ttl), 0))
			return -EFAULT;
	} else {
		if (bpf_skb_store_bytes(skb, LB_IPV6_HOPLIMIT_OFF, &ttl, sizeof(ttl), BPF_F_RECOMPUTE_CSUM))
			return -EFAULT;
	}
	pkt->ttl = ttl;
	return 0;
}

#endif /* BPFPROXY_LB_TC_NAT_H_ */
