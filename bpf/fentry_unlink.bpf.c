// SPDX-License-Identifier: GPL-2.0
/*
 * fentry_unlink: counts calls to do_unlinkat() in unlink_count[0].
 * Needs fentry support (x86_64, CONFIG_DEBUG_INFO_BTF, trampolines);
 * Debian 6.1 / 6.12 kernels are fine.
 */
#include "core_types.h"
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} unlink_count SEC(".maps");

SEC("fentry/do_unlinkat")
int BPF_PROG(count_unlink, int dfd, struct filename *name)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&unlink_count, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
