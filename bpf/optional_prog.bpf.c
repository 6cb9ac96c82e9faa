// SPDX-License-Identifier: GPL-2.0
/*
 * optional_prog: one normal program (count_fork) and one program that is
 * NOT auto-loaded (SEC("?...") => libbpf sets autoload=false).  A loader
 * that honours libbpf semantics must load/pin count_fork and skip
 * never_loaded entirely.
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} fork_count SEC(".maps");

SEC("raw_tp/sched_process_fork")
int count_fork(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&fork_count, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return 0;
}

SEC("?raw_tp/sched_process_exit")
int never_loaded(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&fork_count, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1000000);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
