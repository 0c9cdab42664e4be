// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket-level Service load balancing: cgroup sock_addr hooks translate a
 * ClusterIP to a backend when a socket connects or sends, and translate the
 * backend back to the ClusterIP when the application asks who its peer is.
 * No packet is ever rewritten on this path.
 *
 * Entry programs are thin: they adapt the context to an lb_addr, call
 * lb_translate()/lb_reverse(), and turn the -errno into a verdict.
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpfproxy/lb_abi.h"

#define SOCK_ADDR_PROCEED 1
#define SOCK_ADDR_REJECT 0

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_DEFAULT_SERVICE_ENTRIES);
	__type(key, struct lb_service_key);
	__type(value, struct lb_service_value);
} bpfp_svc_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_DEFAULT_BACKEND_ENTRIES);
	__type(key, __u32);
	__type(value, struct lb_backend_value);
} bpfp_be_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_DEFAULT_SOCK_ENTRIES);
	__type(key, struct lb_sock_key);
	__type(value, struct lb_revnat_value);
} bpfp_rnat_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_DEFAULT_SOCK_ENTRIES);
	__type(key, struct lb_sock_key);
	__type(value, struct lb_affinity_value);
} bpfp_aff_v1 SEC(".maps");

static __always_inline void addr_from_v4(union lb_addr *a, __u32 ip4)
{
	a->u32[0] = 0;
	a->u32[1] = 0;
	a->u32[2] = bpf_htonl(0xffff);
	a->u32[3] = ip4;
}

static __always_inline int addr_is_v4_mapped(const union lb_addr *a)
{
	return a->u32[0] == 0 && a->u32[1] == 0 &&
	       a->u32[2] == bpf_htonl(0xffff);
}

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
 * Chooses the slot a socket uses. UDP sockets keep the backend they were
 * given for as long as it still sits in the same slot of the Service; TCP
 * connections (and UDP sockets without a usable record) pick at random.
 */
static __always_inline __u16 lb_pick_slot(struct lb_service_key *key,
					  const struct lb_service_value *master,
					  const struct lb_sock_key *aff_key,
					  int sticky)
{
	if (sticky) {
		struct lb_affinity_value *aff;
		struct lb_service_value *slot;

		aff = bpf_map_lookup_elem(&bpfp_aff_v1, aff_key);
		if (aff && aff->slot >= 1 && aff->slot <= master->count) {
			key->slot = aff->slot;
			slot = bpf_map_lookup_elem(&bpfp_svc_v1, key);
			if (slot && slot->backend_id == aff->backend_id)
				return aff->slot;
		}
	}
	return (__u16)(bpf_get_prandom_u32() % master->count) + 1;
}

/*
 * Core of connect/sendmsg: if (addr, port) is a Service, replaces them with a
 * backend's and records how to translate back.
 * Returns 0 when translated, -ENXIO when the destination is no Service,
 * -ECONNREFUSED when the Service has no backend (or points nowhere).
 */
static __always_inline int lb_translate(struct bpf_sock_addr *ctx,
					union lb_addr *addr, __be16 *port)
{
	struct lb_service_key key = {};
	struct lb_service_value *master, *slot;
	struct lb_backend_value *backend;
	struct lb_sock_key sock_key = {};
	struct lb_revnat_value rev = {};
	struct lb_affinity_value aff = {};
	__u32 backend_id;
	__u64 cookie;
	int sticky;

	key.vip = *addr;
	key.port = *port;
	key.proto = (__u8)ctx->protocol;
	key.slot = LB_SLOT_MASTER;
	master = bpf_map_lookup_elem(&bpfp_svc_v1, &key);
	if (!master)
		return -ENXIO;
	if (master->count == 0)
		return -ECONNREFUSED;

	cookie = bpf_get_socket_cookie(ctx);
	sticky = ctx->protocol != IPPROTO_TCP;
	sock_key.cookie = cookie;
	sock_key.addr = *addr;
	sock_key.port = *port;
	sock_key.proto = key.proto;

	key.slot = lb_pick_slot(&key, master, &sock_key, sticky);
	slot = bpf_map_lookup_elem(&bpfp_svc_v1, &key);
	if (!slot)
		return -ECONNREFUSED;
	backend_id = slot->backend_id;
	backend = bpf_map_lookup_elem(&bpfp_be_v1, &backend_id);
	if (!backend)
		return -ECONNREFUSED;

	if (sticky) {
		aff.backend_id = backend_id;
		aff.slot = key.slot;
		bpf_map_update_elem(&bpfp_aff_v1, &sock_key, &aff, BPF_ANY);
	}

	/* Failing to record the reverse entry only degrades getpeername. */
	rev.vip = *addr;
	rev.port = *port;
	sock_key.addr = backend->addr;
	sock_key.port = backend->port;
	bpf_map_update_elem(&bpfp_rnat_v1, &sock_key, &rev, BPF_ANY);

	*addr = backend->addr;
	*port = backend->port;
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

static __always_inline int forward4(struct bpf_sock_addr *ctx)
{
	union lb_addr addr;
	__be16 port = (__be16)ctx->user_port;
	int ret;

	addr_from_v4(&addr, ctx->user_ip4);
	ret = lb_translate(ctx, &addr, &port);
	if (ret == 0) {
		/* The reconciler keeps a Service's backends in its family. */
		if (!addr_is_v4_mapped(&addr))
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

	addr_from_v4(&addr, ctx->user_ip4);
	if (lb_reverse(ctx, &addr, &port) == 0 && addr_is_v4_mapped(&addr)) {
		ctx->user_ip4 = addr.u32[3];
		ctx->user_port = port;
	}
	return SOCK_ADDR_PROCEED;
}

static __always_inline int reverse6(struct bpf_sock_addr *ctx)
{
	union lb_addr addr;
	__be16 port = (__be16)ctx->user_port;

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
