// SPDX-License-Identifier: GPL-2.0
/*
 * optional_kfunc: its only program is not auto-loaded (SEC("?...")) and calls a kfunc no
 * kernel has. libbpf resolves every strong __ksym extern of the object at load, whichever
 * program uses it, and fails the whole object ("extern (func ksym) 'bpf_no_such_kfunc': not
 * found in kernel or module BTFs"); libbpf's gen_loader only looks up the kfuncs of the
 * programs it loads, so a light skeleton would load the maps. `sign` must sign it as version
 * 1, so that both paths fail it alike.
 */
#include "core_types.h"

extern void bpf_no_such_kfunc(void) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} kfunc_count SEC(".maps");

SEC("?raw_tp/sched_process_fork")
int calls_missing_kfunc(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&kfunc_count, &key);

	bpf_no_such_kfunc();
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
