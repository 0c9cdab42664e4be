/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for the per-packet path: Ethernet + IPv4/IPv6 + TCP/UDP
 * into a struct lb_pkt that carries the tuple in the maps' form (16-byte
 * addresses, IPv4 v4-mapped) and the offsets the rewrite helpers need.
 *
 * Headers are copied with bpf_skb_load_bytes() rather than read through
 * direct packet access: it works whatever part of the skb is linear, and
 * the copies stay valid across the helpers that change the packet.
 */
#ifndef BPFPROXY_LB_TC_PKT_H_
#define BPFPROXY_LB_TC_PKT_H_

#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpfproxy/lb_abi.h"
#include "lb_common.h"

/* sys/socket.h is not usable in BPF programs. */
#define LB_AF_INET 2
#define LB_AF_INET6 10

#define LB_IP_MF 0x2000
#define LB_IP_OFFSET 0x1fff

/* Byte 13 of the TCP header. */
#define LB_TCP_FIN 0x01
#define LB_TCP_SYN 0x02
#define LB_TCP_RST 0x04
#define LB_TCP_ACK 0x10

/* A parsed packet. Offsets count from the start of the Ethernet header. */
struct lb_pkt {
	union lb_addr saddr; /* network byte order, IPv4 v4-mapped */
	union lb_addr daddr; /* same */
	__be16 sport;        /* network byte order */
	__be16 dport;        /* network byte order */
	__u32 l4_off;        /* TCP/UDP header */
	__u32 csum_off;      /* the L4 checksum field */
	__u32 l3_hlen;       /* IPv4 header with options, or the 40-byte IPv6 header */
	__u32 l4_len;        /* L4 header + payload, from the IP header */
	__be32 tcp_seq;      /* TCP only, network byte order */
	__be32 tcp_ack_seq;  /* TCP only, network byte order */
	__u8 tcp_doff;       /* TCP only: header length in bytes */
	__u8 tcp_flags;      /* TCP only: LB_TCP_* */
	__u8 family;         /* LB_AF_INET or LB_AF_INET6 */
	__u8 proto;          /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 ttl;            /* IPv4 TTL or IPv6 hop limit */
	__u8 tos;            /* IPv4 TOS */
	__u16 pad0;
};

static __always_inline int lb_addr_is_zero(const union lb_addr *a)
{
	return (a->u32[0] | a->u32[1] | a->u32[2] | a->u32[3]) == 0;
}

/* The family an address belongs to in the maps' encoding. */
static __always_inline __u8 lb_addr_family(const union lb_addr *a)
{
	return lb_addr_is_v4_mapped(a) ? LB_AF_INET : LB_AF_INET6;
}

static __always_inline int lb_parse_l4(struct __sk_buff *skb, struct lb_pkt *pkt)
{
	if (pkt->proto == IPPROTO_TCP) {
		struct tcphdr tcp;

		if (pkt->l4_len < sizeof(tcp) || bpf_skb_load_bytes(skb, pkt->l4_off, &tcp, sizeof(tcp)))
			return -EOPNOTSUPP;
		if (tcp.doff < 5 || (__u32)tcp.doff * 4 > pkt->l4_len)
			return -EOPNOTSUPP;
		pkt->sport = tcp.source;
		pkt->dport = tcp.dest;
		pkt->tcp_seq = tcp.seq;
		pkt->tcp_ack_seq = tcp.ack_seq;
		pkt->tcp_doff = tcp.doff * 4;
		pkt->tcp_flags = ((const __u8 *)&tcp)[13];
		pkt->csum_off = pkt->l4_off + __builtin_offsetof(struct tcphdr, check);
		return 0;
	}
	if (pkt->proto == IPPROTO_UDP) {
		struct udphdr udp;

		if (pkt->l4_len < sizeof(udp) || bpf_skb_load_bytes(skb, pkt->l4_off, &udp, sizeof(udp)))
			return -EOPNOTSUPP;
		pkt->sport = udp.source;
		pkt->dport = udp.dest;
		pkt->csum_off = pkt->l4_off + __builtin_offsetof(struct udphdr, check);
		return 0;
	}
	return -EOPNOTSUPP;
}

/*
 * Fragments are not translated: a later fragment has no ports, and
 * translating only the first would split the datagram. All of them pass.
 */
static __always_inline int lb_parse_ipv4(struct __sk_buff *skb, struct lb_pkt *pkt)
{
	struct iphdr ip;
	__u32 tot_len;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return -EOPNOTSUPP;
	if (ip.version != 4 || ip.ihl < 5)
		return -EOPNOTSUPP;
	if (ip.frag_off & bpf_htons(LB_IP_MF | LB_IP_OFFSET))
		return -EOPNOTSUPP;
	pkt->l3_hlen = ip.ihl * 4;
	tot_len = bpf_ntohs(ip.tot_len);
	if (tot_len < pkt->l3_hlen || ETH_HLEN + tot_len > skb->len)
		return -EOPNOTSUPP;
	pkt->family = LB_AF_INET;
	pkt->proto = ip.protocol;
	pkt->ttl = ip.ttl;
	pkt->tos = ip.tos;
	pkt->l4_off = ETH_HLEN + pkt->l3_hlen;
	pkt->l4_len = tot_len - pkt->l3_hlen;
	lb_addr_from_v4(&pkt->saddr, ip.saddr);
	lb_addr_from_v4(&pkt->daddr, ip.daddr);
	return lb_parse_l4(skb, pkt);
}

/* Only TCP or UDP right after the fixed header: extension headers pass. */
static __always_inline int lb_parse_ipv6(struct __sk_buff *skb, struct lb_pkt *pkt)
{
	struct ipv6hdr ip6;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)))
		return -EOPNOTSUPP;
	if (ip6.version != 6)
		return -EOPNOTSUPP;
	pkt->l3_hlen = sizeof(ip6);
	pkt->l4_len = bpf_ntohs(ip6.payload_len);
	if (ETH_HLEN + sizeof(ip6) + pkt->l4_len > skb->len)
		return -EOPNOTSUPP;
	pkt->family = LB_AF_INET6;
	pkt->proto = ip6.nexthdr;
	pkt->ttl = ip6.hop_limit;
	pkt->l4_off = ETH_HLEN + sizeof(ip6);
	__builtin_memcpy(pkt->saddr.u8, &ip6.saddr, 16);
	__builtin_memcpy(pkt->daddr.u8, &ip6.daddr, 16);
	return lb_parse_l4(skb, pkt);
}

/*
 * Fills |pkt| from an Ethernet frame carrying IPv4 or IPv6 and TCP or UDP.
 * Returns 0, or -EOPNOTSUPP for anything else (ARP, other protocols,
 * fragments, extension headers, truncated or malformed headers): such
 * packets are none of this program's business and pass untouched.
 */
static __always_inline int lb_parse(struct __sk_buff *skb, struct lb_pkt *pkt)
{
	struct ethhdr eth;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return -EOPNOTSUPP;
	if (eth.h_proto == bpf_htons(ETH_P_IP))
		return lb_parse_ipv4(skb, pkt);
	if (eth.h_proto == bpf_htons(ETH_P_IPV6))
		return lb_parse_ipv6(skb, pkt);
	return -EOPNOTSUPP;
}

#endif /* BPFPROXY_LB_TC_PKT_H_ */
