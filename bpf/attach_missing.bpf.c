// SPDX-License-Identifier: GPL-2.0
/*
 * attach_missing: loads (the verifier accepts it) but cannot attach: the
 * tracepoint does not exist, which is only found out at attach time. Unlike
 * attach_fails it has no pin-by-name map, so it converts to the fast path:
 * both paths must fail it the same way, leaving nothing pinned.
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} missing_hits SEC(".maps");

SEC("tracepoint/bpf_preload_test/no_such_event")
int on_missing_event(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&missing_hits, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
