// SPDX-License-Identifier: GPL-2.0
/*
 * kprobe_unlink: counts entries to and returns from vfs_unlink() in
 * unlink_probes[0] (kprobe) and unlink_probes[1] (kretprobe). Needs kprobes
 * (Debian's kernels have them; the development host has none).
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} unlink_probes SEC(".maps");

static __always_inline void bump(__u32 key)
{
	__u64 *cnt = bpf_map_lookup_elem(&unlink_probes, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
}

SEC("kprobe/vfs_unlink")
int unlink_entry(void *ctx)
{
	bump(0);
	return 0;
}

SEC("kretprobe/vfs_unlink")
int unlink_return(void *ctx)
{
	bump(1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
