// SPDX-License-Identifier: GPL-2.0
/*
 * guard: built into bpf-preload (no bundle signature: it is part of the binary).
 *
 * Once the loader has armed it, these BPF LSM programs refuse, for every process
 * (root included), what would undo the preload:
 *   - unlink, rmdir, rename out of / into, link, setattr (chmod/chown/utimes) of
 *     a protected directory of the protected bpffs instance (object directories,
 *     +shared, +guard) or anything in it, and any write into such a directory or
 *     one below it (inode_permission: creating, linking or renaming into it);
 *     their inode numbers are in prot_ino; the instance is its superblock;
 *   - umount of the protected mount; once sealed, any unmount, in any mount
 *     namespace, that would take the instance or a mount above it away from the
 *     real root, directly or by propagation (the whole tree unmounted is walked;
 *     fs/pnode.c runs no hook for what it propagates); remount of the instance;
 *     mounting over it, over a protected directory or over the path that leads to
 *     it down from its parent's mountpoint (/sys/fs/bpf, /sys/fs, /sys), from any
 *     mount whose mounts propagate there;
 *   - once PID 1 has exec'd the real root's init (the seal), MS_MOVE in that
 *     mount namespace (sb_mount sees the source as a string only) and
 *     move_mount of a tree holding the instance or an ancestor;
 *   - BPF_LINK_DETACH / BPF_LINK_UPDATE of a protected link (prot_links: ids of
 *     the preloaded objects' links and the guard's), reached by pin or id, and
 *     from a task whose fd table is shared any fd-numbered command while that
 *     table holds a protected link or program; protected links and programs
 *     never enter a shared table (BPF_OBJ_GET, *_GET_FD_BY_ID, fd passing);
 *   - any fd to the guard's own maps, except read-only fds of guard_info and
 *     prot_links;
 *   - signed-only mode: programs the kernel did not verify against the
 *     loader's keyring get no kernel reads (CAP_PERFMON/CAP_SYS_ADMIN refused in
 *     their bpf() call), and that keyring can be neither written nor freed;
 *   - opening for writing the switches that disarm every trampoline or kprobe:
 *     kernel.ftrace_enabled (recognised by its sysctl table entry, through any
 *     procfs mount) and kprobes/enabled (by its debugfs inode, through any
 *     debugfs mount); both are recorded from the loader's own stat before arming;
 *   - BPF_PROG_LOAD of programs that can skip or replace LSM hooks: fmod_ret on a
 *     security_* or bpf_lsm_* function (hook_funcs: BTF ids, frozen), BPF LSM
 *     programs on the hooks whose callers let a positive return through
 *     (bpf, bpf_map, bpf_prog: always for BPF_LSM_CGROUP, and for BPF_LSM_MAC where
 *     this kernel's verifier lets them return positive values), and any tracing or
 *     extension program aimed at a protected program (prot_progs: the guard's and
 *     the preloaded objects'), at load or by BPF_LINK_CREATE.
 *
 * Kernel types are declared by hand (preserve_access_index: CO-RE relocations);
 * no vmlinux.h. inode_setattr gained an idmap argument (6.1: 2 arguments, 6.12:
 * 3): two variants; the loader keeps the one matching the kernel's BTF prototype.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define EPERM 1
#define BPF_FS_MAGIC 0xcafe4a11
#define SYSFS_MAGIC 0x62656572
#define PROC_SUPER_MAGIC 0x9fa0
#define DEBUGFS_MAGIC 0x64626720
#define FMODE_WRITE 0x2
#define MS_REMOUNT 32
#define MS_BIND 4096
#define MS_MOVE 8192
#define MS_UNBINDABLE (1 << 17)
#define MS_PRIVATE (1 << 18)
#define MS_SLAVE (1 << 19)
#define MS_SHARED (1 << 20)
#define MS_PROPAGATION (MS_SHARED | MS_SLAVE | MS_UNBINDABLE | MS_PRIVATE)

/* Depth bounds of the walks (bpffs/NAME/links/pin is 3 deep); mounts above the instance and
 * masters of a slave followed. */
#define MAX_CHAIN 6
#define MAX_MASTERS 8
#define MAX_DENTRY_DEPTH 8
#define MAX_COVER_DEPTH 16

struct super_block {
	unsigned int s_dev; /* dev_t */
	unsigned long s_magic;
	struct dentry *s_root;
} __attribute__((preserve_access_index));

struct inode {
	unsigned short i_mode; /* umode_t */
	unsigned long i_ino;
	struct super_block *i_sb;
	const void *i_op;   /* struct inode_operations *: tells a bpffs link pin from others */
	void *i_private;    /* bpffs: the pinned object */
} __attribute__((preserve_access_index));

struct dentry {
	struct dentry *d_parent;
	struct inode *d_inode;
	struct super_block *d_sb;
} __attribute__((preserve_access_index));

struct vfsmount {
	struct dentry *mnt_root;
	struct super_block *mnt_sb;
} __attribute__((preserve_access_index));

struct list_head {
	struct list_head *next;
} __attribute__((preserve_access_index));

struct mnt_namespace;

struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
	struct list_head mnt_mounts; /* children */
	struct list_head mnt_child;  /* in the parent's mnt_mounts */
	struct mnt_namespace *mnt_ns;
	struct mount *mnt_master;    /* a slave's master (a mount of the master peer group) */
	int mnt_group_id;            /* peer group (0: not shared) */
} __attribute__((preserve_access_index));

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct fs_struct {
	struct path root;
} __attribute__((preserve_access_index));

struct nsproxy {
	struct mnt_namespace *mnt_ns;
} __attribute__((preserve_access_index));

struct file {
	void *private_data;
	struct inode *f_inode;
	unsigned int f_mode; /* fmode_t */
	const void *f_op;    /* struct file_operations *: tells a link or program fd from others */
} __attribute__((preserve_access_index));

struct ctl_table;

/* fs/proc/internal.h: a sysctl file's inode carries its table entry. */
struct proc_inode {
	const struct ctl_table *sysctl_entry;
	struct inode vfs_inode;
} __attribute__((preserve_access_index));

struct bpf_prog;

struct bpf_prog_aux {
	__u32 id;
	struct bpf_prog *prog; /* back pointer: tells a program from other fds */
} __attribute__((preserve_access_index));

struct pt_regs {
	unsigned long di;      /* x86_64: the system call's first argument */
	unsigned long orig_ax; /* x86_64: the system call being made */
} __attribute__((preserve_access_index));

struct bpf_prog {
	struct bpf_prog_aux *aux;
} __attribute__((preserve_access_index));

/* 7.x: the kernel's verdict on a BPF_PROG_LOAD signature and the keyring it checked against
 * (kernel/bpf/syscall.c bpf_prog_verify_signature, before security_bpf_prog_load). Read only
 * where bpf_core_field_exists says the kernel has it. */
struct bpf_prog_sig___guard {
	__s32 keyring_serial;
	__u8 keyring_type;
	__u8 verdict;
};

struct bpf_prog_aux___sig {
	struct bpf_prog_sig___guard sig;
} __attribute__((preserve_access_index));

#define SIG_VERIFIED 1 /* enum bpf_sig_verdict BPF_SIG_VERIFIED */
struct bpf_token;

struct key {
	__s32 serial;
} __attribute__((preserve_access_index));
struct cred;
#define KEY_NEED_WRITE 3   /* enum key_need_perm */
#define KEY_NEED_SETATTR 6

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

typedef struct {
	int counter;
} atomic_t;

struct files_struct {
	atomic_t count; /* tasks sharing this table (CLONE_FILES: threads, io_uring workers) */
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct task_struct {
	struct fs_struct *fs;
	struct files_struct *files;
	struct nsproxy *nsproxy;
} __attribute__((preserve_access_index));

struct bpf_link {
	__u32 id;
} __attribute__((preserve_access_index));

struct bpf_map;
struct iattr;
struct linux_binprm;
struct mnt_idmap;

/* Set by the loader before load (frozen .rodata). */
const volatile __u32 prot_dev = 0;   /* kernel dev_t of the protected instance */
const volatile __u32 loader_tgid = 0; /* the loader, for recording the mount */
/* The verifier of this kernel lets BPF_LSM_MAC programs return positive values (6.1): a
 * later program on the bpf hooks returning 1 would skip ours (probed by the loader). */
const volatile __u32 lsm_positive_ok = 0;
/* Signed-only mode: the serial of the loader's sealed keyring (0: off), and of root's user
 * keyring, the one link that keeps it alive once the loader is gone. */
const volatile __s32 signed_keyring = 0;
const volatile __s32 signed_parent = 0;

/* What the loader's next stat points at, before arming (guard_cfg.recording). */
enum recording {
	REC_MOUNT = 0,      /* stat of <bpffs>/+shared: the mount, the superblock, that inode */
	REC_FTRACE = 1,     /* stat of /proc/sys/kernel/ftrace_enabled: its sysctl entry */
	REC_KPROBES = 2,    /* stat of <debugfs>/kprobes/enabled: its inode */
	REC_LINK_PIN = 3,   /* stat of a link pin: bpffs's inode operations of links */
	REC_LINK_FD = 4,    /* BPF_OBJ_GET_INFO_BY_FD of a link fd: the file operations of links */
	REC_PROG_FD = 5,    /* BPF_OBJ_GET_INFO_BY_FD of a program fd: those of programs */
};

/* guard_info.recorded bits: what the loader's recordings reached */
#define RD_MOUNT 1
#define RD_LINK_PIN 2
#define RD_LINK_FD 4
#define RD_PROG_FD 8

/* hook_funcs values */
#define HF_HOOK 1      /* a security_* or bpf_lsm_* function: no fmod_ret */
#define HF_POSITIVE 2  /* bpf_lsm_bpf, _bpf_map, _bpf_prog: callers let positive returns pass */

struct guard_cfg {
	__u32 armed;
	__u32 recording;
};

struct guard_state {
	__u64 prot_mnt;  /* struct vfsmount * of the protected mount */
	__u64 init_root; /* struct vfsmount * of the loader's root (initramfs) */
	__u64 sealed_ns; /* struct mnt_namespace * sealed at the real init's exec */
	__u32 sealed;
	__u32 anchored; /* at the seal: 1 the recorded mount, 2 re-anchored on a copy, 0 lost */
	__u64 ftrace_entry; /* const struct ctl_table * of kernel.ftrace_enabled */
	__u64 kprobes_inode; /* struct inode * of debugfs kprobes/enabled */
	__u64 chain_m[MAX_CHAIN];  /* struct mount *: the protected mount, then its parents */
	__u64 chain_mp[MAX_CHAIN]; /* struct dentry *: where each is mounted */
	__u32 chain_n;
	__u32 chain_pad;
	__u64 prot_sbp;   /* struct super_block * of the protected instance */
	__u64 link_iops;  /* bpffs's struct inode_operations * of a pinned link */
	__u64 link_fops;  /* struct file_operations * of a link fd */
	__u64 prog_fops;  /* struct file_operations * of a program fd */
};

/* What was refused last (guard_info.last_what); names in builtin/guard.rs REFUSALS. */
enum refusal {
	R_UNLINK = 1, R_RMDIR, R_RENAME, R_LINK, R_SETATTR, R_CREATE, R_MKDIR, R_SYMLINK,
	R_UMOUNT, R_REMOUNT, R_MOVE, R_MOUNT, R_LINK_DETACH, R_MAP_FD,
	R_FTRACE_OFF, R_KPROBES_OFF, R_HOOK_PROG, R_PROG_ATTACH, R_UNSIGNED_PROG, R_KEYRING,
	R_SHARED_FD, R_KERNEL_READ, R_DIR_WRITE,
};

/* guard_info.switches: which switches the loader's stat recorded */
#define SW_FTRACE 1
#define SW_KPROBES 2

/* Readable (read-only fd) by `bpf-preload status`: a mirror, never trusted here. */
struct guard_info {
	__u32 sealed;
	__u32 recorded;
	__u64 refused;
	__u32 last_what;
	__u32 last_pid;
	char last_comm[16];
	__u32 anchored; /* as guard_state.anchored */
	__u32 switches; /* SW_* recorded */
	__u64 inst_ino; /* inode number of the instance's +shared (a fresh bpffs cannot have it) */
	__u32 inst_dev; /* its s_dev */
	__s32 keyring; /* signed-only: the serial of the keyring it trusts (0: mode off) */
};

/* Written by the loader, then frozen; no program may write them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, __u32);
	__type(value, struct guard_cfg);
} guard_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, __u64);
	__type(value, __u8);
} prot_ino SEC(".maps");

/* link id -> the id of the program it ran when armed (read-only fds: bpf-preload status) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, __u32);
	__type(value, __u32);
} prot_links SEC(".maps");

/* BTF ids (vmlinux) of security_* and bpf_lsm_* functions: HF_* flags. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, __u32);
	__type(value, __u8);
} hook_funcs SEC(".maps");

/* Ids of the guard's programs and the preloaded objects' programs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, __u32);
	__type(value, __u8);
} prot_progs SEC(".maps");

/* Written by these programs only (frozen for the syscall side). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct guard_state);
} guard_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct guard_info);
} guard_info SEC(".maps");

/* Signed-only mode: this task is inside a BPF_PROG_LOAD of a program the kernel did not verify
 * against the loader's keyring (set by guard_prog_load, cleared at its next bpf() and when the
 * load hands out its fd). While set, capable(CAP_PERFMON / CAP_SYS_ADMIN) is refused in that
 * bpf() call: the verifier then gives the program no kernel reads. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} unsigned_load SEC(".maps");

static __always_inline struct guard_cfg *cfg(void)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&guard_cfg, &k);
}

static __always_inline int armed(void)
{
	struct guard_cfg *c = cfg();

	return c && c->armed;
}

static __always_inline struct guard_state *state(void)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&guard_state, &k);
}

static __always_inline int deny(enum refusal what)
{
	__u32 k = 0;
	struct guard_info *i = bpf_map_lookup_elem(&guard_info, &k);

	if (i) {
		__sync_fetch_and_add(&i->refused, 1);
		i->last_what = what;
		i->last_pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(i->last_comm, sizeof(i->last_comm));
	}
	return -EPERM;
}

/* The instance by its device number, as the loader's stat gave it: only to find it when the
 * loader records it (an anonymous device number is recycled by the next fresh bpffs). */
static __always_inline int dev_sb(struct super_block *sb)
{
	return sb && BPF_CORE_READ(sb, s_magic) == BPF_FS_MAGIC &&
	       BPF_CORE_READ(sb, s_dev) == prot_dev;
}

/* The protected instance: the superblock the loader's stat showed the guard. */
static __always_inline int prot_sb(struct super_block *sb)
{
	__u32 k = 0;
	struct guard_state *s = bpf_map_lookup_elem(&guard_state, &k);

	return sb && s && s->prot_sbp && (__u64)sb == s->prot_sbp;
}

/* d itself or one of its ancestors is a protected directory of the instance. */
static __always_inline int prot_dentry(struct dentry *d)
{
	struct dentry *p;
	struct inode *ino;
	__u64 i;
	int n;

	if (!d || !prot_sb(BPF_CORE_READ(d, d_sb)))
		return 0;
	for (n = 0; n < MAX_DENTRY_DEPTH; n++) {
		ino = BPF_CORE_READ(d, d_inode);
		if (ino) {
			i = BPF_CORE_READ(ino, i_ino);
			if (bpf_map_lookup_elem(&prot_ino, &i))
				return 1;
		}
		p = BPF_CORE_READ(d, d_parent);
		if (!p || p == d)
			return 0;
		d = p;
	}
	/* Deeper than MAX_DENTRY_DEPTH: not ours. Protected directories are top-level and
	 * hold at most 3 levels (NAME/links/pin), and nothing can be created in them once
	 * armed; a deep tree of other software beside them must stay usable. */
	return 0;
}

/* A hook argument (a trusted BTF pointer to the verifier) as the plain number a global function
 * takes: read back through memory. */
static __always_inline __u64 as_scalar(const void *p)
{
	const void *tmp = p;
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), &tmp);
	return v;
}

static __always_inline struct mount *real_mount(__u64 vfsmnt)
{
	return (struct mount *)(vfsmnt - bpf_core_field_offset(struct mount, mnt));
}

static __always_inline __u64 vfsmnt_of(struct mount *m)
{
	return (__u64)m + bpf_core_field_offset(struct mount, mnt);
}

/*
 * The helpers below that walk mounts are global functions (scalar arguments, verified once
 * each, not once per call site): the verifier's time is most of the guard's load time.
 */

/* The chain, in guard_state: the protected mount chain_m[0] and the mounts above it in its
 * namespace, chain_m[k+1] the parent of chain_m[k], mounted at chain_mp[k] (a dentry of
 * chain_m[k+1]). /sys/fs/bpf: the instance, sysfs, /. Set when the mount is recorded and again
 * at the seal (re-anchored); mounts above the instance cannot move once sealed. */
static __always_inline void set_chain(struct guard_state *s)
{
	struct mount *m, *p;
	int k;

	s->chain_n = 0;
	if (!s->prot_mnt)
		return;
	m = real_mount(s->prot_mnt);
	for (k = 0; k < MAX_CHAIN; k++) {
		s->chain_m[k] = (__u64)m;
		s->chain_mp[k] = 0;
		s->chain_n = k + 1;
		p = BPF_CORE_READ(m, mnt_parent);
		if (!p || p == m)
			break; /* the root of its namespace */
		s->chain_mp[k] = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		m = p;
	}
}

/*
 * A mount or an unmount made on a child of p is also made on the child of r at the same place:
 * p is r, or p is shared (fs/pnode.c propagation_next) and r is one of its peers or a slave of
 * its peer group, directly or through other slaves. A chain of masters deeper than we look
 * counts as reaching.
 */
__noinline int g_reaches(__u64 pa, __u64 ra)
{
	struct mount *p = (struct mount *)pa, *r = (struct mount *)ra;
	int g, n;

	if (pa == ra)
		return 1;
	if (!pa)
		return 0;
	g = BPF_CORE_READ(p, mnt_group_id);
	if (!g)
		return 0;
	for (n = 0; n < MAX_MASTERS; n++) {
		if (!r)
			return 0;
		if (BPF_CORE_READ(r, mnt_group_id) == g)
			return 1;
		r = BPF_CORE_READ(r, mnt_master);
	}
	return r != 0;
}

/* Removing mount cm from its parent would remove a mount of the chain, here or by propagation:
 * its parent reaches chain_m[k+1] and it sits where chain_m[k] does. */
__noinline int g_hits_chain(__u64 cma)
{
	struct mount *cm = (struct mount *)cma, *p;
	struct guard_state *s = state();
	__u64 mp;
	__u32 k;

	if (!s || !cma)
		return 0;
	p = BPF_CORE_READ(cm, mnt_parent);
	if (!p || p == cm)
		return 0;
	mp = (__u64)BPF_CORE_READ(cm, mnt_mountpoint);
	for (k = 0; k + 1 < MAX_CHAIN; k++) {
		if (k + 1 >= s->chain_n)
			break;
		if (mp == s->chain_mp[k] && g_reaches((__u64)p, s->chain_m[k + 1]))
			return 1;
	}
	return 0;
}

/* Walk of the mounts below (and including) the one being unmounted, in fs/namespace.c
 * next_mnt() order, one mount per bpf_loop step. */
#define MAX_SUBTREE 8192
struct walk {
	struct mount *root;
	struct mount *cur;
	int hit;
	int done;
};

/* g_walk_up: the tree is deeper than we look (never a mount's address). */
#define WALK_DEEP 1

/*
 * Where the walk goes once mount m and everything below it are done: the next sibling of m, or
 * of its nearest ancestor below root that has one. 0: the walk is done; WALK_DEEP: more than
 * MAX_COVER_DEPTH levels up (fail closed). A global function: its loop is verified once, not
 * at every step of the walk's callback.
 */
__noinline __u64 g_walk_up(__u64 ma, __u64 roota)
{
	__u64 off_child = bpf_core_field_offset(struct mount, mnt_child);
	__u64 off_mounts = bpf_core_field_offset(struct mount, mnt_mounts);
	struct mount *m = (struct mount *)ma, *p;
	struct list_head *head, *next;
	int d;

	for (d = 0; d < MAX_COVER_DEPTH; d++) {
		if ((__u64)m == roota)
			return 0;
		p = BPF_CORE_READ(m, mnt_parent);
		if (!p || p == m)
			return 0;
		next = BPF_CORE_READ(m, mnt_child.next);
		head = (struct list_head *)((__u64)p + off_mounts);
		if (next && next != head)
			return (__u64)next - off_child;
		m = p;
	}
	return WALK_DEEP;
}

static long walk_step(__u64 i, void *ctx)
{
	struct walk *w = ctx;
	__u64 off_child = bpf_core_field_offset(struct mount, mnt_child);
	__u64 off_mounts = bpf_core_field_offset(struct mount, mnt_mounts);
	struct mount *m = w->cur;
	struct list_head *head, *next;
	__u64 up;

	if (!m) {
		w->done = 1;
		return 1;
	}
	if (g_hits_chain((__u64)m)) {
		w->hit = 1;
		return 1;
	}
	head = (struct list_head *)((__u64)m + off_mounts);
	next = BPF_CORE_READ(head, next);
	if (next && next != head) {
		w->cur = (struct mount *)((__u64)next - off_child);
		return 0;
	}
	up = g_walk_up((__u64)m, (__u64)w->root);
	if (up == WALK_DEEP) {
		w->hit = 1;
		return 1;
	}
	if (!up) {
		w->done = 1;
		return 1;
	}
	w->cur = (struct mount *)up;
	return 0;
}

/*
 * Unmounting vfsmnt (with MNT_DETACH: with everything below it) would remove a mount of the
 * chain, in this namespace or, by propagation, in the protected one, from whichever mount
 * namespace it is done. A tree larger than we walk counts as reaching.
 */
__noinline int g_umount_reaches(__u64 vfsmnt)
{
	struct guard_state *s = state();
	struct walk w = {};

	if (!s || !s->chain_n || !vfsmnt)
		return 0;
	w.root = real_mount(vfsmnt);
	w.cur = w.root;
	bpf_loop(MAX_SUBTREE, walk_step, &w, 0);
	return w.hit || !w.done;
}

/* dentry d is top or lies below it, at most MAX_DENTRY_DEPTH levels down. */
__noinline int g_dentry_within(__u64 da, __u64 top)
{
	struct dentry *d = (struct dentry *)da, *up;
	int n;

	for (n = 0; n < MAX_DENTRY_DEPTH; n++) {
		if ((__u64)d == top)
			return 1;
		if (!d)
			return 0;
		up = BPF_CORE_READ(d, d_parent);
		if (!up || up == d)
			return 0;
		d = up;
	}
	return 0;
}

__noinline int g_prot_dentry(__u64 d)
{
	return prot_dentry((struct dentry *)d);
}

/*
 * Mounting on (mnt, d) would hide the protected instance, here or by propagation from whichever
 * mount namespace it is done: mnt is a mount of the chain, or reaches one, and d is the
 * instance's root or a protected directory in it, or lies on the way down to the next mount of
 * the chain (/sys/fs/bpf, /sys/fs, /sys). The root of the namespace's root mount is not on that
 * way (a mount over / hides nothing from the processes whose root it is).
 */
__noinline int g_covers(__u64 mnt /* struct vfsmount * */, __u64 d)
{
	struct guard_state *s = state();
	__u64 t, ck, root, x;
	__u32 k;

	if (!s || !mnt || !s->chain_n)
		return 0;
	t = (__u64)real_mount(mnt);
	for (k = 0; k < MAX_CHAIN; k++) {
		if (k >= s->chain_n)
			break;
		ck = s->chain_m[k];
		if (!g_reaches(t, ck))
			continue;
		root = (__u64)BPF_CORE_READ((struct mount *)ck, mnt.mnt_root);
		if (k == 0) {
			if (d == root || g_prot_dentry(d))
				return 1;
			continue;
		}
		x = s->chain_mp[k - 1];
		if (!x || (k + 1 == s->chain_n && d == root))
			continue;
		if (g_dentry_within(x, d))
			return 1;
	}
	return 0;
}

static __always_inline int in_sealed_ns(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	struct guard_state *s = state();

	return s && s->sealed && (__u64)BPF_CORE_READ(t, nsproxy, mnt_ns) == s->sealed_ns;
}

/* ---- the protected directories ---------------------------------------- */

SEC("lsm/inode_unlink")
int BPF_PROG(guard_unlink, struct inode *dir, struct dentry *dentry)
{
	return armed() && prot_dentry(dentry) ? deny(R_UNLINK) : 0;
}

SEC("lsm/inode_rmdir")
int BPF_PROG(guard_rmdir, struct inode *dir, struct dentry *dentry)
{
	return armed() && prot_dentry(dentry) ? deny(R_RMDIR) : 0;
}

SEC("lsm/inode_rename")
int BPF_PROG(guard_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry)
{
	if (!armed())
		return 0;
	return prot_dentry(old_dentry) || prot_dentry(new_dentry) ? deny(R_RENAME) : 0;
}

SEC("lsm/inode_link")
int BPF_PROG(guard_link, struct dentry *old_dentry, struct inode *dir, struct dentry *new_dentry)
{
	if (!armed())
		return 0;
	return prot_dentry(old_dentry) || prot_dentry(new_dentry) ? deny(R_LINK) : 0;
}

/* 6.1: (dentry, attr) */
SEC("lsm/inode_setattr")
int BPF_PROG(guard_setattr2, struct dentry *dentry, struct iattr *attr)
{
	return armed() && prot_dentry(dentry) ? deny(R_SETATTR) : 0;
}

/* 6.3+: (idmap, dentry, attr) */
SEC("lsm/inode_setattr")
int BPF_PROG(guard_setattr3, struct mnt_idmap *idmap, struct dentry *dentry, struct iattr *attr)
{
	return armed() && prot_dentry(dentry) ? deny(R_SETATTR) : 0;
}

/* Creating in a protected directory (create, mkdir, symlink, mknod, a pin's vfs_mkobj, a hard
 * link or a rename into it, at any depth) is refused by guard_permission: every one of them
 * asks the kernel for write permission on the directory first (fs/namei.c may_create). */

/* ---- the mount ---------------------------------------------------------- */

/*
 * The instance's own mount: always. Once sealed, every unmount that would take a mount of the
 * chain with it, in the real root or by propagation from any other mount namespace (a copy whose
 * parent is a peer of /sys, a bind of /sys left shared: fs/pnode.c propagate_umount runs no
 * hook for the mounts it removes). Before the seal the initramfs is trusted, and switch_root
 * needs it: systemd >= 256 copies /sys into the new root (MS_BIND|MS_REC) and lazily unmounts
 * the old root, original mounts included.
 */
SEC("lsm/sb_umount")
int BPF_PROG(guard_umount, struct vfsmount *mnt, int flags)
{
	struct guard_state *s = state();

	if (!armed() || !s)
		return 0;
	if ((__u64)mnt == s->prot_mnt)
		return deny(R_UMOUNT);
	return s->sealed && g_umount_reaches(as_scalar(mnt)) ? deny(R_UMOUNT) : 0;
}

SEC("lsm/sb_remount")
int BPF_PROG(guard_remount, struct super_block *sb, void *opts)
{
	return armed() && prot_sb(sb) ? deny(R_REMOUNT) : 0;
}

SEC("lsm/sb_mount")
int BPF_PROG(guard_mount, const char *dev_name, const struct path *path, const char *type,
	     unsigned long flags, void *data)
{
	struct guard_state *s = state();
	__u64 mnt;

	if (!armed() || !s)
		return 0;
	mnt = (__u64)BPF_CORE_READ(path, mnt);
	if (flags & MS_REMOUNT)
		/* of the instance's mount (plain or bind remount); others pass */
		return mnt == s->prot_mnt ? deny(R_REMOUNT) : 0;
	if ((flags & MS_PROPAGATION) && !(flags & (MS_BIND | MS_MOVE)))
		return 0; /* propagation-only changes (systemd's rshared /) */
	if (flags & MS_MOVE) {
		/* the source is only a string here; the kernel itself never moves a mount out of a
		 * shared parent (do_move_mount), so a move takes nothing away by propagation: its
		 * target, once sealed, must not hide the instance */
		if (in_sealed_ns())
			return deny(R_MOVE);
		return s->sealed && g_covers(mnt, (__u64)BPF_CORE_READ(path, dentry)) ? deny(R_MOUNT)
									      : 0;
	}
	return g_covers(mnt, (__u64)BPF_CORE_READ(path, dentry)) ? deny(R_MOUNT) : 0;
}

SEC("lsm/move_mount")
int BPF_PROG(guard_move_mount, const struct path *from_path, const struct path *to_path)
{
	struct guard_state *s = state();

	if (!armed() || !s)
		return 0;
	if (g_covers((__u64)BPF_CORE_READ(to_path, mnt), (__u64)BPF_CORE_READ(to_path, dentry)))
		return deny(R_MOUNT);
	/* moving a mount detaches it (and what is below it) from its place, like an unmount */
	if (s->sealed && g_umount_reaches((__u64)BPF_CORE_READ(from_path, mnt)))
		return deny(R_MOVE);
	return 0;
}

/* The sysctl table entry of a procfs inode (NULL: not a sysctl file). */
static __always_inline __u64 sysctl_entry_of(struct inode *ino)
{
	struct proc_inode *pi;

	if (!ino || BPF_CORE_READ(ino, i_sb, s_magic) != PROC_SUPER_MAGIC)
		return 0;
	pi = (struct proc_inode *)((__u64)ino - bpf_core_field_offset(struct proc_inode, vfs_inode));
	return (__u64)BPF_CORE_READ(pi, sysctl_entry);
}

/*
 * The loader's own stats, before arming, show the guard what to protect: the bpffs root tells
 * which mount it used (REC_MOUNT); /proc/sys/kernel/ftrace_enabled the sysctl table entry
 * (REC_FTRACE); <debugfs>/kprobes/enabled the inode (REC_KPROBES). From then on the guard
 * recognises them by what they are, whatever path or mount reaches them.
 */
SEC("lsm/inode_getattr")
int BPF_PROG(guard_getattr, const struct path *path)
{
	struct task_struct *t;
	struct guard_state *s;
	struct guard_info *i;
	struct guard_cfg *c;
	struct dentry *d;
	struct inode *ino;
	__u64 entry;
	__u32 k = 0;

	if ((bpf_get_current_pid_tgid() >> 32) != loader_tgid)
		return 0;
	c = cfg();
	s = state();
	i = bpf_map_lookup_elem(&guard_info, &k);
	if (!c || c->armed || !s || !i)
		return 0;
	d = BPF_CORE_READ(path, dentry);
	ino = BPF_CORE_READ(d, d_inode);
	if (c->recording == REC_FTRACE) {
		entry = sysctl_entry_of(ino);
		if (entry) {
			s->ftrace_entry = entry;
			i->switches |= SW_FTRACE;
		}
		return 0;
	}
	if (c->recording == REC_KPROBES) {
		if (ino && BPF_CORE_READ(ino, i_sb, s_magic) == DEBUGFS_MAGIC) {
			s->kprobes_inode = (__u64)ino;
			i->switches |= SW_KPROBES;
		}
		return 0;
	}
	if (c->recording == REC_LINK_PIN) {
		if (ino && prot_sb(BPF_CORE_READ(d, d_sb)) && BPF_CORE_READ(ino, i_private)) {
			s->link_iops = (__u64)BPF_CORE_READ(ino, i_op);
			i->recorded |= RD_LINK_PIN;
		}
		return 0;
	}
	/* REC_MOUNT: the loader's stat of <bpffs>/+shared, a directory right below the root: its
	 * mount, its superblock, and its inode number (get_next_ino: no other bpffs has it; every
	 * bpffs root is inode 1) for `bpf-preload status` to tell this instance from a fresh one */
	if (c->recording != REC_MOUNT || !dev_sb(BPF_CORE_READ(d, d_sb)) ||
	    BPF_CORE_READ(d, d_parent) != BPF_CORE_READ(d, d_sb, s_root) || !ino)
		return 0;
	t = (struct task_struct *)bpf_get_current_task_btf();
	s->prot_sbp = (__u64)BPF_CORE_READ(d, d_sb);
	s->prot_mnt = (__u64)BPF_CORE_READ(path, mnt);
	s->init_root = (__u64)BPF_CORE_READ(t, fs, root.mnt);
	set_chain(s);
	i->inst_ino = BPF_CORE_READ(ino, i_ino);
	i->inst_dev = prot_dev;
	i->keyring = signed_keyring;
	i->recorded |= RD_MOUNT;
	return 0;
}

/*
 * The switches: opening kernel.ftrace_enabled (through any procfs mount, sysctl(8) included) or
 * kprobes/enabled (through any debugfs mount) for writing. Reading stays possible.
 */
SEC("lsm/file_open")
int BPF_PROG(guard_file_open, struct file *file)
{
	struct guard_state *s;
	struct inode *ino;

	if (!armed() || !(BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
		return 0;
	s = state();
	if (!s)
		return 0;
	ino = BPF_CORE_READ(file, f_inode);
	if (!ino)
		return 0;
	if (s->kprobes_inode && (__u64)ino == s->kprobes_inode)
		return deny(R_KPROBES_OFF);
	if (s->ftrace_entry && sysctl_entry_of(ino) == s->ftrace_entry)
		return deny(R_FTRACE_OFF);
	return 0;
}

/* A mount of the protected instance among the children of (sysfs) mount c; 0: none. */
__noinline __u64 g_instance_child(__u64 ca)
{
	__u64 off = bpf_core_field_offset(struct mount, mnt_child);
	struct guard_state *s = state();
	struct list_head *head, *pos;
	struct mount *c2;
	__u64 sbp;
	int j;

	/* prot_sb(), its lookup made once rather than once per child */
	sbp = s ? s->prot_sbp : 0;
	if (!sbp)
		return 0;
	head = (struct list_head *)(ca + bpf_core_field_offset(struct mount, mnt_mounts));
	pos = BPF_CORE_READ(head, next);
	for (j = 0; j < 48 && pos && pos != head; j++) {
		c2 = (struct mount *)((__u64)pos - off);
		if ((__u64)BPF_CORE_READ(c2, mnt.mnt_sb) == sbp)
			return vfsmnt_of(c2);
		pos = BPF_CORE_READ(pos, next);
	}
	return 0;
}

/*
 * A mount of the protected instance below PID 1's root, two levels down (/ -> sysfs at /sys ->
 * the instance): the copy a switch_root by MS_BIND|MS_REC put into the real root. 0: none.
 */
__noinline __u64 g_find_copy(__u64 roota)
{
	__u64 off = bpf_core_field_offset(struct mount, mnt_child);
	struct list_head *head, *pos;
	struct mount *c;
	__u64 found;
	int i;

	head = (struct list_head *)(roota + bpf_core_field_offset(struct mount, mnt_mounts));
	pos = BPF_CORE_READ(head, next);
	for (i = 0; i < 24 && pos && pos != head; i++) {
		c = (struct mount *)((__u64)pos - off);
		if (BPF_CORE_READ(c, mnt.mnt_sb, s_magic) == SYSFS_MAGIC) {
			found = g_instance_child((__u64)c);
			if (found)
				return found;
		}
		pos = BPF_CORE_READ(pos, next);
	}
	return 0;
}

/* The seal: PID 1 exec'd something outside the loader's root (the real init). */
SEC("lsm/bprm_committed_creds")
int BPF_PROG(guard_seal, struct linux_binprm *bprm)
{
	struct task_struct *t;
	struct mount *pm;
	__u64 copy, root;
	struct guard_state *s;
	struct guard_info *i;
	__u32 k = 0;

	if ((bpf_get_current_pid_tgid() >> 32) != 1 || !armed())
		return 0;
	s = state();
	if (!s || s->sealed)
		return 0;
	t = (struct task_struct *)bpf_get_current_task_btf();
	if ((__u64)BPF_CORE_READ(t, fs, root.mnt) == s->init_root)
		return 0;
	s->sealed_ns = (__u64)BPF_CORE_READ(t, nsproxy, mnt_ns);
	/* Is the recorded mount still in this namespace, or did switch_root copy /sys? */
	pm = real_mount(s->prot_mnt);
	if ((__u64)BPF_CORE_READ(pm, mnt_ns) == s->sealed_ns) {
		s->anchored = 1;
	} else {
		root = (__u64)BPF_CORE_READ(t, fs, root.mnt);
		copy = g_find_copy((__u64)real_mount(root));
		if (copy) {
			s->prot_mnt = copy;
			s->anchored = 2;
		} else {
			s->anchored = 0;
		}
	}
	set_chain(s);
	s->sealed = 1;
	i = bpf_map_lookup_elem(&guard_info, &k);
	if (i) {
		i->anchored = s->anchored;
		i->sealed = 1;
	}
	return 0;
}

/* ---- links and the guard's maps ---------------------------------------- */

/* The file behind fd in the current task (NULL: none). */
static __always_inline struct file *file_of_fd(int fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds, *f = 0;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return 0;
	return f;
}

/* A link or program file, told by its file operations (recorded from the loader's own fds
 * before arming), that is a protected link or program. */
static __always_inline int prot_link_file(struct guard_state *s, struct file *f)
{
	struct bpf_link *l;
	__u32 id;

	if (!f || !s->link_fops || (__u64)BPF_CORE_READ(f, f_op) != s->link_fops)
		return 0;
	l = BPF_CORE_READ(f, private_data);
	if (!l)
		return 0;
	id = BPF_CORE_READ(l, id);
	return bpf_map_lookup_elem(&prot_links, &id) != 0;
}

static __always_inline int prot_prog_ptr(struct bpf_prog *p)
{
	__u32 id;

	/* only a program's aux points back at it */
	if (!p || BPF_CORE_READ(p, aux, prog) != p)
		return 0;
	id = BPF_CORE_READ(p, aux, id);
	return id && bpf_map_lookup_elem(&prot_progs, &id) != 0;
}

static __always_inline int prot_prog_file(struct guard_state *s, struct file *f)
{
	if (!f || !s->prog_fops || (__u64)BPF_CORE_READ(f, f_op) != s->prog_fops)
		return 0;
	return prot_prog_ptr(BPF_CORE_READ(f, private_data));
}

static __always_inline int prot_link_fd(struct guard_state *s, int fd)
{
	return prot_link_file(s, file_of_fd(fd));
}

static __always_inline int prot_prog_fd(struct guard_state *s, int fd)
{
	return prot_prog_file(s, file_of_fd(fd));
}

/*
 * An fd number names the object the hook looked at only while no other task can change the
 * table between the hook and the kernel's own lookup: other threads, io_uring's workers and
 * anything else with CLONE_FILES share it (files_struct.count). A shared table never gains a
 * protected link or program (BPF_OBJ_GET, *_GET_FD_BY_ID and fd passing are refused into it),
 * so one that holds none now cannot be made to hold one before the kernel looks.
 */
static __always_inline int files_shared(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();

	return BPF_CORE_READ(t, files, count.counter) > 1;
}

#define MAX_FDS_SCAN (1 << 16)
struct fd_scan {
	struct guard_state *s;
	struct file **fds;
	__u32 max;
	int found;
};

static long fd_scan_step(__u64 i, void *ctx)
{
	struct fd_scan *sc = ctx;
	struct file *f = 0;

	if (i >= sc->max)
		return 1;
	if (bpf_probe_read_kernel(&f, sizeof(f), &sc->fds[i]) || !f)
		return 0;
	if (prot_link_file(sc->s, f) || prot_prog_file(sc->s, f)) {
		sc->found = 1;
		return 1;
	}
	return 0;
}

/* The current task's table holds a protected link or program (or is too large to look at). */
__noinline int g_table_holds_protected(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct fd_scan sc = {};

	sc.s = state();
	if (!fdt || !sc.s)
		return 0;
	sc.max = BPF_CORE_READ(fdt, max_fds);
	sc.fds = BPF_CORE_READ(fdt, fd);
	if (sc.max > MAX_FDS_SCAN)
		return 1;
	bpf_loop(MAX_FDS_SCAN, fd_scan_step, &sc, 0);
	return sc.found;
}

/* A command that names a link or program by fd number: decided from the number while the table
 * is the caller's own; in a shared table, refused while it holds anything protected. */
static __always_inline int fd_names_protected(struct guard_state *s, int fd, int prog)
{
	if (files_shared() && g_table_holds_protected())
		return 1;
	return prog ? prot_prog_fd(s, fd) : prot_link_fd(s, fd);
}

/* HF_* flags of a vmlinux function by BTF id (0: none). Module BTF ids continue after
 * vmlinux's, so they never match. */
static __always_inline __u8 hook_func(__u32 btf_id)
{
	__u8 *f = bpf_map_lookup_elem(&hook_funcs, &btf_id);

	return f ? *f : 0;
}

/*
 * A program that could skip or replace LSM hooks, the guard's included: the kernel lets fmod_ret
 * attach to every security_* function, and their callers of the bpf hooks only treat negative
 * values as refusals, so a program returning 1 there skips every LSM. Decided from the load's
 * own attributes (the kernel's copy: no race with the caller).
 */
static __always_inline int hook_prog_load(struct guard_state *s, union bpf_attr *attr)
{
	__u32 type = BPF_CORE_READ(attr, prog_type);
	__u32 eat = BPF_CORE_READ(attr, expected_attach_type);
	__u32 btf_id = BPF_CORE_READ(attr, attach_btf_id);
	int target = BPF_CORE_READ(attr, attach_prog_fd);

	if ((type == BPF_PROG_TYPE_TRACING || type == BPF_PROG_TYPE_EXT) && target &&
	    fd_names_protected(s, target, 1))
		return deny(R_PROG_ATTACH);
	if (type == BPF_PROG_TYPE_TRACING && eat == BPF_MODIFY_RETURN &&
	    (hook_func(btf_id) & HF_HOOK))
		return deny(R_HOOK_PROG);
	if (type == BPF_PROG_TYPE_LSM && (hook_func(btf_id) & HF_POSITIVE) &&
	    (eat == BPF_LSM_CGROUP || lsm_positive_ok))
		return deny(R_HOOK_PROG);
	return 0;
}

/* The loader's BPF_OBJ_GET_INFO_BY_FD of its own link and program fds, before arming: the
 * kernel's file operations of each kind (guard_cfg.recording REC_LINK_FD, REC_PROG_FD). */
static __always_inline void record_fops(int cmd, union bpf_attr *attr)
{
	struct guard_cfg *c = cfg();
	struct guard_state *s = state();
	struct guard_info *i;
	struct file *f;
	__u32 k = 0;

	if (cmd != BPF_OBJ_GET_INFO_BY_FD || !c || c->armed || !s ||
	    (bpf_get_current_pid_tgid() >> 32) != loader_tgid)
		return;
	if (c->recording != REC_LINK_FD && c->recording != REC_PROG_FD)
		return;
	f = file_of_fd(BPF_CORE_READ(attr, info.bpf_fd));
	i = bpf_map_lookup_elem(&guard_info, &k);
	if (!f || !i)
		return;
	if (c->recording == REC_LINK_FD) {
		s->link_fops = (__u64)BPF_CORE_READ(f, f_op);
		i->recorded |= RD_LINK_FD;
	} else {
		s->prog_fops = (__u64)BPF_CORE_READ(f, f_op);
		i->recorded |= RD_PROG_FD;
	}
}

SEC("lsm/bpf")
int BPF_PROG(guard_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
	struct guard_state *s;
	int fd;

	if (signed_keyring)
		/* a new bpf() call: no unsigned load of this task is under way any more */
		bpf_task_storage_delete(&unsigned_load, bpf_get_current_task_btf());
	if (!armed()) {
		record_fops(cmd, attr);
		return 0;
	}
	s = state();
	if (!s)
		return 0;
	switch (cmd) {
	case BPF_PROG_LOAD:
		return hook_prog_load(s, attr);
	case BPF_LINK_CREATE:
		/* an extension re-targeted at a protected program (target_fd + target_btf_id) */
		if (BPF_CORE_READ(attr, link_create.target_btf_id) &&
		    fd_names_protected(s, BPF_CORE_READ(attr, link_create.target_fd), 1))
			return deny(R_PROG_ATTACH);
		return 0;
	case BPF_LINK_GET_FD_BY_ID: {
		/* no protected link enters a shared table (the kernel's copy of the id: no race) */
		__u32 id = BPF_CORE_READ(attr, link_id);

		return files_shared() && bpf_map_lookup_elem(&prot_links, &id) ? deny(R_SHARED_FD) : 0;
	}
	case BPF_LINK_DETACH:
		fd = BPF_CORE_READ(attr, link_detach.link_fd);
		break;
	case BPF_LINK_UPDATE:
		fd = BPF_CORE_READ(attr, link_update.link_fd);
		break;
	default:
		return 0;
	}
	return fd_names_protected(s, fd, 0) ? deny(R_LINK_DETACH) : 0;
}

/* Every new fd of a program (BPF_OBJ_GET of a pin, BPF_PROG_GET_FD_BY_ID, a load's own): no
 * protected program enters a shared table. Once the load of an unsigned program is done, its
 * task's capabilities are its own again (signed-only mode). */
SEC("lsm/bpf_prog")
int BPF_PROG(guard_bpf_prog, struct bpf_prog *prog)
{
	if (signed_keyring)
		bpf_task_storage_delete(&unsigned_load, bpf_get_current_task_btf());
	if (!armed())
		return 0;
	return files_shared() && prot_prog_ptr(prog) ? deny(R_SHARED_FD) : 0;
}

/*
 * Write permission on a directory of the instance that the loader recorded as protected (an
 * object's directory and every directory below it, +shared, +guard): refused. The kernel asks
 * for it before every change of a directory's entries (fs/namei.c may_create, may_delete:
 * create, mkdir, symlink, mknod, link, rename, unlink, rmdir, a pin's vfs_mkobj), whichever
 * mount, mount namespace or system call (io_uring's too) reaches the directory: the inode is
 * the instance's own. Entries at the instance's root are guarded by their own hooks above.
 *
 * BPF_OBJ_GET of a pinned link checks the pin's permission (MAY_READ | MAY_WRITE: links are
 * opened read-write only): no protected link enters a shared table by its pin, wherever it is
 * pinned. Every other inode_permission returns at the first tests.
 */
#define MAY_WRITE 2
#define S_IFMT 00170000
#define S_IFDIR 0040000
SEC("lsm/inode_permission")
int BPF_PROG(guard_permission, struct inode *inode, int mask)
{
	struct guard_state *s;
	struct bpf_link *l;
	__u64 ino;
	__u32 id;

	if (!(mask & MAY_WRITE) || !armed())
		return 0;
	s = state();
	if (!s)
		return 0;
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) == S_IFDIR) {
		if (!s->prot_sbp || (__u64)BPF_CORE_READ(inode, i_sb) != s->prot_sbp)
			return 0;
		ino = BPF_CORE_READ(inode, i_ino);
		return bpf_map_lookup_elem(&prot_ino, &ino) ? deny(R_DIR_WRITE) : 0;
	}
	if (!s->link_iops || (__u64)BPF_CORE_READ(inode, i_op) != s->link_iops)
		return 0;
	l = BPF_CORE_READ(inode, i_private);
	if (!l)
		return 0;
	id = BPF_CORE_READ(l, id);
	if (!bpf_map_lookup_elem(&prot_links, &id))
		return 0;
	return files_shared() ? deny(R_SHARED_FD) : 0;
}

/* fd passing (SCM_RIGHTS, pidfd_getfd, seccomp's addfd, io_uring's fixed-fd install): no
 * protected link or program enters a shared table. */
SEC("lsm/file_receive")
int BPF_PROG(guard_file_receive, struct file *file)
{
	struct guard_state *s;

	if (!armed())
		return 0;
	s = state();
	if (!s || !files_shared())
		return 0;
	return prot_link_file(s, file) || prot_prog_file(s, file) ? deny(R_SHARED_FD) : 0;
}

SEC("lsm/bpf_map")
int BPF_PROG(guard_bpf_map, struct bpf_map *map, unsigned int fmode)
{
	if (!armed())
		return 0;
	if (map == (struct bpf_map *)&guard_cfg || map == (struct bpf_map *)&prot_ino ||
	    map == (struct bpf_map *)&guard_state || map == (struct bpf_map *)&hook_funcs ||
	    map == (struct bpf_map *)&prot_progs || map == (struct bpf_map *)&unsigned_load)
		return deny(R_MAP_FD);
	/* readable by `bpf-preload status`: what the guard holds, not a copy */
	if ((map == (struct bpf_map *)&guard_info || map == (struct bpf_map *)&prot_links) &&
	    (fmode & FMODE_WRITE))
		return deny(R_MAP_FD);
	return 0;
}

/*
 * Signed-only mode (7.x, loaded only when asked for). Once sealed, a program type that can
 * observe or change the kernel loads only when the kernel itself verified its signature
 * against the loader's sealed keyring: the kernel's verdict and keyring serial in prog->aux,
 * never the caller's keyring_id. Loads made by a verified light-skeleton loader (a syscall
 * program: kernel == true) are its own programs; an unverified syscall program never loads.
 */
SEC("lsm/bpf_prog_load")
int BPF_PROG(guard_prog_load, struct bpf_prog *prog, union bpf_attr *attr,
	     struct bpf_token *token, _Bool kernel)
{
	struct guard_state *s;
	struct bpf_prog_aux___sig *aux;
	__u32 type;

	if (!signed_keyring || !armed() || kernel)
		return 0;
	s = state();
	if (!s || !s->sealed)
		return 0;
	if (bpf_core_field_exists(((struct bpf_prog_aux___sig *)0)->sig)) {
		aux = (struct bpf_prog_aux___sig *)BPF_CORE_READ(prog, aux);
		/* the keyring the kernel checked is the loader's: by serial, which the kernel
		 * gives another key only once that keyring object is freed, and guard_key_permission
		 * keeps it from ever being freed */
		if (BPF_CORE_READ(aux, sig.verdict) == SIG_VERIFIED &&
		    BPF_CORE_READ(aux, sig.keyring_serial) == signed_keyring)
			return 0;
	}
	type = BPF_CORE_READ(attr, prog_type);
	switch (type) {
	case BPF_PROG_TYPE_KPROBE:
	case BPF_PROG_TYPE_TRACEPOINT:
	case BPF_PROG_TYPE_PERF_EVENT:
	case BPF_PROG_TYPE_RAW_TRACEPOINT:
	case BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE:
	case BPF_PROG_TYPE_TRACING:
	case BPF_PROG_TYPE_STRUCT_OPS:
	case BPF_PROG_TYPE_EXT:
	case BPF_PROG_TYPE_LSM:
	case BPF_PROG_TYPE_SYSCALL:
		break;
	default: {
		/* Unsigned socket, cgroup, XDP, tc ... programs still load, without kernel reads:
		 * in this bpf() call CAP_PERFMON and CAP_SYS_ADMIN are refused (guard_capable), so
		 * the verifier gives them no bpf_probe_read_kernel, bpf_get_current_task, BTF
		 * pointer walks or %pks (kernel/bpf/helpers.c bpf_base_func_proto, verifier.c
		 * allow_ptr_leaks). Fail closed if the mark cannot be made. */
		__u32 *v = bpf_task_storage_get(&unsigned_load, bpf_get_current_task_btf(), 0,
						BPF_LOCAL_STORAGE_GET_F_CREATE);

		if (!v)
			return deny(R_KERNEL_READ);
		*v = 1;
		return 0;
	}
	}
	return deny(R_UNSIGNED_PROG);
}

#define CAP_SYS_ADMIN 21
#define CAP_PERFMON 38
#define NR_BPF 321 /* x86_64 */

/*
 * Signed-only mode: while the current task is inside the bpf() call that loads an unverified
 * program (marked by guard_prog_load), the capabilities that let the verifier give a program
 * kernel reads are refused to it. Checked against the system call being made, so a mark left
 * by a load the verifier refused never outlives that call.
 */
SEC("lsm/capable")
int BPF_PROG(guard_capable, const struct cred *cred, void *ns, int cap, unsigned int opts)
{
	struct task_struct *t;
	struct pt_regs *regs;
	__u32 *v;

	if (!signed_keyring || (cap != CAP_PERFMON && cap != CAP_SYS_ADMIN))
		return 0;
	t = bpf_get_current_task_btf();
	v = bpf_task_storage_get(&unsigned_load, t, 0, 0);
	if (!v || !*v)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(t);
	if (!regs || BPF_CORE_READ(regs, orig_ax) != NR_BPF)
		return 0;
	return -EPERM;
}

#define NR_KEYCTL 250        /* x86_64 */
#define KEYCTL_INVALIDATE 21
#define KEY_NEED_SEARCH 4  /* enum key_need_perm */

/*
 * Signed-only mode: the loader's keyring stays as the loader closed it, and alive. The guard
 * trusts it by serial (prog->aux->sig.keyring_serial), and the kernel hands a serial to a new
 * key only once the old one is freed: so it must never be freed. Refused for every process:
 * writing to it (add, link, unlink, clear, revoke) and changing its attributes (permissions,
 * owner, restriction, timeout), on top of the kernel's keyring restriction; the same for root's
 * user keyring, whose link keeps it alive (unlink, clear, move); and invalidating either
 * (KEYCTL_INVALIDATE needs only the search permission the kernel's signature check needs too:
 * told apart by the system call being made). Searching stays possible.
 */
SEC("lsm/key_permission")
int BPF_PROG(guard_key_permission, unsigned long key_ref, const struct cred *cred,
	     unsigned int need_perm)
{
	struct pt_regs *regs;
	struct key *key;
	__s32 serial;

	if (!signed_keyring || !armed())
		return 0;
	key = (struct key *)(key_ref & ~1UL); /* bit 0: the possession flag of a key_ref_t */
	serial = BPF_CORE_READ(key, serial);
	if (serial != signed_keyring && (!signed_parent || serial != signed_parent))
		return 0;
	if (need_perm == KEY_NEED_WRITE || need_perm == KEY_NEED_SETATTR)
		return deny(R_KEYRING);
	if (need_perm != KEY_NEED_SEARCH)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (regs && BPF_CORE_READ(regs, orig_ax) == NR_KEYCTL &&
	    BPF_CORE_READ(regs, di) == KEYCTL_INVALIDATE)
		return deny(R_KEYRING);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
