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

/*
 * Set by the loader before load: 0 translates the sockets of every network
 * namespace in the cgroup; otherwise only those of the namespace with this
 * cookie (the daemon's, i.e. the node's).
 */
const volatile __u64 host_netns_cookie = 0;

#define SOCK_ADDR_PROCEED 1
#define SOCK_ADDR_REJECT 0
#define LB_ATTEMPTS 4

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
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_DEFAULT_SERVICE_ENTRIES);
	__type(key, struct lb_member_key);
	__type(value, struct lb_member_value);
} bpfp_memb_v1 SEC(".maps");

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

/*
 * Connections per frontend (one per translated TCP connect, one per new UDP
 * affinity). Shared with lb_tc.bpf.c through one pin: keep the two
 * declarations identical.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, LB_DEFAULT_STATS_ENTRIES);
	__type(key, struct lb_stats_key);
	__type(value, struct lb_stats_value);
} bpfp_stat_v1 SEC(".maps");

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
 * Hash map elements are recycled as soon as they are deleted, so a pointer
 * from a lookup may, a moment later, show another key's value. Each value is
 * therefore copied once, and the copy is accepted only if the IDs it carries
 * are the ones looked up. IDs are not reused for a long time (lb_abi.h), so
 * a recycled element never passes. A failed check is -EAGAIN: lb_translate()
 * tries again with a fresh master.
 */
#define barrier() asm volatile("" ::: "memory")

static __always_inline int lb_lookup_backend(__u32 id, struct lb_backend_value *out)
{
	struct lb_backend_value *v;

	v = bpf_map_lookup_elem(&bpfp_be_v1, &id);
	if (!v)
		return -EAGAIN;
	*out = *v;
	barrier();
	/* Both the copy and the element still hold |id|: not torn, not recycled. */
	if (out->id != id || v->id != id)
		return -EAGAIN;
	return 0;
}

static __always_inline int lb_lookup_slot(struct lb_service_key *key, __u16 slot, __u32 service_id,
					  __u32 *backend_id)
{
	struct lb_service_value *v;

	key->slot = slot;
	v = bpf_map_lookup_elem(&bpfp_svc_v1, key);
	if (!v)
		return -EAGAIN;
	*backend_id = v->backend_id;
	barrier();
	if (v->service_id != service_id)
		return -EAGAIN;
	return 0;
}

/*
 * A UDP socket's earlier choice, if that backend is still a member of the
 * Service (in whatever slot). Returns its ID, or LB_BACKEND_ID_INVALID.
 */
static __always_inline __u32 lb_sticky_backend(const struct lb_sock_key *aff_key, __u32 service_id)
{
	struct lb_affinity_value *aff;
	struct lb_member_key member = {};
	__u32 backend_id;

	aff = bpf_map_lookup_elem(&bpfp_aff_v1, aff_key);
	if (!aff)
		return LB_BACKEND_ID_INVALID;
	backend_id = aff->backend_id;
	if (aff->service_id != service_id)
		return LB_BACKEND_ID_INVALID;
	member.service_id = service_id;
	member.backend_id = backend_id;
	if (!bpf_map_lookup_elem(&bpfp_memb_v1, &member))
		return LB_BACKEND_ID_INVALID;
	return backend_id;
}

/*
 * One attempt to choose a backend for the Service at key->vip/port/proto.
 * Sets *kept_affinity when a UDP socket keeps its earlier backend.
 * Returns 0 and fills |backend|, -ENXIO when it is no Service,
 * -ECONNREFUSED when it has no backend, -EAGAIN when a concurrent update got
 * in the way.
 */
static __always_inline int lb_choose(struct lb_service_key *key, const struct lb_sock_key *aff_key, int sticky,
				     struct lb_affinity_value *choice, struct lb_backend_value *backend,
				     int *kept_affinity)
{
	struct lb_service_value *v;
	__u32 service_id, backend_id = LB_BACKEND_ID_INVALID;
	__u16 count;
	int ret;

	key->slot = LB_SLOT_MASTER;
	v = bpf_map_lookup_elem(&bpfp_svc_v1, key);
	if (!v)
		return -ENXIO;
	count = v->count;
	service_id = v->service_id;
	if (count == 0)
		return -ECONNREFUSED;

	choice->service_id = service_id;
	if (sticky) {
		backend_id = lb_sticky_backend(aff_key, service_id);
		if (backend_id != LB_BACKEND_ID_INVALID && lb_lookup_backend(backend_id, backend) == 0) {
			choice->backend_id = backend_id;
			*kept_affinity = 1;
			return 0;
		}
	}
	ret = lb_lookup_slot(key, (__u16)(bpf_get_prandom_u32() % count) + 1, service_id, &backend_id);
	if (ret)
		return ret;
	choice->backend_id = backend_id;
	return lb_lookup_backend(backend_id, backend);
}

/* Updates an LRU entry only when it changes: every update takes the LRU lock. */
static __always_inline void lb_record_affinity(const struct lb_sock_key *key, const struct lb_affinity_value *value)
{
	struct lb_affinity_value *old = bpf_map_lookup_elem(&bpfp_aff_v1, key);

	if (old && old->backend_id == value->backend_id && old->service_id == value->service_id)
		return;
	bpf_map_update_elem(&bpfp_aff_v1, key, value, BPF_ANY);
}

/*
 * One more connection to the frontend |service_id|. The map is per CPU, so
 * the increment needs no atomic; a new key races only with the same key
 * being created on another CPU, and then the count lands in that entry.
 */
static __always_inline void lb_count_connection(__u32 service_id)
{
	struct lb_stats_key key = {};
	struct lb_stats_value one = { .connections = 1 };
	struct lb_stats_value *value;

	key.service_id = service_id;
	key.view = LB_VIEW_SOCKET;
	value = bpf_map_lookup_elem(&bpfp_stat_v1, &key);
	if (value) {
		value->connections++;
		return;
	}
	if (bpf_map_update_elem(&bpfp_stat_v1, &key, &one, BPF_NOEXIST) == 0)
		return;
	value = bpf_map_lookup_elem(&bpfp_stat_v1, &key);
	if (value)
		value->connections++;
}

static __always_inline void lb_record_revnat(const struct lb_sock_key *key, const struct lb_revnat_value *value)
{
	struct lb_revnat_value *old = bpf_map_lookup_elem(&bpfp_rnat_v1, key);

	if (old && old->port == value->port && old->vip.u32[0] == value->vip.u32[0] &&
	    old->vip.u32[1] == value->vip.u32[1] && old->vip.u32[2] == value->vip.u32[2] &&
	    old->vip.u32[3] == value->vip.u32[3])
		return;
	bpf_map_update_elem(&bpfp_rnat_v1, key, value, BPF_ANY);
}

/*
 * Core of connect/sendmsg: if (addr, port) is a Service, replaces them with a
 * backend's and records how to translate back.
 * Returns 0 when translated, -ENXIO when the destination is no Service,
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
		lb_count_connection(choice.service_id);
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
