// SPDX-License-Identifier: GPL-2.0
/*
 * long_map_name: a map whose name (129 bytes) is longer than the 128 bytes a fast-path
 * descriptor may carry. `sign` must sign it as version 1 ("map name longer than 128 bytes");
 * the libbpf path loads and pins it.
 */
#include "core_types.h"

/* 129 characters: 8 x 16 + 1. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} m123456789abcdefm123456789abcdefm123456789abcdefm123456789abcdefm123456789abcdefm123456789abcdefm123456789abcdefm123456789abcdefX SEC(".maps");

char LICENSE[] SEC("license") = "GPL";
