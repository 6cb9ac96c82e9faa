// SPDX-License-Identifier: GPL-2.0
/*
 * rejected: compiles fine, but the kernel verifier MUST reject it.
 *
 * bpf_map_lookup_elem() returns PTR_TO_MAP_VALUE_OR_NULL.  We dereference the
 * result without a NULL check, so the verifier fails with
 *   "R0 invalid mem access 'map_value_or_null'"
 * Used to test that the loader reports verifier failures properly.
 *
 * The map is a HASH on purpose: since Linux 6.14 the verifier knows that an
 * ARRAY lookup with a constant in-bounds key can never return NULL, so the
 * same bug on an ARRAY map is *accepted* by new kernels.  A HASH lookup can
 * always return NULL, so this is rejected on every kernel.
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bad_count SEC(".maps");

SEC("raw_tp/sched_process_exec")
int bad_prog(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&bad_count, &key);

	/* BUG (on purpose): no `if (!cnt) return 0;` here. */
	*cnt += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
