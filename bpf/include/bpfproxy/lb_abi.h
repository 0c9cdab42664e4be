/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one ABI shared by the BPF programs and the C++ daemon: every map's name,
 * key and value. Both sides include this file; the C++ side static_asserts the
 * sizes (proxy/lb_abi_check.cc).
 *
 * Rules:
 *  - fixed-width types only, explicit padding, every field says byte order;
 *  - a layout change bumps LB_ABI_VERSION and the _vN suffix of the map names,
 *    so a daemon never reuses a pinned map whose layout it does not know.
 *
 * Addresses are 16 bytes in network byte order. IPv4 is stored IPv4-mapped
 * (::ffff:a.b.c.d): one key type serves both families, and an IPv6 socket that
 * connects to a v4-mapped ClusterIP finds the IPv4 Service without extra code.
 */
#ifndef BPFPROXY_LB_ABI_H_
#define BPFPROXY_LB_ABI_H_

#include <linux/types.h>

#define LB_ABI_VERSION 1

/* Map names (BPF object names are at most 15 characters). */
#define LB_SERVICES_MAP_NAME "bpfp_svc_v1"
#define LB_BACKENDS_MAP_NAME "bpfp_be_v1"
#define LB_REVNAT_MAP_NAME "bpfp_rnat_v1"
#define LB_AFFINITY_MAP_NAME "bpfp_aff_v1"
#define LB_MEMBERS_MAP_NAME "bpfp_memb_v1"

/*
 * Default capacities, overridable at load time. 100k Services with 10
 * backends each need 100k masters + 1M slots, 1M memberships and 1M
 * distinct backends. Services, members and backends are BPF_F_NO_PREALLOC
 * hashes, so unused capacity costs no memory; the per-socket maps are LRU
 * and preallocated. The members map has the services map's capacity.
 */
#define LB_DEFAULT_SERVICE_ENTRIES (1u << 21) /* 2,097,152 */
#define LB_DEFAULT_BACKEND_ENTRIES (1u << 20) /* 1,048,576 */
#define LB_DEFAULT_SOCK_ENTRIES (1u << 18)    /*   262,144 */

/* Slot 0 of a Service is its master entry; backends sit in slots 1..count. */
#define LB_SLOT_MASTER 0
/* count is a __u16. */
#define LB_MAX_BACKENDS_PER_SERVICE 65535

/*
 * IDs 0 are never allocated: a zeroed value points nowhere. Userspace does
 * not reuse a freed ID until the 32-bit space wraps, because hash map
 * elements are recycled at once: a program that looked up an entry may read
 * memory that already belongs to another key. Every value therefore carries
 * an ID the reader checks against what it looked up (see lb_common.h).
 */
#define LB_BACKEND_ID_INVALID 0
#define LB_SERVICE_ID_INVALID 0

union lb_addr {
	__u8 u8[16];  /* network byte order */
	__u32 u32[4]; /* each word in network byte order */
};

/* bpfp_svc_v1 key: one Service port (VIP, port, protocol) and a slot. */
struct lb_service_key {
	union lb_addr vip; /* ClusterIP, network byte order, IPv4 v4-mapped */
	__be16 port;       /* Service port, network byte order */
	__u8 proto;        /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
	__u8 pad0;         /* must be zero */
	__u16 slot;        /* host byte order; LB_SLOT_MASTER or 1..count */
	__u16 pad1;        /* must be zero */
};

/* Service flags, in the master entry. None are defined yet. */
#define LB_SVC_F_NONE 0

/* bpfp_svc_v1 value. */
struct lb_service_value {
	__u32 backend_id; /* slot: ID in bpfp_be_v1; master: 0; host order */
	__u32 service_id; /* the frontend's ID, in its master and every slot; host order */
	__u16 count;      /* master: number of backend slots, host order; 0 = refuse */
	__u16 flags;      /* master: LB_SVC_F_*, host order */
};

/* bpfp_be_v1: key __u32 backend ID (host order), value: */
struct lb_backend_value {
	union lb_addr addr; /* endpoint IP, network byte order, IPv4 v4-mapped */
	__u32 id;           /* its own key, host order: detects a recycled element */
	__be16 port;        /* target port, network byte order */
	__u8 proto;         /* IPPROTO_*, same as the Services that use it */
	__u8 flags;         /* none defined yet; zero */
};

/*
 * bpfp_memb_v1: which backends belong to which frontend, whatever slot they
 * are in. A UDP socket keeps its backend for as long as the backend stays a
 * member, even when slots are compacted around it.
 */
struct lb_member_key {
	__u32 service_id; /* host order */
	__u32 backend_id; /* host order */
};

struct lb_member_value {
	__u32 reserved; /* zero */
};

/*
 * bpfp_rnat_v1 (LRU): socket cookie + the backend a socket was sent to ->
 * the VIP it asked for. recvmsg and getpeername rewrite the peer through it,
 * so applications only ever see the ClusterIP.
 *
 * bpfp_aff_v1 (LRU): socket cookie + VIP -> the backend chosen for that
 * socket, so every datagram of one UDP socket goes to the same backend.
 * Both use the same key layout.
 */
struct lb_sock_key {
	__u64 cookie;       /* bpf_get_socket_cookie(), host order */
	union lb_addr addr; /* rnat: backend IP; aff: VIP; network byte order */
	__be16 port;        /* rnat: backend port; aff: VIP port; network order */
	__u8 proto;         /* IPPROTO_* */
	__u8 pad0;          /* must be zero */
	__u32 pad1;         /* must be zero */
};

struct lb_revnat_value {
	union lb_addr vip; /* network byte order */
	__be16 port;       /* network byte order */
	__u16 pad0;        /* must be zero */
};

struct lb_affinity_value {
	__u32 backend_id; /* host order */
	__u32 service_id; /* host order; the frontend it was chosen for */
};

/* ------------------------------------------------------------------------
 * Per-packet path (lb_tc.bpf.c): NodePort, externalIPs and LoadBalancer IPs
 * for traffic arriving on the node's devices from outside.
 *
 * It has its own service view: bpfp_xsvc/xbe/xmemb have exactly the layouts
 * of bpfp_svc/be/memb above and are written by a second Reconciler. The
 * views differ for externalTrafficPolicy: Local, where traffic from outside
 * uses this node's endpoints only and pods/the node itself use all of them
 * (kube-proxy's semantics), and the socket view also holds 127.0.0.1:NodePort.
 * ------------------------------------------------------------------------ */
#define LB_XSERVICES_MAP_NAME "bpfp_xsvc_v1" /* lb_service_key -> lb_service_value */
#define LB_XBACKENDS_MAP_NAME "bpfp_xbe_v1"  /* __u32 -> lb_backend_value */
#define LB_XMEMBERS_MAP_NAME "bpfp_xmemb_v1" /* lb_member_key -> lb_member_value */
#define LB_XPOLICY_MAP_NAME "bpfp_xpol_v1"   /* lb_frontend_key -> lb_policy_value */
#define LB_XSRC_MAP_NAME "bpfp_xsrc_v1"      /* LPM trie: lb_src_range_key -> __u8 */
#define LB_CT_MAP_NAME "bpfp_ct_v1"          /* LRU: lb_ct_key -> lb_ct_value */
#define LB_DEVICES_MAP_NAME "bpfp_dev_v1"    /* __u32 ifindex -> lb_device_value */
#define LB_STATS_MAP_NAME "bpfp_stat_v1"     /* LRU per-CPU: lb_stats_key -> lb_stats_value */

#define LB_DEFAULT_CT_ENTRIES (1u << 18)      /* 262,144 entries: 131,072 flows (one per direction) */
#define LB_DEFAULT_SRC_RANGE_ENTRIES (1u << 16)
#define LB_DEFAULT_DEVICE_ENTRIES 64
#define LB_DEFAULT_STATS_ENTRIES (1u << 16)

/* A frontend without its slot: the key of the policy map. */
struct lb_frontend_key {
	union lb_addr vip; /* network byte order, IPv4 v4-mapped */
	__be16 port;       /* network byte order */
	__u8 proto;        /* IPPROTO_* */
	__u8 pad0;         /* must be zero */
};

/*
 * bpfp_xpol_v1 value: how the per-packet path treats one external frontend.
 * A frontend without a policy entry has flags 0: SNAT to the node, reject
 * when it has no backends, every source allowed. The daemon writes the
 * policy before the frontend's master entry and deletes it after.
 */
#define LB_POL_F_PRESERVE_SOURCE 0x1 /* externalTrafficPolicy Local: no SNAT */
#define LB_POL_F_DROP_NO_BACKEND 0x2 /* count 0 means drop, not reject (eTP Local) */
#define LB_POL_F_SOURCE_RANGES 0x4   /* only sources matching bpfp_xsrc_v1 */

struct lb_policy_value {
	__u16 flags; /* LB_POL_F_*, host order */
	__u16 pad0;  /* must be zero */
};

/*
 * bpfp_xsrc_v1 (LPM trie, BPF_F_NO_PREALLOC): loadBalancerSourceRanges. The
 * frontend is the fixed part of the prefix, so one trie serves every
 * frontend: prefixlen = LB_SRC_RANGE_FRONTEND_BITS + the range's length
 * (an IPv4 /n is v4-mapped: 96 + n).
 */
#define LB_SRC_RANGE_FRONTEND_BITS 160 /* vip(128) + port(16) + proto(8) + pad(8) */

struct lb_src_range_key {
	__u32 prefixlen;    /* host order */
	union lb_addr vip;  /* network byte order, IPv4 v4-mapped */
	__be16 port;        /* network byte order */
	__u8 proto;         /* IPPROTO_* */
	__u8 pad0;          /* must be zero */
	union lb_addr src;  /* source range, network byte order, IPv4 v4-mapped */
};

/*
 * bpfp_ct_v1 (LRU): one entry per direction of a translated flow, keyed by
 * the tuple as it is on the wire when it reaches the program:
 *   forward: client -> frontend            (value: the tuple to write: SNAT source, backend)
 *   reply:   backend -> SNAT addr / client (value: the tuple to write: frontend, client)
 * The forward entry keeps the backend for the life of the flow, so an
 * established flow is not moved when the backend set changes. A UDP flow
 * whose backend is no longer a member of the frontend picks a new one
 * (kube-proxy flushes such conntrack entries).
 */
#define LB_CT_DIR_FORWARD 0
#define LB_CT_DIR_REPLY 1

struct lb_ct_key {
	union lb_addr saddr; /* network byte order, IPv4 v4-mapped */
	union lb_addr daddr; /* network byte order, IPv4 v4-mapped */
	__be16 sport;        /* network byte order */
	__be16 dport;        /* network byte order */
	__u8 proto;          /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 dir;            /* LB_CT_DIR_* */
	__u16 pad0;          /* must be zero */
};

#define LB_CT_F_SNAT 0x1 /* the source is rewritten too */

struct lb_ct_value {
	union lb_addr saddr; /* source to write, network byte order, IPv4 v4-mapped */
	union lb_addr daddr; /* destination to write, same */
	__be16 sport;        /* network byte order */
	__be16 dport;        /* network byte order */
	__u32 backend_id;    /* forward: the backend chosen (bpfp_xbe_v1); reply: 0; host order */
	__u32 service_id;    /* the frontend's ID in bpfp_xsvc_v1, host order */
	__u16 flags;         /* LB_CT_F_*, host order */
	__u16 pad0;          /* must be zero */
	__u64 last_seen_ns;  /* bpf_ktime_get_ns() of the last packet, host order */
};

/*
 * bpfp_dev_v1: the devices the tc programs are attached to, by ifindex
 * (host order), with the address used as SNAT source when a packet leaves
 * through them. Written by the loader.
 */
struct lb_device_value {
	union lb_addr ipv4; /* v4-mapped; all zero: none */
	union lb_addr ipv6; /* all zero: none */
};

/*
 * bpfp_stat_v1 (LRU per-CPU hash): connections (TCP connects/flows, new UDP
 * flows) per frontend, counted in the datapath. Service IDs are never
 * reused, so a counter cannot be inherited by another frontend.
 */
#define LB_VIEW_SOCKET 0   /* bpfp_svc_v1's service IDs */
#define LB_VIEW_EXTERNAL 1 /* bpfp_xsvc_v1's service IDs */

struct lb_stats_key {
	__u32 service_id; /* host order */
	__u8 view;        /* LB_VIEW_* */
	__u8 pad0[3];     /* must be zero */
};

struct lb_stats_value {
	__u64 connections; /* host order, per CPU */
};

#endif /* BPFPROXY_LB_ABI_H_ */
