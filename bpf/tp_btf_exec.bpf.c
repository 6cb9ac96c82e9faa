// SPDX-License-Identifier: GPL-2.0
/*
 * tp_btf_exec: counts execve()s in exec_seen[0] from the BTF-typed tracepoint
 * sched_process_exec (a BPF_PROG_TYPE_TRACING program attached by BTF id, as
 * fentry and lsm programs are, but one the development host can load).
 */
#include "core_types.h"
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} exec_seen SEC(".maps");

SEC("tp_btf/sched_process_exec")
int BPF_PROG(seen_exec, struct task_struct *p, int old_pid)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&exec_seen, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
