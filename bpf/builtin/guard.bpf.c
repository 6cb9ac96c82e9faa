// SPDX-License-Identifier: GPL-2.0
/*
 * guard: built into bpf-preload (no bundle signature: it is part of the binary).
 *
 * Once the loader has armed it, these BPF LSM programs refuse, for every process
 * (root included), what would undo the preload:
 *   - unlink, rmdir, rename out of / into, link, setattr (chmod/chown/utimes) and
 *     creating anything inside a protected directory of the protected bpffs
 *     instance (object directories, +shared, +guard: their inode numbers are in
 *     prot_ino; the instance is recognised by s_dev + BPF_FS_MAGIC);
 *   - umount of the protected mount or of any mount above it; remount of the
 *     instance; mounting over it, over a protected directory or over the path
 *     that leads to it down from its parent's mountpoint (/sys/fs/bpf, /sys/fs,
 *     /sys);
 *   - once PID 1 has exec'd the real root's init (the seal), MS_MOVE in that
 *     mount namespace (sb_mount sees the source as a string only) and
 *     move_mount of the instance or an ancestor;
 *   - BPF_LINK_DETACH / BPF_LINK_UPDATE of a protected link (prot_links: ids of
 *     the preloaded objects' links and the guard's), reached by pin or id;
 *   - any fd to the guard's own maps, except a read-only fd of guard_info.
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
#define FMODE_WRITE 0x2
#define MS_REMOUNT 32
#define MS_BIND 4096
#define MS_MOVE 8192
#define MS_UNBINDABLE (1 << 17)
#define MS_PRIVATE (1 << 18)
#define MS_SLAVE (1 << 19)
#define MS_SHARED (1 << 20)
#define MS_PROPAGATION (MS_SHARED | MS_SLAVE | MS_UNBINDABLE | MS_PRIVATE)

/* Depth bounds of the walks (bpffs/NAME/links/pin is 3 deep). */
#define MAX_DENTRY_DEPTH 8
#define MAX_COVER_DEPTH 16

struct super_block {
	unsigned int s_dev; /* dev_t */
	unsigned long s_magic;
	struct dentry *s_root;
} __attribute__((preserve_access_index));

struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
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
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
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

struct guard_cfg {
	__u32 armed;
};

struct guard_state {
	__u64 prot_mnt;  /* struct vfsmount * of the protected mount */
	__u64 init_root; /* struct vfsmount * of the loader's root (initramfs) */
	__u64 sealed_ns; /* struct mnt_namespace * sealed at the real init's exec */
	__u32 sealed;
	__u32 anchored; /* at the seal: 1 the recorded mount, 2 re-anchored on a copy, 0 lost */
};

/* What was refused last (guard_info.last_what); names in builtin/guard.rs REFUSALS. */
enum refusal {
	R_UNLINK = 1, R_RMDIR, R_RENAME, R_LINK, R_SETATTR, R_CREATE, R_MKDIR, R_SYMLINK,
	R_UMOUNT, R_REMOUNT, R_MOVE, R_MOUNT, R_LINK_DETACH, R_MAP_FD,
};

/* Readable (read-only fd) by `bpf-preload status`: a mirror, never trusted here. */
struct guard_info {
	__u32 sealed;
	__u32 recorded;
	__u64 refused;
	__u32 last_what;
	__u32 last_pid;
	char last_comm[16];
	__u32 anchored; /* as guard_state.anchored */
	__u32 pad;
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
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, __u64);
	__type(value, __u8);
} prot_ino SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_RDONLY_PROG);
	__type(key, __u32);
	__type(value, __u8);
} prot_links SEC(".maps");

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

static __always_inline int armed(void)
{
	__u32 k = 0;
	struct guard_cfg *c = bpf_map_lookup_elem(&guard_cfg, &k);

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

static __always_inline int prot_sb(struct super_block *sb)
{
	return sb && BPF_CORE_READ(sb, s_magic) == BPF_FS_MAGIC &&
	       BPF_CORE_READ(sb, s_dev) == prot_dev;
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

static __always_inline struct mount *real_mount(__u64 vfsmnt)
{
	return (struct mount *)(vfsmnt - bpf_core_field_offset(struct mount, mnt));
}

static __always_inline __u64 vfsmnt_of(struct mount *m)
{
	return (__u64)m + bpf_core_field_offset(struct mount, mnt);
}

/* vfsmnt is the protected mount or one of its ancestors. */
static __always_inline int prot_or_ancestor(__u64 vfsmnt)
{
	struct guard_state *s = state();
	struct mount *m, *p;
	int n;

	if (!s || !s->prot_mnt || !vfsmnt)
		return 0;
	m = real_mount(s->prot_mnt);
	for (n = 0; n < MAX_COVER_DEPTH; n++) {
		if (vfsmnt_of(m) == vfsmnt)
			return 1;
		p = BPF_CORE_READ(m, mnt_parent);
		if (!p || p == m)
			return 0;
		m = p;
	}
	return 0;
}

/*
 * Mounting on (mnt, d) would hide the protected instance: d is the instance's
 * root or a protected directory in it, or lies on the way down to it from the
 * mountpoint of its parent mount (/sys/fs/bpf, /sys/fs, /sys and /sys as the
 * root of sysfs).
 */
static __always_inline int covers(__u64 mnt, struct dentry *d)
{
	struct guard_state *s = state();
	struct mount *m, *p;
	struct dentry *x, *up;
	int n;

	if (!s || !s->prot_mnt || !mnt)
		return 0;
	if (mnt == s->prot_mnt)
		return d == BPF_CORE_READ((struct vfsmount *)mnt, mnt_root) || prot_dentry(d);
	m = real_mount(s->prot_mnt);
	/* the parent mount (sysfs): from the mountpoint up to its root */
	p = BPF_CORE_READ(m, mnt_parent);
	if (!p || p == m)
		return 0;
	x = BPF_CORE_READ(m, mnt_mountpoint);
	if (vfsmnt_of(p) == mnt) {
		for (n = 0; n < MAX_DENTRY_DEPTH; n++) {
			if (x == d)
				return 1;
			up = BPF_CORE_READ(x, d_parent);
			if (!up || up == x)
				break;
			x = up;
		}
		return 0;
	}
	/* the grandparent: only the mountpoint of sysfs (/sys) */
	m = p;
	p = BPF_CORE_READ(m, mnt_parent);
	if (!p || p == m)
		return 0;
	return vfsmnt_of(p) == mnt && BPF_CORE_READ(m, mnt_mountpoint) == d;
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

/* Creating: the new dentry is negative, its parents decide (pins go through
 * vfs_mkobj -> inode_create). */
SEC("lsm/inode_create")
int BPF_PROG(guard_create, struct inode *dir, struct dentry *dentry)
{
	return armed() && prot_dentry(dentry) ? deny(R_CREATE) : 0;
}

SEC("lsm/inode_mkdir")
int BPF_PROG(guard_mkdir, struct inode *dir, struct dentry *dentry)
{
	return armed() && prot_dentry(dentry) ? deny(R_MKDIR) : 0;
}

SEC("lsm/inode_symlink")
int BPF_PROG(guard_symlink, struct inode *dir, struct dentry *dentry)
{
	return armed() && prot_dentry(dentry) ? deny(R_SYMLINK) : 0;
}

/* ---- the mount ---------------------------------------------------------- */

/*
 * The instance's own mount: always. The mounts above it: once sealed. Before the seal the
 * initramfs is trusted, and switch_root needs it: systemd >= 256 copies /sys into the new
 * root (MS_BIND|MS_REC) and lazily unmounts the old root, original mounts included.
 */
SEC("lsm/sb_umount")
int BPF_PROG(guard_umount, struct vfsmount *mnt, int flags)
{
	struct guard_state *s = state();

	if (!armed() || !s)
		return 0;
	if ((__u64)mnt == s->prot_mnt)
		return deny(R_UMOUNT);
	return s->sealed && prot_or_ancestor((__u64)mnt) ? deny(R_UMOUNT) : 0;
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
	if (flags & MS_MOVE)
		return in_sealed_ns() ? deny(R_MOVE) : 0;
	if ((flags & MS_PROPAGATION) && !(flags & MS_BIND))
		return 0; /* propagation-only changes (systemd's rshared /) */
	return covers(mnt, BPF_CORE_READ(path, dentry)) ? deny(R_MOUNT) : 0;
}

SEC("lsm/move_mount")
int BPF_PROG(guard_move_mount, const struct path *from_path, const struct path *to_path)
{
	struct guard_state *s = state();

	if (!armed() || !s)
		return 0;
	if (covers((__u64)BPF_CORE_READ(to_path, mnt), BPF_CORE_READ(to_path, dentry)))
		return deny(R_MOUNT);
	if (s->sealed && prot_or_ancestor((__u64)BPF_CORE_READ(from_path, mnt)))
		return deny(R_MOVE);
	return 0;
}

/* The loader's own stat of the bpffs root tells which mount it used. */
SEC("lsm/inode_getattr")
int BPF_PROG(guard_getattr, const struct path *path)
{
	struct task_struct *t;
	struct guard_state *s;
	struct guard_info *i;
	struct dentry *d;
	__u32 k = 0;

	if ((bpf_get_current_pid_tgid() >> 32) != loader_tgid || armed())
		return 0;
	d = BPF_CORE_READ(path, dentry);
	if (!prot_sb(BPF_CORE_READ(d, d_sb)) || d != BPF_CORE_READ(d, d_sb, s_root))
		return 0;
	s = state();
	if (!s)
		return 0;
	t = (struct task_struct *)bpf_get_current_task_btf();
	s->prot_mnt = (__u64)BPF_CORE_READ(path, mnt);
	s->init_root = (__u64)BPF_CORE_READ(t, fs, root.mnt);
	i = bpf_map_lookup_elem(&guard_info, &k);
	if (i)
		i->recorded = 1;
	return 0;
}

/*
 * A mount of the protected instance below PID 1's root, two levels down (/ -> sysfs at /sys ->
 * the instance): the copy a switch_root by MS_BIND|MS_REC put into the real root. 0: none.
 */
static __always_inline __u64 find_copy(struct mount *root)
{
	__u64 off = bpf_core_field_offset(struct mount, mnt_child);
	struct list_head *head, *pos, *head2, *pos2;
	struct mount *c, *c2;
	int i, j;

	head = (struct list_head *)((__u64)root + bpf_core_field_offset(struct mount, mnt_mounts));
	pos = BPF_CORE_READ(head, next);
	for (i = 0; i < 24 && pos && pos != head; i++) {
		c = (struct mount *)((__u64)pos - off);
		if (BPF_CORE_READ(c, mnt.mnt_sb, s_magic) == SYSFS_MAGIC) {
			head2 = (struct list_head *)((__u64)c +
						     bpf_core_field_offset(struct mount, mnt_mounts));
			pos2 = BPF_CORE_READ(head2, next);
			for (j = 0; j < 48 && pos2 && pos2 != head2; j++) {
				c2 = (struct mount *)((__u64)pos2 - off);
				if (prot_sb(BPF_CORE_READ(c2, mnt.mnt_sb)))
					return vfsmnt_of(c2);
				pos2 = BPF_CORE_READ(pos2, next);
			}
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
		copy = find_copy(real_mount(root));
		if (copy) {
			s->prot_mnt = copy;
			s->anchored = 2;
		} else {
			s->anchored = 0;
		}
	}
	s->sealed = 1;
	i = bpf_map_lookup_elem(&guard_info, &k);
	if (i) {
		i->anchored = s->anchored;
		i->sealed = 1;
	}
	return 0;
}

/* ---- links and the guard's maps ---------------------------------------- */

static __always_inline int prot_link_fd(int fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds, *f = 0;
	struct bpf_link *l;
	__u32 id;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	/* Not a link: the kernel refuses the command anyway; a false match only
	 * turns its EINVAL into EPERM. */
	l = BPF_CORE_READ(f, private_data);
	if (!l)
		return 0;
	id = BPF_CORE_READ(l, id);
	return bpf_map_lookup_elem(&prot_links, &id) != 0;
}

SEC("lsm/bpf")
int BPF_PROG(guard_bpf, int cmd, union bpf_attr *attr, unsigned int size)
{
	int fd;

	if (!armed())
		return 0;
	if (cmd == BPF_LINK_DETACH)
		fd = BPF_CORE_READ(attr, link_detach.link_fd);
	else if (cmd == BPF_LINK_UPDATE)
		fd = BPF_CORE_READ(attr, link_update.link_fd);
	else
		return 0;
	return prot_link_fd(fd) ? deny(R_LINK_DETACH) : 0;
}

SEC("lsm/bpf_map")
int BPF_PROG(guard_bpf_map, struct bpf_map *map, unsigned int fmode)
{
	if (!armed())
		return 0;
	if (map == (struct bpf_map *)&guard_cfg || map == (struct bpf_map *)&prot_ino ||
	    map == (struct bpf_map *)&prot_links || map == (struct bpf_map *)&guard_state)
		return deny(R_MAP_FD);
	if (map == (struct bpf_map *)&guard_info && (fmode & FMODE_WRITE))
		return deny(R_MAP_FD);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
