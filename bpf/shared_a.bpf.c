// SPDX-License-Identifier: GPL-2.0
/*
 * shared_a: increments shared_events[0] on every exec.
 * shared_events is pinned by name and shared with shared_b.bpf.o.
 */
#include "core_types.h"
#include "shared_events.h"

SEC("raw_tp/sched_process_exec")
int shared_a_exec(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&shared_events, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
