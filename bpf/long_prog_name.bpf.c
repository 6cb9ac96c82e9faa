// SPDX-License-Identifier: GPL-2.0
/*
 * long_prog_name: a program whose name (its ELF symbol, 129 bytes) is longer than the 128
 * bytes a fast-path descriptor may carry. `sign` must sign it as version 1 ("program name
 * longer than 128 bytes"); the libbpf path loads and pins it (pin names may be 255 bytes).
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} long_prog_count SEC(".maps");

/* 129 characters: 8 x 16 + 1. */
SEC("raw_tp/sched_process_fork")
int p123456789abcdefp123456789abcdefp123456789abcdefp123456789abcdefp123456789abcdefp123456789abcdefp123456789abcdefp123456789abcdefX(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&long_prog_count, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
