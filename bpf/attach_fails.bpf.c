// SPDX-License-Identifier: GPL-2.0
/*
 * attach_fails: loads (the verifier accepts it) but cannot attach: the
 * tracepoint does not exist, which libbpf only finds out at attach time.
 *
 * It also declares a pin-by-name map, so the test can check that an object
 * failing after load leaves no map it created in the shared directory, and
 * no directory of its own.
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} attach_orphan SEC(".maps");

SEC("tracepoint/bpf_preload_test/no_such_event")
int never_attached(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&attach_orphan, &key);

	if (cnt)
		*cnt += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
