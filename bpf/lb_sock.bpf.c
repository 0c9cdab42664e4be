// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket-level Service load balancing: cgroup sock_addr hooks translate a
 * ClusterIP to a backend when a socket connects or sends, and translate the
 * backend back to the ClusterIP when the application asks who its peer is.
 * No packet is ever rewritten on this path.
 *
 * Entry programs are thin: they adapt the context to an lb_addr, call
 * lb_translate()/lb_reverse(), and turn the -errno into a verdict.
 *
 * Host-only mode: when the loader sets host_netns_cookie, every hook leaves
 * sockets of other network namespaces (pods) untouched.
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpfproxy/lb_abi.h"
#include "lb_common.h"

/*
 * Set by the loader before load: 0 translates the sockets of every network
 * namespace in the cgroup; otherwise only those of the namespace with this
 * cookie (the daemon's, i.e. the node's).
 */
const volatile __u64 host_netns_cookie = 0;

#define SOCK_ADDR_PROCEED 1
#define SOCK_ADDR_REJECT 0
#define LB_ATTEMPTS 4

/* The socket view (lb_abi.h), and per socket: reverse translation, UDP affinity. */
LB_SERVICE_VIEW_MAPS(bpfp_svc_v1, bpfp_be_v1, bpfp_memb_v1);
LB_MAP(bpfp_rnat_v1, BPF_MAP_TYPE_LRU_HASH, 0, struct lb_sock_key, struct lb_revnat_value,
       LB_DEFAULT_SOCK_ENTRIES);
LB_MAP(bpfp_aff_v1, BPF_MAP_TYPE_LRU_HASH, 0, struct lb_sock_key, struct lb_affinity_value,
       LB_DEFAULT_SOCK_ENTRIES);

/*
 * Verifier workaround: user_ip6 only allows 4- or 8-byte accesses at fixed
 * offsets, so it is copied word by word rather than with a loop or memcpy.
 */
static __always_inline void addr_from_ctx6(union lb_addr *a,
					   const struct bpf_sock_addr *ctx)
{
	a->u32[0] = ctx->user_ip6[0];
	a->u32[1] = ctx->user_ip6[1];
	a->u32[2] = ctx->user_ip6[2];
	a->u32[3] = ctx->user_ip6[3];
}

static __always_inline void addr_to_ctx6(struct bpf_sock_addr *ctx,
					 const union lb_addr *a)
{
	ctx->user_ip6[0] = a->u32[0];
	ctx->user_ip6[1] = a->u32[1];
	ctx->user_ip6[2] = a->u32[2];
	ctx->user_ip6[3] = a->u32[3];
}

/*
 * A UDP socket's earlier choice, if that backend is still a member of the
 * Service (in whatever slot). Returns its ID, or LB_BACKEND_ID_INVALID.
 */
static __always_inline __u32 lb_sticky_backend(const struct lb_sock_key *aff_key, __u32 service_id)
{
	struct lb_affinity_value *aff;
	__u32 backend_id;

	aff = bpf_map_lookup_elem(&bpfp_aff_v1, aff_key);
	if (!aff)
		return LB_BACKEND_ID_INVALID;
	backend_id = aff->backend_id;
	if (aff->service_id != service_id)
		return LB_BACKEND_ID_INVALID;
	if (!lb_is_member(&bpfp_memb_v1, service_id, backend_id))
		return LB_BACKEND_ID_INVALID;
	return backend_id;
}

/*
 * One attempt to choose a backend for the Service at key->vip/port/proto.
 * Sets *kept_affinity when a UDP socket keeps its earlier backend.
 * Returns 0 and fills |backend|, -ENOENT when it is no Service,
 * -ECONNREFUSED when it has no backend, -EAGAIN when a concurrent update got
 * in the way (lb_common.h).
 */
static __always_inline int lb_choose(struct lb_service_key *key, const struct lb_sock_key *aff_key, int sticky,
				     struct lb_affinity_value *choice, struct lb_backend_value *backend,
				     int *kept_affinity)
{
	__u32 service_id, backend_id = LB_BACKEND_ID_INVALID;
	__u16 count;
	int ret;

	ret = lb_lookup_master(&bpfp_svc_v1, key, &service_id, &count);
	if (ret)
		return ret;

	choice->service_id = service_id;
	if (sticky) {
		backend_id = lb_sticky_backend(aff_key, service_id);
		if (backend_id != LB_BACKEND_ID_INVALID &&
		    lb_lookup_backend(&bpfp_be_v1, backend_id, backend) == 0) {
			choice->backend_id = backend_id;
			*kept_affinity = 1;
			return 0;
		}
	}
	ret = lb_pick_backend(&bpfp_svc_v1, &bpfp_be_v1, key, service_id, count, &backend_id, backend);
	choice->backend_id = backend_id;
	return ret;
}

/* Updates an LRU entry only when it changes: every update takes the LRU lock. */
static __always_inline void lb_record_affinity(const struct lb_sock_key *key, const struct lb_affinity_value *value)
{
	struct lb_affinity_value *old = bpf_map_lookup_elem(&bpfp_aff_v1, key);

	if (old && old->backend_id == value->backend_id && old->service_id == value->service_id)
		return;
	bpf_map_update_elem(&bpfp_aff_v1, key, value, BPF_ANY);
}

static __always_inline void lb_record_revnat(const struct lb_sock_key *key, const struct lb_revnat_value *value)
{
	struct lb_revnat_value *old = bpf_map_lookup_elem(&bpfp_rnat_v1, key);

	if (old && old->port == value->port && lb_addr_eq(&old->vip, &value->vip))
		return;
	bpf_map_update_elem(&bpfp_rnat_v1, key, value, BPF_ANY);
}

/*
 * Core of connect/sendmsg: if (addr, port) is a Service, replaces them with a
 * backend's and records how to translate back.
 * Returns 0 when translated, -ENOENT when the destination is no Service,
 * -ECONNREFUSED when the Service has no backend.
 */
static __always_inline int lb_translate(struct bpf_sock_addr *ctx,
					union lb_addr *addr, __be16 *port)
{
	struct lb_service_key key = {};
	struct lb_sock_key sock_key = {};
	struct lb_revnat_value rev = {};
	struct lb_affinity_value choice = {};
	struct lb_backend_value backend;
	int sticky = ctx->protocol == IPPROTO_UDP;
	int kept_affinity = 0;
	int ret;

	key.vip = *addr;
	key.port = *port;
	key.proto = (__u8)ctx->protocol;
	sock_key.cookie = bpf_get_socket_cookie(ctx);
	sock_key.addr = *addr;
	sock_key.port = *port;
	sock_key.proto = key.proto;

	/*
	 * Each retry starts from a fresh master. A miss needs an update to land
	 * between two lookups a few dozen nanoseconds apart, so a run of
	 * LB_ATTEMPTS misses does not happen in practice; if it did, the socket
	 * is refused rather than sent anywhere unchecked.
	 */
	for (int i = 0; i < LB_ATTEMPTS; i++) {
		ret = lb_choose(&key, &sock_key, sticky, &choice, &backend, &kept_affinity);
		if (ret != -EAGAIN)
			break;
	}
	if (ret == -EAGAIN)
		ret = -ECONNREFUSED;
	if (ret)
		return ret;

	if (sticky)
		lb_record_affinity(&sock_key, &choice);
	/* A TCP connect, or a UDP socket's first datagram to a backend. */
	if (!kept_affinity)
		lb_count_connection(choice.service_id, LB_VIEW_SOCKET);
	/* Failing to record the reverse entry only degrades getpeername. */
	rev.vip = *addr;
	rev.port = *port;
	sock_key.addr = backend.addr;
	sock_key.port = backend.port;
	lb_record_revnat(&sock_key, &rev);

	*addr = backend.addr;
	*port = backend.port;
	return 0;
}

/*
 * Core of recvmsg/getpeername: if this socket was sent to (addr, port) on
 * behalf of a Service, replaces them with the VIP. Returns 0 when translated,
 * -ENOENT otherwise.
 */
static __always_inline int lb_reverse(struct bpf_sock_addr *ctx,
				      union lb_addr *addr, __be16 *port)
{
	struct lb_sock_key sock_key = {};
	struct lb_revnat_value *rev;

	sock_key.cookie = bpf_get_socket_cookie(ctx);
	sock_key.addr = *addr;
	sock_key.port = *port;
	sock_key.proto = (__u8)ctx->protocol;
	rev = bpf_map_lookup_elem(&bpfp_rnat_v1, &sock_key);
	if (!rev)
		return -ENOENT;
	*addr = rev->vip;
	*port = rev->port;
	return 0;
}

/* The forward hooks may refuse; ECONNREFUSED is kube-proxy's REJECT. */
static __always_inline int forward_verdict(int ret)
{
	if (ret == -ECONNREFUSED) {
		bpf_set_retval(-ECONNREFUSED);
		return SOCK_ADDR_REJECT;
	}
	return SOCK_ADDR_PROCEED;
}

/* Host-only mode: sockets of other network namespaces are not ours. */
static __always_inline int lb_skip_netns(struct bpf_sock_addr *ctx)
{
	return host_netns_cookie != 0 && bpf_get_netns_cookie(ctx) != host_netns_cookie;
}

static __always_inline int forward4(struct bpf_sock_addr *ctx)
{
	union lb_addr addr;
	__be16 port = (__be16)ctx->user_port;
	int ret;

	if (lb_skip_netns(ctx))
		return SOCK_ADDR_PROCEED;
	lb_addr_from_v4(&addr, ctx->user_ip4);
	ret = lb_translate(ctx, &addr, &port);
	if (ret == 0) {
		/* The reconciler keeps a Service's backends in its family. */
		if (!lb_addr_is_v4_mapped(&addr))
			return forward_verdict(-ECONNREFUSED);
		ctx->user_ip4 = addr.u32[3];
		ctx->user_port = port;
	}
	return forward_verdict(ret);
}

static __always_inline int forward6(struct bpf_sock_addr *ctx)
{
	union lb_addr addr;
	__be16 port = (__be16)ctx->user_port;
	int ret;

	if (lb_skip_netns(ctx))
		return SOCK_ADDR_PROCEED;
	addr_from_ctx6(&addr, ctx);
	ret = lb_translate(ctx, &addr, &port);
	if (ret == 0) {
		addr_to_ctx6(ctx, &addr);
		ctx->user_port = port;
	}
	return forward_verdict(ret);
}

static __always_inline int reverse4(struct bpf_sock_addr *ctx)
{
	union lb_addr addr;
	__be16 port = (__be16)ctx->user_port;

	if (lb_skip_netns(ctx))
		return SOCK_ADDR_PROCEED;
	lb_addr_from_v4(&addr, ctx->user_ip4);
	if (lb_reverse(ctx, &addr, &port) == 0 && lb_addr_is_v4_mapped(&addr)) {
		ctx->user_ip4 = addr.u32[3];
		ctx->user_port = port;
	}
	return SOCK_ADDR_PROCEED;
}

static __always_inline int reverse6(struct bpf_sock_addr *ctx)
{
	union lb_addr addr;
	__be16 port = (__be16)ctx->user_port;

	if (lb_skip_netns(ctx))
		return SOCK_ADDR_PROCEED;
	addr_from_ctx6(&addr, ctx);
	if (lb_reverse(ctx, &addr, &port) == 0) {
		addr_to_ctx6(ctx, &addr);
		ctx->user_port = port;
	}
	return SOCK_ADDR_PROCEED;
}

SEC("cgroup/connect4")
int bpfp_connect4(struct bpf_sock_addr *ctx)
{
	return forward4(ctx);
}

SEC("cgroup/connect6")
int bpfp_connect6(struct bpf_sock_addr *ctx)
{
	return forward6(ctx);
}

SEC("cgroup/sendmsg4")
int bpfp_sendmsg4(struct bpf_sock_addr *ctx)
{
	return forward4(ctx);
}

SEC("cgroup/sendmsg6")
int bpfp_sendmsg6(struct bpf_sock_addr *ctx)
{
	return forward6(ctx);
}

SEC("cgroup/recvmsg4")
int bpfp_recvmsg4(struct bpf_sock_addr *ctx)
{
	return reverse4(ctx);
}

SEC("cgroup/recvmsg6")
int bpfp_recvmsg6(struct bpf_sock_addr *ctx)
{
	return reverse6(ctx);
}

SEC("cgroup/getpeername4")
int bpfp_getpeer4(struct bpf_sock_addr *ctx)
{
	return reverse4(ctx);
}

SEC("cgroup/getpeername6")
int bpfp_getpeer6(struct bpf_sock_addr *ctx)
{
	return reverse6(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
