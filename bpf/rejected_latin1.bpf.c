// SPDX-License-Identifier: GPL-2.0
/*
 * rejected_latin1: like rejected.bpf.c, rejected by the verifier on every kernel, but the source
 * line the verifier quotes (from BTF line info) carries a Latin-1 byte (0xe9), which is not UTF-8.
 * libbpf prints that line in its log: the loader must report the failure, not crash on it, and
 * load the objects listed after this one.
 *
 * This file is deliberately NOT UTF-8 (see the comment on the faulting line).
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} latin1_count SEC(".maps");

SEC("raw_tp/sched_process_exec")
int latin1_prog(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&latin1_count, &key);

	*cnt += 1; /* café: no NULL check, on purpose */
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
