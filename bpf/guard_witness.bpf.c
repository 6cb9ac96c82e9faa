// SPDX-License-Identifier: GPL-2.0
/*
 * guard_witness: what the guard's attack tests watch. A raw tracepoint program
 * counts execve()s in counts[0]; an fentry program (a BPF trampoline, what
 * kernel.ftrace_enabled=0 disarms) counts vfs_unlink() calls in counts[1].
 * vfs_unlink exists under that name in every kernel of the VM matrix (6.1 to 7.x);
 * the program reads no argument, so its prototype (idmap or user namespace
 * first) does not matter.
 */
#include "core_types.h"
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void bump(__u32 key)
{
	__u64 *cnt = bpf_map_lookup_elem(&counts, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
}

SEC("raw_tp/sched_process_exec")
int raw_exec(void *ctx)
{
	bump(0);
	return 0;
}

SEC("fentry/vfs_unlink")
int BPF_PROG(fentry_unlink)
{
	bump(1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
