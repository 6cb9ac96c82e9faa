// SPDX-License-Identifier: GPL-2.0
/*
 * optional_weak_kfunc: optional_kfunc with the kfunc declared __weak, as libbpf asks for a
 * kfunc that may be missing (guarded by bpf_ksym_exists()). libbpf leaves a weak extern it
 * cannot find unresolved, so the object loads on both paths and keeps its fast path.
 */
#include "core_types.h"

/* libbpf >= 1.2's bpf_helpers.h has it; Debian 12's libbpf-dev (1.1), which `make -C bpf`
 * compiles against, does not. The same test: a weak extern left unresolved is 0. */
#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym) (!!(sym))
#endif

extern void bpf_no_such_kfunc(void) __ksym __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} weak_kfunc_count SEC(".maps");

SEC("?raw_tp/sched_process_fork")
int calls_weak_kfunc(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&weak_kfunc_count, &key);

	if (bpf_ksym_exists(bpf_no_such_kfunc))
		bpf_no_such_kfunc();
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
