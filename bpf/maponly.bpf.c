// SPDX-License-Identifier: GPL-2.0
/*
 * maponly: an object with no programs at all, only maps.
 *
 * User maps: config (HASH u32->u64, 16 entries) and stats (ARRAY).
 * It also has a `volatile const` global (-> internal map "maponly.rodata")
 * and a zero-initialised global (-> internal map "maponly.bss").  The loader
 * must create but never pin these internal maps (their names contain '.').
 */
#include "core_types.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* .rodata */
volatile const __u32 maponly_version = 1;

/* .bss */
__u64 maponly_scratch;

char LICENSE[] SEC("license") = "GPL";
