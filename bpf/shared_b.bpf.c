// SPDX-License-Identifier: GPL-2.0
/*
 * shared_b: increments shared_events[1] on every fork, and shared_events[2]
 * whenever it observes shared_events[0] (written by shared_a) as non-zero.
 * shared_events is pinned by name and shared with shared_a.bpf.o.
 */
#include "core_types.h"
#include "shared_events.h"

SEC("tracepoint/sched/sched_process_fork")
int shared_b_fork(void *ctx)
{
	__u32 k_exec = 0, k_fork = 1, k_seen = 2;
	__u64 *exec_v, *v;

	v = bpf_map_lookup_elem(&shared_events, &k_fork);
	if (v)
		__sync_fetch_and_add(v, 1);

	exec_v = bpf_map_lookup_elem(&shared_events, &k_exec);
	if (exec_v && *exec_v) {
		v = bpf_map_lookup_elem(&shared_events, &k_seen);
		if (v)
			__sync_fetch_and_add(v, 1);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
