// SPDX-License-Identifier: GPL-2.0
/*
 * many_maps: 65 maps and one program using the last one. libbpf's gen_loader (the fast path)
 * makes at most 64 maps, so `sign` must sign it as version 1 and say so in words ("more than
 * 64 maps"), not with the errno libbpf's generator ends up with. The libbpf path loads it.
 */
#include "core_types.h"

#define MAP(n)                                                                                 \
	struct {                                                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                              \
		__uint(max_entries, 1);                                                        \
		__type(key, __u32);                                                            \
		__type(value, __u64);                                                          \
	} m##n SEC(".maps");
#define MAP8(n) MAP(n##0) MAP(n##1) MAP(n##2) MAP(n##3) MAP(n##4) MAP(n##5) MAP(n##6) MAP(n##7)

MAP8(0) MAP8(1) MAP8(2) MAP8(3) MAP8(4) MAP8(5) MAP8(6) MAP8(7)
MAP(80)

SEC("raw_tp/sched_process_fork")
int many_maps_fork(void *ctx)
{
	__u32 key = 0;
	__u64 *cnt = bpf_map_lookup_elem(&m80, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
