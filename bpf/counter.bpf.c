// SPDX-License-Identifier: GPL-2.0
/*
 * counter: counts execve()s system-wide.
 * Program count_exec on tracepoint/sched/sched_process_exec increments
 * exec_count[0] and stores the exec'ing task's tgid (CO-RE read) in
 * last_pid[0].
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} exec_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} last_pid SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int count_exec(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt;
	__u32 *pidp;
	struct task_struct *task;

	cnt = bpf_map_lookup_elem(&exec_count, &key);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);

	task = (struct task_struct *)bpf_get_current_task();
	pidp = bpf_map_lookup_elem(&last_pid, &key);
	if (pidp)
		*pidp = BPF_CORE_READ(task, tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
