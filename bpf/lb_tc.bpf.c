// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-packet Service load balancing for traffic that reaches the node from
 * outside: NodePort, externalIPs and LoadBalancer IPs. Attached to clsact
 * ingress and egress of the node's devices.
 *
 * Ingress, for a TCP or UDP packet addressed to this host:
 *   1. a forward conntrack hit (client -> frontend) is translated as before;
 *   2. a reply conntrack hit (backend -> node or client) is translated back;
 *   3. otherwise, if the destination is an external frontend: source
 *      ranges, backend selection, DNAT (and SNAT to the node unless the
 *      policy preserves the source), two conntrack entries;
 *   4. translated packets are routed with a FIB lookup and redirected.
 * A frontend without backends refuses the client (RST / ICMP unreachable).
 * Egress only translates replies of local backends that leave the node
 * without having passed a managed device's ingress.
 *
 * Only packets to frontends in bpfp_xsvc_v1 or of tracked flows are ever
 * touched; everything else passes untouched, byte for byte.
 *
 * Core functions return a TC_ACT_* verdict (>= 0) or a negative errno;
 * only the entry programs turn an errno into a verdict.
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpfproxy/lb_abi.h"
#include "lb_common.h"
#include "lb_tc_ct.h"
#include "lb_tc_fib.h"
#include "lb_tc_maps.h"
#include "lb_tc_nat.h"
#include "lb_tc_pkt.h"
#include "lb_tc_reject.h"
#include "lb_tc_svc.h"

/* The node address of |ifindex| in |family|; -ENOENT when it has none. */
static __always_inline int lb_device_addr(__u32 ifindex, __u8 family, union lb_addr *out)
{
	struct lb_device_value *dev = bpf_map_lookup_elem(&bpfp_dev_v1, &ifindex);

	if (!dev)
		return -ENOENT;
	*out = family == LB_AF_INET ? dev->ipv4 : dev->ipv6;
	return lb_addr_is_zero(out) ? -ENOENT : 0;
}

/*
 * Decides the source of a new flow to |flow->backend_addr|: the address of
 * the device the FIB routes it out of, else of the device it came in on.
 * A backend that is one of the node's own addresses (a hostNetwork
 * endpoint) gets no SNAT: the stack would drop a packet arriving with a
 * local source as a martian, and its replies leave through egress, where
 * the reply entry translates them.
 */
static __always_inline int lb_choose_source(struct __sk_buff *skb, const struct lb_pkt *pkt, struct lb_flow *flow)
{
	struct bpf_fib_lookup fib = {};
	int routed;
	int ret;

	ret = lb_fib_lookup(skb, pkt, &flow->backend_addr, flow->backend_port, skb->ifindex, &fib);
	if (ret == BPF_FIB_LKUP_RET_NOT_FWDED)
		return 0;
	routed = ret == BPF_FIB_LKUP_RET_SUCCESS || ret == BPF_FIB_LKUP_RET_NO_NEIGH;
	if (!routed || lb_device_addr(fib.ifindex, pkt->family, &flow->snat_addr)) {
		/* No route yet, or the egress device is not managed. */
		if (lb_device_addr(skb->ifindex, pkt->family, &flow->snat_addr))
			return -EADDRNOTAVAIL;
	}
	flow->flags |= LB_CT_F_SNAT;
	return 0;
}

/* A frontend without a usable backend: refuse the client, or drop. */
static __always_inline int lb_refuse(struct __sk_buff *skb, const struct lb_pkt *pkt, __u16 policy)
{
	if (policy & LB_POL_F_DROP_NO_BACKEND)
		return -EHOSTUNREACH;
	return lb_reject(skb, pkt);
}

/*
 * The first packet of a flow, or of a flow whose backend left. Returns
 * -ENOENT when the destination is no external frontend (any more).
 */
static __always_inline int lb_new_flow(struct __sk_buff *skb, struct lb_pkt *pkt)
{
	struct lb_service_key key = {};
	struct lb_service_value master;
	struct lb_backend_value backend;
	struct lb_flow flow = {};
	struct lb_ct_value fwd = {};
	__u16 policy;
	int ret;

	ret = lb_frontend_lookup(pkt, &key, &master);
	if (ret)
		return ret;
	policy = lb_policy_flags(&key);
	if ((policy & LB_POL_F_SOURCE_RANGES) && lb_source_allowed(&key, pkt))
		return -EACCES;
	if (master.count == 0)
		return lb_refuse(skb, pkt, policy);
	ret = lb_select_backend(&key, &flow.service_id, &flow.backend_id, &backend);
	if (ret == -ECONNREFUSED)
		return lb_refuse(skb, pkt, policy);
	if (ret)
		return ret;
	if (lb_addr_family(&backend.addr) != pkt->family)
		return -EAFNOSUPPORT;
	flow.backend_addr = backend.addr;
	flow.backend_port = backend.port;
	if (!(policy & LB_POL_F_PRESERVE_SOURCE)) {
		ret = lb_choose_source(skb, pkt, &flow);
		if (ret)
			return ret;
	}
	ret = lb_ct_create(pkt, &flow, &fwd);
	if (ret)
		return ret;
	lb_count_connection(flow.service_id, LB_VIEW_EXTERNAL);
	ret = lb_rewrite(skb, pkt, &fwd.saddr, &fwd.daddr, fwd.sport, fwd.dport);
	if (ret)
		return ret;
	return lb_forward(skb, pkt);
}

/*
 * A flow moves to a new backend only when its backend left the frontend and
 * the packet may start over: any UDP datagram (kube-proxy flushes UDP
 * conntrack entries of removed endpoints) or a TCP SYN reusing the tuple of
 * an old connection. An established TCP flow keeps its backend.
 */
static __always_inline int lb_may_reselect(const struct lb_pkt *pkt, const struct lb_ct_value *ct)
{
	if (pkt->proto == IPPROTO_TCP && (pkt->tcp_flags & (LB_TCP_SYN | LB_TCP_ACK)) != LB_TCP_SYN)
		return 0;
	return !lb_is_member(&bpfp_xmemb_v1, ct->service_id, ct->backend_id);
}

/*
 * Conntrack step of ingress: -ENOENT when the packet belongs to no known
 * flow, -ESTALE when it starts its flow over with another backend.
 */
static __always_inline int lb_ct_ingress(struct __sk_buff *skb, struct lb_pkt *pkt)
{
	struct lb_ct_value ct;
	int ret;

	if (lb_ct_lookup(pkt, LB_CT_DIR_FORWARD, &ct) == 0) {
		if (lb_may_reselect(pkt, &ct))
			return -ESTALE;
	} else if (lb_ct_lookup(pkt, LB_CT_DIR_REPLY, &ct)) {
		return -ENOENT;
	}
	ret = lb_rewrite(skb, pkt, &ct.saddr, &ct.daddr, ct.sport, ct.dport);
	if (ret)
		return ret;
	return lb_forward(skb, pkt);
}

static __always_inline int lb_ingress(struct __sk_buff *skb)
{
	struct lb_pkt pkt = {};
	int ret;

	/*
	 * Only frames addressed to this host at L2, without an out-of-band
	 * VLAN tag (redirecting would lose it).
	 */
	if (skb->pkt_type != PACKET_HOST || skb->vlan_present)
		return -EOPNOTSUPP;
	ret = lb_parse(skb, &pkt);
	if (ret)
		return ret;
	ret = lb_ct_ingress(skb, &pkt);
	if (ret != -ENOENT && ret != -ESTALE)
		return ret;
	return lb_new_flow(skb, &pkt);
}

/*
 * A reply of a local backend that left the node without passing a managed
 * device's ingress (the pod device is not managed): translate it back and
 * let it go. -ENOENT when it is no such reply.
 */
static __always_inline int lb_egress(struct __sk_buff *skb)
{
	struct lb_pkt pkt = {};
	struct lb_ct_value ct;
	int ret;

	ret = lb_parse(skb, &pkt);
	if (ret)
		return ret;
	ret = lb_ct_lookup(&pkt, LB_CT_DIR_REPLY, &ct);
	if (ret)
		return ret;
	ret = lb_rewrite(skb, &pkt, &ct.saddr, &ct.daddr, ct.sport, ct.dport);
	if (ret)
		return ret;
	return TC_ACT_OK;
}

/*
 * -ENOENT (no frontend, no flow) and -EOPNOTSUPP (not IP + TCP/UDP) mean the
 * packet is none of ours: it passes untouched. Every other error drops it:
 * a denied source, a frontend that drops when it has no backend, a packet
 * half translated, no SNAT address or port.
 */
static __always_inline int lb_verdict(int ret)
{
	if (ret >= 0)
		return ret;
	if (ret == -ENOENT || ret == -EOPNOTSUPP)
		return TC_ACT_OK;
	return TC_ACT_SHOT;
}

SEC("tc")
int bpfp_tc_ingress(struct __sk_buff *skb)
{
	return lb_verdict(lb_ingress(skb));
}

SEC("tc")
int bpfp_tc_egress(struct __sk_buff *skb)
{
	return lb_verdict(lb_egress(skb));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
