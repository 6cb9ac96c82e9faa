// SPDX-License-Identifier: GPL-2.0
/*
 * raw_tp_colon: a raw tracepoint section named like the kernel selftest test_rdonly_maps.c
 * (`raw_tracepoint/sys_enter:skip_loop`; that test attaches by hand to "sys_enter"). libbpf's
 * auto-attach passes everything after the '/' to BPF_RAW_TRACEPOINT_OPEN, and the kernel has
 * no raw tracepoint of that name: the libbpf path loads the program and fails its attach
 * (ENOENT). The fast-path descriptor only takes [A-Za-z0-9_]+ raw tracepoint names, so `sign`
 * must sign it as version 1; both paths then fail it alike.
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} skip_count SEC(".maps");

SEC("raw_tracepoint/sys_enter:skip_loop")
int skip_loop(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&skip_count, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
