/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal hand-declared kernel types for CO-RE.
 *
 * We deliberately do not use a generated vmlinux.h.  Every struct here is
 * marked preserve_access_index, so clang emits CO-RE relocations for each
 * field access and libbpf resolves the real offsets against the running
 * kernel's BTF (/sys/kernel/btf/vmlinux) at load time.  Only the fields we
 * actually touch are declared; their order/offsets here are irrelevant.
 */
#ifndef BPF_PRELOAD_CORE_TYPES_H
#define BPF_PRELOAD_CORE_TYPES_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

#ifndef EPERM
#define EPERM 1
#endif

typedef unsigned short umode_t;

struct task_struct {
	int pid;
	int tgid;
	char comm[TASK_COMM_LEN];
	struct task_struct *real_parent;
	unsigned int flags;
} __attribute__((preserve_access_index));

struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
	struct qstr d_name;
} __attribute__((preserve_access_index));

struct vfsmount;

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct filename {
	const char *name;
} __attribute__((preserve_access_index));

/* Iterator context types (kernel-internal, not in uapi linux/bpf.h). */
struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));

struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

#endif /* BPF_PRELOAD_CORE_TYPES_H */
