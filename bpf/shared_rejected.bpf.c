// SPDX-License-Identifier: GPL-2.0
/*
 * shared_rejected: declares a pin-by-name map, then fails in the verifier.
 *
 * libbpf creates and pins `shared_orphan` in the shared directory before it
 * loads the program; when the verifier rejects the program, nothing named
 * `shared_orphan` may remain there. Tests check that.
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_orphan SEC(".maps");

SEC("raw_tp/sched_process_exec")
int orphan_prog(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&shared_orphan, &key);

	/* BUG (on purpose): HASH lookup result used without a NULL check. */
	*cnt += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
