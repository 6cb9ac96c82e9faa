// SPDX-License-Identifier: GPL-2.0
/*
 * kprobe_multi_unlink: counts entries to and returns from vfs_unlink() in
 * multi_probes[0] and multi_probes[1], through kprobe.multi links (fprobe).
 * Kernels without CONFIG_FPROBE (Debian's 6.1) refuse the attach with
 * EOPNOTSUPP: the object then fails alone.
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} multi_probes SEC(".maps");

static __always_inline void bump(__u32 key)
{
	__u64 *cnt = bpf_map_lookup_elem(&multi_probes, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
}

SEC("kprobe.multi/vfs_unlink")
int multi_entry(void *ctx)
{
	bump(0);
	return 0;
}

SEC("kretprobe.multi/vfs_unlink")
int multi_return(void *ctx)
{
	bump(1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
