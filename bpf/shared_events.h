/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Definition of the map shared between shared_a.bpf.o and shared_b.bpf.o.
 * Both objects include this header so the definitions are byte-identical;
 * LIBBPF_PIN_BY_NAME makes libbpf pin it at <pin_root>/shared_events and
 * reuse the existing pin when the second object is loaded.
 *
 *   key 0: number of execs  (incremented by shared_a)
 *   key 1: number of forks  (incremented by shared_b)
 *   key 2: number of times shared_b saw key 0 non-zero (proves sharing)
 *   key 3: unused
 */
#ifndef BPF_PRELOAD_SHARED_EVENTS_H
#define BPF_PRELOAD_SHARED_EVENTS_H

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_events SEC(".maps");

#endif
