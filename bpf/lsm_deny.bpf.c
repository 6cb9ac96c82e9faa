// SPDX-License-Identifier: GPL-2.0
/*
 * lsm_deny: harmless BPF LSM example (needs CONFIG_BPF_LSM and "bpf" in the
 * active LSM list, e.g. lsm=...,bpf on the kernel command line; Debian 6.1 /
 * 6.12 kernels).
 *
 * deny_marker_mkdir (lsm/path_mkdir) refuses to create directories whose
 * name starts with "bpf-preload-deny" and counts refusals in denied[0].
 * Every other mkdir is untouched (the previous LSM verdict `ret` is passed
 * through).
 *
 * Observable from init once loaded and attached:
 *     mkdir /tmp/bpf-preload-deny-test   -> fails with EPERM
 *     mkdir /tmp/anything-else           -> works
 */
#include "core_types.h"
#include <bpf/bpf_tracing.h>

#define DENY_PREFIX "bpf-preload-deny"
#define DENY_PREFIX_LEN (sizeof(DENY_PREFIX) - 1)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} denied SEC(".maps");

SEC("lsm/path_mkdir")
int BPF_PROG(deny_marker_mkdir, const struct path *dir, struct dentry *dentry,
	     umode_t mode, int ret)
{
	char name[DENY_PREFIX_LEN + 1] = {};
	const unsigned char *np;
	__u32 key = 0;
	__u64 *cnt;
	int i;

	/* Respect an earlier denial by another LSM / BPF program. */
	if (ret != 0)
		return ret;

	np = BPF_CORE_READ(dentry, d_name.name);
	if (bpf_probe_read_kernel_str(name, sizeof(name), np) <= 0)
		return 0;

	/* Fully unrolled: compares against immediates, no .rodata needed. */
#pragma unroll
	for (i = 0; i < DENY_PREFIX_LEN; i++) {
		if (name[i] != DENY_PREFIX[i])
			return 0;
	}

	cnt = bpf_map_lookup_elem(&denied, &key);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return -EPERM;
}

char LICENSE[] SEC("license") = "GPL";
