/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Refusing a client of a frontend without backends, like kube-proxy's
 * REJECT: TCP gets a RST, UDP an ICMP / ICMPv6 port unreachable. The answer
 * is built in the client's own skb (new IP and L4 headers, resized with
 * bpf_skb_change_tail) and sent back out of the device it came in on.
 *
 * The headers are assembled on the stack and checksummed in full there; the
 * skb's checksum state is not consulted. A packet arriving with
 * CHECKSUM_PARTIAL (a local sender behind a veth) is covered by the socket
 * hooks and does not get here in practice.
 */
#ifndef BPFPROXY_LB_TC_REJECT_H_
#define BPFPROXY_LB_TC_REJECT_H_

#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lb_tc_pkt.h"

#define LB_REPLY_TTL 64
#define LB_IP_DF 0x4000
#define LB_IPTOS_PREC_INTERNETCONTROL 0xc0
/* RFC 792 / 4443 as kube-proxy's REJECT sends them. */
#define LB_ICMP_DEST_UNREACH 3
#define LB_ICMP_PORT_UNREACH 3
#define LB_ICMPV6_DEST_UNREACH 1
#define LB_ICMPV6_PORT_UNREACH 4
/* The quote of an ICMP error: the offending IP header and 8 bytes after it. */
#define LB_ICMP_QUOTE_L4 8
#define LB_ICMP4_QUOTE_MAX (60 + LB_ICMP_QUOTE_L4)
#define LB_ICMP6_QUOTE (sizeof(struct ipv6hdr) + LB_ICMP_QUOTE_L4)

/*
 * ICMP and ICMPv6 error header (RFC 792, RFC 4443): type, code, checksum,
 * 4 unused bytes. Declared here because linux/icmp.h pulls in libc headers
 * that do not build for the BPF target.
 */
struct lb_icmp_err {
	__u8 type;
	__u8 code;
	__sum16 checksum; /* ICMPv6: over the pseudo-header too */
	__be32 unused;
};

/* Each answer as it follows the Ethernet header. All sizes are multiples of 4. */
struct lb_rst4 {
	struct iphdr ip;
	struct tcphdr tcp;
};

struct lb_rst6 {
	struct ipv6hdr ip6;
	struct tcphdr tcp;
};

struct lb_icmp4 {
	struct iphdr ip;
	struct lb_icmp_err icmp;
	__u8 quote[LB_ICMP4_QUOTE_MAX];
};

struct lb_icmp6 {
	struct ipv6hdr ip6;
	struct lb_icmp_err icmp6;
	__u8 quote[LB_ICMP6_QUOTE];
};

union lb_reply {
	struct lb_rst4 rst4;
	struct lb_rst6 rst6;
	struct lb_icmp4 icmp4;
	struct lb_icmp6 icmp6;
};

/* The L4 pseudo-headers, for checksums only. */
struct lb_pseudo4 {
	__be32 saddr;
	__be32 daddr;
	__u8 zero;
	__u8 proto;
	__be16 len;
};

struct lb_pseudo6 {
	union lb_addr saddr;
	union lb_addr daddr;
	__be32 len;
	__u8 zero[3];
	__u8 nexthdr;
};

/* Ones' complement sum -> checksum field. */
static __always_inline __sum16 lb_csum_fold(__s64 sum)
{
	__u32 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__sum16)~s;
}

/* The sum of |len| bytes (a multiple of 4) at |p|, added to |seed|. */
static __always_inline __s64 lb_csum_add(void *p, __u32 len, __s64 seed)
{
	return bpf_csum_diff(NULL, 0, p, len, (__wsum)seed);
}

static __always_inline void lb_fill_ipv4(struct iphdr *ip, const struct lb_pkt *pkt, __u8 proto, __u16 tot_len,
					 __u8 tos, __be16 frag_off)
{
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = tos;
	ip->tot_len = bpf_htons(tot_len);
	ip->frag_off = frag_off;
	ip->ttl = LB_REPLY_TTL;
	ip->protocol = proto;
	ip->saddr = pkt->daddr.u32[3];
	ip->daddr = pkt->saddr.u32[3];
	ip->check = lb_csum_fold(lb_csum_add(ip, sizeof(*ip), 0));
}

static __always_inline void lb_fill_ipv6(struct ipv6hdr *ip6, const struct lb_pkt *pkt, __u8 nexthdr,
					 __u16 payload_len)
{
	ip6->version = 6;
	ip6->payload_len = bpf_htons(payload_len);
	ip6->nexthdr = nexthdr;
	ip6->hop_limit = LB_REPLY_TTL;
	__builtin_memcpy(&ip6->saddr, pkt->daddr.u8, sizeof(ip6->saddr));
	__builtin_memcpy(&ip6->daddr, pkt->saddr.u8, sizeof(ip6->daddr));
}

/* The sum of the L4 pseudo-header of the answer to |pkt|. */
static __always_inline __s64 lb_pseudo_sum(const struct lb_pkt *pkt, __u8 proto, __u32 len)
{
	if (pkt->family == LB_AF_INET) {
		struct lb_pseudo4 ph = {};

		ph.saddr = pkt->daddr.u32[3];
		ph.daddr = pkt->saddr.u32[3];
		ph.proto = proto;
		ph.len = bpf_htons(len);
		return lb_csum_add(&ph, sizeof(ph), 0);
	} else {
		struct lb_pseudo6 ph = {};

		ph.saddr = pkt->daddr;
		ph.daddr = pkt->saddr;
		ph.len = bpf_htonl(len);
		ph.nexthdr = proto;
		return lb_csum_add(&ph, sizeof(ph), 0);
	}
}

/*
 * RFC 9293 3.10.7.1: a segment with ACK is answered by <SEQ=SEG.ACK><CTL=RST>,
 * anything else by <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, where SYN and
 * FIN count in SEG.LEN.
 */
static __always_inline void lb_fill_rst(struct tcphdr *tcp, const struct lb_pkt *pkt)
{
	__u8 *flags = (__u8 *)tcp + 13;
	__u32 seg_len = pkt->l4_len - pkt->tcp_doff;

	tcp->source = pkt->dport;
	tcp->dest = pkt->sport;
	tcp->doff = sizeof(*tcp) / 4;
	if (pkt->tcp_flags & LB_TCP_ACK) {
		tcp->seq = pkt->tcp_ack_seq;
		*flags = LB_TCP_RST;
	} else {
		if (pkt->tcp_flags & LB_TCP_SYN)
			seg_len++;
		if (pkt->tcp_flags & LB_TCP_FIN)
			seg_len++;
		tcp->ack_seq = bpf_htonl(bpf_ntohl(pkt->tcp_seq) + seg_len);
		*flags = LB_TCP_RST | LB_TCP_ACK;
	}
	tcp->check = lb_csum_fold(lb_csum_add(tcp, sizeof(*tcp), lb_pseudo_sum(pkt, IPPROTO_TCP, sizeof(*tcp))));
}

/* Builds the RST answering |pkt| into |r|; returns its length after the Ethernet header. */
static __always_inline int lb_build_rst(const struct lb_pkt *pkt, union lb_reply *r)
{
	/* Never answer a RST (RFC 9293). */
	if (pkt->tcp_flags & LB_TCP_RST)
		return -ECONNRESET;
	if (pkt->family == LB_AF_INET) {
		lb_fill_rst(&r->rst4.tcp, pkt);
		lb_fill_ipv4(&r->rst4.ip, pkt, IPPROTO_TCP, sizeof(r->rst4), 0, bpf_htons(LB_IP_DF));
		return sizeof(r->rst4);
	}
	lb_fill_rst(&r->rst6.tcp, pkt);
	lb_fill_ipv6(&r->rst6.ip6, pkt, IPPROTO_TCP, sizeof(r->rst6.tcp));
	return sizeof(r->rst6);
}

static __always_inline int lb_build_icmp4(struct __sk_buff *skb, const struct lb_pkt *pkt, struct lb_icmp4 *m)
{
	/* Verifier workaround: 64 bits, so the bounds checked are those of the register passed. */
	__u64 quote = (__u64)pkt->l3_hlen + LB_ICMP_QUOTE_L4;
	__u64 icmp_len;

	/* Verifier workaround: restate the bounds the parser established. */
	if (quote < sizeof(struct iphdr) + LB_ICMP_QUOTE_L4 || quote > sizeof(m->quote))
		return -EINVAL;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, m->quote, quote))
		return -EFAULT;
	icmp_len = sizeof(m->icmp) + quote;
	m->icmp.type = LB_ICMP_DEST_UNREACH;
	m->icmp.code = LB_ICMP_PORT_UNREACH;
	m->icmp.checksum = lb_csum_fold(lb_csum_add(&m->icmp, icmp_len, 0));
	lb_fill_ipv4(&m->ip, pkt, IPPROTO_ICMP, sizeof(m->ip) + icmp_len, LB_IPTOS_PREC_INTERNETCONTROL, 0);
	return sizeof(m->ip) + icmp_len;
}

static __always_inline int lb_build_icmp6(struct __sk_buff *skb, const struct lb_pkt *pkt, struct lb_icmp6 *m)
{
	__u32 icmp_len = sizeof(m->icmp6) + sizeof(m->quote);

	if (bpf_skb_load_bytes(skb, ETH_HLEN, m->quote, sizeof(m->quote)))
		return -EFAULT;
	m->icmp6.type = LB_ICMPV6_DEST_UNREACH;
	m->icmp6.code = LB_ICMPV6_PORT_UNREACH;
	m->icmp6.checksum =
		lb_csum_fold(lb_csum_add(&m->icmp6, icmp_len, lb_pseudo_sum(pkt, IPPROTO_ICMPV6, icmp_len)));
	lb_fill_ipv6(&m->ip6, pkt, IPPROTO_ICMPV6, icmp_len);
	return sizeof(m->ip6) + icmp_len;
}

/*
 * Replaces everything after the Ethernet header with the |len| bytes at |r|,
 * swaps the MACs and sends the packet back out of the device it came from.
 */
static __always_inline int lb_send_back(struct __sk_buff *skb, union lb_reply *r, __u32 len)
{
	struct ethhdr eth;
	__u8 macs[2 * ETH_ALEN];

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return -EFAULT;
	__builtin_memcpy(macs, eth.h_source, ETH_ALEN);
	__builtin_memcpy(macs + ETH_ALEN, eth.h_dest, ETH_ALEN);
	/* Verifier workaround: restate that |len| fits the buffer. */
	if (len > sizeof(*r))
		return -EINVAL;
	if (bpf_skb_change_tail(skb, ETH_HLEN + len, 0))
		return -ENOMEM;
	if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0) || bpf_skb_store_bytes(skb, ETH_HLEN, r, len, 0))
		return -EFAULT;
	return bpf_redirect(skb->ifindex, 0);
}

/* Answers |pkt| with a RST or an ICMP port unreachable. Returns a verdict or -errno. */
static __always_inline int lb_reject(struct __sk_buff *skb, const struct lb_pkt *pkt)
{
	union lb_reply r = {};
	int len;

	if (pkt->proto == IPPROTO_TCP)
		len = lb_build_rst(pkt, &r);
	else if (pkt->family == LB_AF_INET)
		len = lb_build_icmp4(skb, pkt, &r.icmp4);
	else
		len = lb_build_icmp6(skb, pkt, &r.icmp6);
	if (len < 0)
		return len;
	return lb_send_back(skb, &r, len);
}

#endif /* BPFPROXY_LB_TC_REJECT_H_ */
