// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_pass: XDP program that passes every packet and counts it in
 * pkt_count[0].  It loads anywhere, but libbpf cannot auto-attach an XDP
 * program (it needs an ifindex), so a loader must only load/pin it.
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pkt_count SEC(".maps");

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&pkt_count, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
