// SPDX-License-Identifier: GPL-2.0
// Tiny static helper for the VM tests: reads a pinned BPF map with raw bpf(2)
// calls (no bpftool and no shared libraries needed in the test root).
//   bpfmap get PINNED_MAP KEY   -> prints the value of u32 KEY as an unsigned
//                                  integer (first 8 bytes, summed over CPUs for
//                                  per-CPU maps)
//   bpfmap dump PINNED_MAP      -> one "KEY VALUE" line per entry (same rules)
// And, for the guard's attack tests (each prints "ok" or the errno name and
// exits 0 on success, 1 on failure):
//   bpfmap detach PINNED_LINK    -> BPF_LINK_DETACH through the pin
//   bpfmap detach-id PINNED_LINK -> the same by id (BPF_LINK_GET_FD_BY_ID)
//   bpfmap update-link PINNED_LINK -> BPF_LINK_UPDATE with the link's own program
//   bpfmap open-rw PINNED_MAP    -> BPF_OBJ_GET read-write
//   bpfmap open-ro PINNED_MAP    -> BPF_OBJ_GET read-only
//   bpfmap pin-into PIN NEWPIN   -> BPF_OBJ_GET of PIN, BPF_OBJ_PIN of it at NEWPIN
//   bpfmap uring mkdir|unlink PATH -> IORING_OP_MKDIRAT / IORING_OP_UNLINKAT through an io_uring
//                                   (no mkdir/unlink system call: the kernel's worker does it)
//   bpfmap mount SRC TARGET FSTYPE remount|bind|move|new [DATA] -> mount(2)
//   bpfmap umount TARGET plain|lazy|force -> umount2(2)
//   bpfmap move-mount FROM TO    -> move_mount(2) (the new mount API)
//   bpfmap fmodret FUNC          -> load and attach an fmod_ret program returning 1 on the
//                                   vmlinux function FUNC (found in /sys/kernel/btf/vmlinux)
//   bpfmap lsm-ret1 HOOK         -> the same as a BPF LSM program on bpf_lsm_HOOK
//   bpfmap fentry-prog PINNED_LINK -> load and attach an fentry program on the program behind
//                                   the link (attach_prog_fd + the program's BTF func id)
//   bpfmap override-return       -> load a kprobe program calling bpf_override_return
// And, for signed-only mode (7.x BPF signatures; the attr is built by hand: the build host's
// headers predate the signature fields):
//   bpfmap load TYPE [SIG KEYRING] -> BPF_PROG_LOAD of "r0 = 0; exit" as TYPE (kprobe, raw_tp,
//                                   socket, cgroup_skb), with the DER CMS signature file SIG
//                                   checked against keyring serial KEYRING
//   bpfmap keyring session       -> the serial of this process's session keyring
//   bpfmap addkey DERFILE KEYRING -> add_key("asymmetric") of an X.509 certificate to the
//                                   keyring serial KEYRING (or "session"); prints the key
//   bpfmap keyctl-clear KEYRING  -> KEYCTL_CLEAR of keyring serial KEYRING
//   bpfmap load-own TYPE DERFILE SIG -> root's own certificate: add DERFILE to this process's
//                                   session keyring, then `load TYPE SIG session`
//   bpfmap keyctl-invalidate KEYRING -> KEYCTL_INVALIDATE of keyring serial KEYRING
//   bpfmap keyctl-describe KEYRING -> KEYCTL_DESCRIBE: prints the description, or the errno
//   bpfmap read-task             -> an unsigned socket filter that reads its own task_struct
//                                   (bpf_get_current_task, bpf_probe_read_kernel of tgid at its
//                                   BTF offset), run once with BPF_PROG_TEST_RUN: "ok tgid=N"
//                                   when the value read is this process's pid
// And, for issue 22's attacks (the same "ok" / errno convention):
//   bpfmap steps STEP...         -> mount-namespace steps in order, stopping at the first
//                                   failure (each step's result on stderr): shared:P, rshared:P,
//                                   private:P (propagation), unshare (CLONE_NEWNS alone: the
//                                   new namespace keeps the propagation), lazy:P / umount:P (umount2),
//                                   tmpfs:P / bpffs:P (a new mount), rbind:S:D, bind:S:D,
//                                   move:S:D, mkdir:P, repin:S:D (BPF_OBJ_GET every pin under S,
//                                   BPF_OBJ_PIN it at the same place under D, directories made)
//   bpfmap race-update fd|objget|byid PINNED_LINK SECONDS
//                                -> thread A loops BPF_LINK_UPDATE(link_fd=N, own iter/task
//                                   program) while thread B dup2s the protected link (got
//                                   before the race, by BPF_OBJ_GET or BPF_LINK_GET_FD_BY_ID in
//                                   the race) and the attacker's own iter/task link into N:
//                                   "ok" when the pinned link's program id changed, "EPERM"
//                                   when it did not and the guard refused attempts, "NOHIT"
//   bpfmap race-attach PINNED_LINK SECONDS
//                                -> thread A loops BPF_PROG_LOAD of an fentry program with
//                                   attach_prog_fd=N and the btf id of the linked program's
//                                   main function, which the attacker's own socket filter has
//                                   too (its BTF padded to the same id), while B dup2s the
//                                   target and the harmless program into N: "ok" when a loaded
//                                   fentry's attach_btf_obj_id is the target's BTF (then it is
//                                   also attached: the result on stderr)
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	int lo, hi, n = 0;
	char c;
	if (!f)
		return 1;
	while (fscanf(f, "%d", &lo) == 1) {
		hi = lo;
		if (fscanf(f, "%c", &c) == 1 && c == '-') {
			if (fscanf(f, "%d", &hi) != 1)
				break;
			if (fscanf(f, "%c", &c) != 1)
				c = '\n';
		}
		n += hi - lo + 1;
		if (c != ',')
			break;
	}
	fclose(f);
	return n > 0 ? n : 1;
}

static uint64_t value_of(const unsigned char *v, uint32_t vsize, int percpu, int ncpu)
{
	uint64_t sum = 0, x;
	uint32_t stride = (vsize + 7) & ~7u;
	int i, n = percpu ? ncpu : 1;
	for (i = 0; i < n; i++) {
		x = 0;
		memcpy(&x, v + (size_t)i * stride, vsize < 8 ? vsize : 8);
		sum += x;
	}
	return sum;
}

static void print_key(const unsigned char *k, uint32_t ksize)
{
	uint32_t i;
	if (ksize == 4) {
		uint32_t x;
		memcpy(&x, k, 4);
		printf("%u", x);
		return;
	}
	for (i = 0; i < ksize; i++)
		printf("%02x", k[i]);
}

static int report(long rc)
{
	if (rc < 0) {
		printf("%s\n", strerrorname_np(errno) ? strerrorname_np(errno) : strerror(errno));
		return 1;
	}
	printf("ok\n");
	return 0;
}

static int obj_get(const char *path, unsigned int flags)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uint64_t)(unsigned long)path;
	attr.file_flags = flags;
	return sys_bpf(BPF_OBJ_GET, &attr);
}

static int link_cmd(const char *what, const char *pin)
{
	union bpf_attr attr;
	struct bpf_link_info info;
	int fd = obj_get(pin, 0);
	if (fd < 0)
		return report(fd);
	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uint64_t)(unsigned long)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
		return report(-1);
	if (!strcmp(what, "detach-id")) {
		close(fd);
		memset(&attr, 0, sizeof(attr));
		attr.link_id = info.id;
		fd = sys_bpf(BPF_LINK_GET_FD_BY_ID, &attr);
		if (fd < 0)
			return report(fd);
	}
	memset(&attr, 0, sizeof(attr));
	if (!strcmp(what, "update-link")) {
		int prog;
		attr.prog_id = info.prog_id;
		prog = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
		if (prog < 0)
			return report(prog);
		memset(&attr, 0, sizeof(attr));
		attr.link_update.link_fd = fd;
		attr.link_update.new_prog_fd = prog;
		return report(sys_bpf(BPF_LINK_UPDATE, &attr));
	}
	attr.link_detach.link_fd = fd;
	return report(sys_bpf(BPF_LINK_DETACH, &attr));
}

/* ---- programs for the attacks on the guard's hooks ------------------------- */

/* r0 = IMM; exit */
static void ret_insns(struct bpf_insn *i, int imm)
{
	memset(i, 0, 2 * sizeof(*i));
	i[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
	i[0].imm = imm;
	i[1].code = BPF_JMP | BPF_EXIT;
}

static char verifier_log[65536], verifier_log_copy[65536];

static int prog_load(int type, int eat, int btf_id, int target_fd, struct bpf_insn *insns, int n)
{
	union bpf_attr attr;
	int fd;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type;
	attr.expected_attach_type = eat;
	attr.attach_btf_id = btf_id;
	attr.attach_prog_fd = target_fd;
	attr.insns = (uint64_t)(unsigned long)insns;
	attr.insn_cnt = n;
	attr.license = (uint64_t)(unsigned long)"GPL";
	attr.log_buf = (uint64_t)(unsigned long)verifier_log;
	attr.log_size = sizeof(verifier_log);
	attr.log_level = 1;
	verifier_log[0] = 0;
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd < 0 && verifier_log[0]) {
		/* the verifier's reason: the last line before its "processed N insns" summary */
		int e = errno;
		char *line, *why = NULL;
		memcpy(verifier_log_copy, verifier_log, sizeof(verifier_log));
		line = strtok(verifier_log, "\n");
		for (; line; line = strtok(NULL, "\n"))
			if (strncmp(line, "processed ", 10) && strncmp(line, "verification time", 17))
				why = line;
		if (why)
			fprintf(stderr, "verifier: %s\n", why);
		errno = e;
	}
	return fd;
}

/* BPF_RAW_TRACEPOINT_OPEN with no name: attaches tracing and LSM programs. */
static int attach_tracing(int prog)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.prog_fd = prog;
	return sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &attr);
}

/* The BTF id of the type of KIND named NAME in /sys/kernel/btf/vmlinux, or -1; with MEMBER (a
 * STRUCT), the byte offset of that member instead. */
static int vmlinux_type(uint32_t want_kind, const char *name, const char *member)
{
	static unsigned char buf[16 << 20];
	struct { uint16_t magic; uint8_t ver, flags; uint32_t hdr_len, type_off, type_len, str_off, str_len; } h;
	static size_t len;
	ssize_t r;
	uint32_t off, end, id = 1;
	const char *strs;
	if (!len) {
		int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY);
		if (fd < 0)
			return -1;
		while ((r = read(fd, buf + len, sizeof(buf) - len)) > 0)
			len += r;
		close(fd);
	}
	if (len < sizeof(h))
		return -1;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != 0xeb9f || (size_t)h.hdr_len + h.str_off + h.str_len > len)
		return -1;
	strs = (char *)buf + h.hdr_len + h.str_off;
	off = h.hdr_len + h.type_off;
	end = off + h.type_len;
	while (off + 12 <= end) {
		uint32_t name_off, info, kind, vlen, extra = 0, i;
		memcpy(&name_off, buf + off, 4);
		memcpy(&info, buf + off + 4, 4);
		kind = (info >> 24) & 0x1f;
		vlen = info & 0xffff;
		switch (kind) {
		case 1: case 14: case 17: extra = 4; break;                 /* INT, VAR, DECL_TAG */
		case 3: extra = 12; break;                                   /* ARRAY */
		case 4: case 5: case 15: case 19: extra = 12 * vlen; break;  /* STRUCT, UNION, DATASEC, ENUM64 */
		case 6: case 13: extra = 8 * vlen; break;                    /* ENUM, FUNC_PROTO */
		}
		if (kind == want_kind && name_off < h.str_len && !strcmp(strs + name_off, name)) {
			if (!member)
				return id;
			for (i = 0; i < vlen; i++) {
				uint32_t m[3];
				memcpy(m, buf + off + 12 + 12 * i, 12);
				if (m[0] < h.str_len && !strcmp(strs + m[0], member))
					/* kind_flag: bitfield size in the top 8 bits of the offset */
					return (int)(((info >> 31) ? (m[2] & 0xffffff) : m[2]) / 8);
			}
			return -1;
		}
		off += 12 + extra;
		id++;
	}
	return -1;
}

/* The BTF id of the FUNC named NAME in /sys/kernel/btf/vmlinux, or -1. */
static int vmlinux_func(const char *name)
{
	return vmlinux_type(12, name, NULL);
}

static int attack_cmd(int argc, char **argv)
{
	struct bpf_insn insns[4];
	int id, prog;

	if (!strcmp(argv[1], "fmodret") || !strcmp(argv[1], "lsm-ret1")) {
		char fn[256];
		int lsm = !strcmp(argv[1], "lsm-ret1");
		snprintf(fn, sizeof(fn), "%s%s", lsm ? "bpf_lsm_" : "", argv[2]);
		id = vmlinux_func(fn);
		if (id < 0) {
			printf("ENOENT\n");
			return 1;
		}
		ret_insns(insns, 1);
		prog = prog_load(lsm ? BPF_PROG_TYPE_LSM : BPF_PROG_TYPE_TRACING,
				 lsm ? BPF_LSM_MAC : BPF_MODIFY_RETURN, id, 0, insns, 2);
		if (prog < 0)
			return report(prog);
		return report(attach_tracing(prog));
	}
	if (!strcmp(argv[1], "fentry-prog")) {
		union bpf_attr attr;
		struct bpf_link_info li;
		struct bpf_prog_info pi;
		struct { uint32_t insn_off, type_id; } fi[1];
		int link = obj_get(argv[2], 0), target;
		if (link < 0)
			return report(link);
		memset(&li, 0, sizeof(li));
		memset(&attr, 0, sizeof(attr));
		attr.info.bpf_fd = link;
		attr.info.info_len = sizeof(li);
		attr.info.info = (uint64_t)(unsigned long)&li;
		if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
			return report(-1);
		memset(&attr, 0, sizeof(attr));
		attr.prog_id = li.prog_id;
		target = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
		if (target < 0)
			return report(target);
		memset(&pi, 0, sizeof(pi));
		memset(fi, 0, sizeof(fi));
		pi.nr_func_info = 1;
		pi.func_info_rec_size = sizeof(fi[0]);
		pi.func_info = (uint64_t)(unsigned long)fi;
		memset(&attr, 0, sizeof(attr));
		attr.info.bpf_fd = target;
		attr.info.info_len = sizeof(pi);
		attr.info.info = (uint64_t)(unsigned long)&pi;
		if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
			return report(-1);
		if (!fi[0].type_id) {
			printf("ENODATA\n");
			return 1;
		}
		ret_insns(insns, 0);
		prog = prog_load(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, fi[0].type_id, target,
				 insns, 2);
		if (prog < 0)
			return report(prog);
		return report(attach_tracing(prog));
	}
	if (!strcmp(argv[1], "override-return")) {
		/* r2 = -1; call bpf_override_return (58); r0 = 0; exit */
		memset(insns, 0, sizeof(insns));
		insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
		insns[0].dst_reg = BPF_REG_2;
		insns[0].imm = -1;
		insns[1].code = BPF_JMP | BPF_CALL;
		insns[1].imm = 58;
		ret_insns(insns + 2, 0);
		return report(prog_load(BPF_PROG_TYPE_KPROBE, 0, 0, 0, insns, 4));
	}
	(void)argc;
	return 2;
}

#ifndef __NR_move_mount
#define __NR_move_mount 429
#endif

static int mount_cmd(int argc, char **argv)
{
	unsigned long flags = 0;
	if (!strcmp(argv[1], "umount")) {
		int f = !strcmp(argv[3], "lazy") ? MNT_DETACH : !strcmp(argv[3], "force") ? MNT_FORCE : 0;
		return report(umount2(argv[2], f));
	}
	if (!strcmp(argv[1], "move-mount"))
		return report(syscall(__NR_move_mount, AT_FDCWD, argv[2], AT_FDCWD, argv[3], 0));
	if (argc < 6)
		return 2;
	if (!strcmp(argv[5], "remount"))
		flags = MS_REMOUNT;
	else if (!strcmp(argv[5], "bind"))
		flags = MS_BIND;
	else if (!strcmp(argv[5], "move"))
		flags = MS_MOVE;
	return report(mount(argv[2], argv[3], argv[4], flags, argc > 6 ? argv[6] : NULL));
}

#define KEY_SPEC_SESSION_KEYRING -3
#define KEYCTL_GET_KEYRING_ID 0

static int read_file(const char *path, unsigned char *buf, int max)
{
	int fd = open(path, O_RDONLY), n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, max);
	close(fd);
	return n;
}

static int keyring_arg(const char *a)
{
	return !strcmp(a, "session") ? KEY_SPEC_SESSION_KEYRING : (int)strtol(a, NULL, 0);
}

static int signed_cmd(int argc, char **argv)
{
	static unsigned char sig[16384], der[16384];
	if (!strcmp(argv[1], "keyring")) {
		long r = syscall(__NR_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1);
		if (r < 0)
			return report(r);
		printf("%ld\n", r);
		return 0;
	}
	if (!strcmp(argv[1], "addkey")) {
		int n = read_file(argv[2], der, sizeof(der));
		long r;
		if (n <= 0)
			return report(-1);
		r = syscall(__NR_add_key, "asymmetric", NULL, der, (size_t)n, keyring_arg(argv[3]));
		if (r < 0)
			return report(r);
		printf("%ld\n", r);
		return 0;
	}
	if (!strcmp(argv[1], "keyctl-clear"))
		return report(syscall(__NR_keyctl, 7 /* KEYCTL_CLEAR */, keyring_arg(argv[2])));
	if (!strcmp(argv[1], "keyctl-invalidate"))
		return report(syscall(__NR_keyctl, 21 /* KEYCTL_INVALIDATE */, keyring_arg(argv[2])));
	if (!strcmp(argv[1], "keyctl-describe")) {
		char desc[512];
		long r = syscall(__NR_keyctl, 6 /* KEYCTL_DESCRIBE */, keyring_arg(argv[2]), desc, sizeof(desc) - 1);
		if (r < 0)
			return report(r);
		desc[sizeof(desc) - 1] = 0;
		printf("%s\n", desc);
		return 0;
	}
	if (!strcmp(argv[1], "load-own")) {
		int n = read_file(argv[3], der, sizeof(der));
		long r;
		char *load[] = { argv[0], "load", argv[2], argv[4], "session", NULL };
		if (n <= 0)
			return report(-1);
		r = syscall(__NR_add_key, "asymmetric", NULL, der, (size_t)n, KEY_SPEC_SESSION_KEYRING);
		if (r < 0)
			return report(r);
		return signed_cmd(5, load);
	}
	/* load TYPE [SIG KEYRING] */
	{
		uint64_t a64[32];
		unsigned char *attr = (unsigned char *)a64;
		struct bpf_insn insns[2] = {
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		uint32_t type, cnt = 2, sig_size = 0;
		int32_t keyring = 0;
		uint64_t p;
		if (!strcmp(argv[2], "kprobe"))
			type = BPF_PROG_TYPE_KPROBE;
		else if (!strcmp(argv[2], "raw_tp"))
			type = BPF_PROG_TYPE_RAW_TRACEPOINT;
		else if (!strcmp(argv[2], "socket"))
			type = BPF_PROG_TYPE_SOCKET_FILTER;
		else if (!strcmp(argv[2], "cgroup_skb"))
			type = BPF_PROG_TYPE_CGROUP_SKB;
		else
			return report(-1);
		memset(a64, 0, sizeof(a64));
		memcpy(attr + 0, &type, 4);
		memcpy(attr + 4, &cnt, 4);
		p = (uint64_t)(unsigned long)insns;
		memcpy(attr + 8, &p, 8);
		p = (uint64_t)(unsigned long)"GPL";
		memcpy(attr + 16, &p, 8);
		if (argc == 5) {
			int n = read_file(argv[3], sig, sizeof(sig));
			if (n <= 0)
				return report(-1);
			sig_size = n;
			keyring = keyring_arg(argv[4]);
			p = (uint64_t)(unsigned long)sig;
			memcpy(attr + 152, &p, 8);
			memcpy(attr + 160, &sig_size, 4);
			memcpy(attr + 164, &keyring, 4);
		}
		return report(syscall(__NR_bpf, BPF_PROG_LOAD, attr, argc == 5 ? 168 : 148));
	}
}


/* ---- issue 22: mount namespaces, fd races, kernel reads -------------------- */

static const char *errname(int e)
{
	return strerrorname_np(e) ? strerrorname_np(e) : strerror(e);
}

/* Print "WHAT: ERRNO" on stderr, keep errno, return -1. */
static int fail_errno(const char *what)
{
	int e = errno;
	fprintf(stderr, "%s: %s\n", what, errname(e));
	errno = e;
	return -1;
}

static int obj_pin(int fd, const char *path)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uint64_t)(unsigned long)path;
	attr.bpf_fd = fd;
	return sys_bpf(BPF_OBJ_PIN, &attr);
}

/* BPF_OBJ_GET every pin under SRC (read-write, else read-only), BPF_OBJ_PIN it at the same
 * place under DST; directories are made. */
/* One IORING_OP_MKDIRAT or IORING_OP_UNLINKAT on PATH through a fresh io_uring, raw system
 * calls (no liburing in the test root): its result, as a system call's (-1 and errno). */
static int uring_op(const char *op, const char *path)
{
	struct io_uring_params p;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqe;
	unsigned *sq_tail, *sq_array, *cq_head, *cq_tail;
	unsigned char *sq, *cq;
	int fd, res;

	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 1, &p);
	if (fd < 0)
		return -1;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		return -1;
	sq_tail = (unsigned *)(sq + p.sq_off.tail);
	sq_array = (unsigned *)(sq + p.sq_off.array);
	cq_head = (unsigned *)(cq + p.cq_off.head);
	cq_tail = (unsigned *)(cq + p.cq_off.tail);
	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].fd = AT_FDCWD;
	sqes[0].addr = (uint64_t)(unsigned long)path;
	if (!strcmp(op, "mkdir")) {
		sqes[0].opcode = IORING_OP_MKDIRAT;
		sqes[0].len = 0700;
	} else if (!strcmp(op, "unlink")) {
		sqes[0].opcode = IORING_OP_UNLINKAT;
	} else {
		errno = EINVAL;
		return -1;
	}
	sq_array[0] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -1;
	if (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head) {
		errno = EAGAIN;
		return -1;
	}
	cqe = (struct io_uring_cqe *)(cq + p.cq_off.cqes) + (*cq_head & *(unsigned *)(cq + p.cq_off.ring_mask));
	res = cqe->res;
	close(fd);
	if (res < 0) {
		errno = -res;
		return -1;
	}
	return 0;
}

static int repin(const char *src, const char *dst, int *count)
{
	DIR *d = opendir(src);
	struct dirent *e;
	char s[4096], t[4096];
	int rc = 0, err = 0;
	if (!d)
		return fail_errno(src);
	while (!rc && (e = readdir(d))) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(s, sizeof(s), "%s/%s", src, e->d_name);
		snprintf(t, sizeof(t), "%s/%s", dst, e->d_name);
		if (lstat(s, &st) < 0) {
			rc = fail_errno(s);
		} else if (S_ISDIR(st.st_mode)) {
			if (mkdir(t, 0700) < 0 && errno != EEXIST)
				rc = fail_errno(t);
			else
				rc = repin(s, t, count);
		} else if (!S_ISREG(st.st_mode)) {
			fprintf(stderr, "%s: not a pin, skipped\n", s);
		} else {
			int fd = obj_get(s, 0), e1 = errno;
			if (fd < 0)
				fd = obj_get(s, BPF_F_RDONLY);
			if (fd < 0) {
				errno = e1;
				rc = fail_errno(s);
			} else {
				if (obj_pin(fd, t) < 0)
					rc = fail_errno(t);
				else
					(*count)++;
				close(fd);
			}
		}
		err = errno;
	}
	closedir(d);
	errno = err;
	return rc;
}

static int steps_cmd(int argc, char **argv)
{
	int i;
	for (i = 2; i < argc; i++) {
		char buf[4096], *op = buf, *a, *b = NULL;
		long rc;
		int n = 0, e;
		snprintf(buf, sizeof(buf), "%s", argv[i]);
		a = strchr(op, ':');
		if (a) {
			*a++ = 0;
			b = strchr(a, ':');
			if (b)
				*b++ = 0;
		}
		if (!strcmp(op, "unshare"))
			rc = unshare(CLONE_NEWNS);
		else if (!a)
			rc = -2;
		else if (!strcmp(op, "shared"))
			rc = mount(NULL, a, NULL, MS_SHARED, NULL);
		else if (!strcmp(op, "private"))
			rc = mount(NULL, a, NULL, MS_PRIVATE, NULL);
		else if (!strcmp(op, "rshared"))
			rc = mount(NULL, a, NULL, MS_SHARED | MS_REC, NULL);
		else if (!strcmp(op, "lazy"))
			rc = umount2(a, MNT_DETACH);
		else if (!strcmp(op, "umount"))
			rc = umount2(a, 0);
		else if (!strcmp(op, "tmpfs"))
			rc = mount("tmpfs", a, "tmpfs", 0, NULL);
		else if (!strcmp(op, "bpffs"))
			rc = mount("bpf", a, "bpf", 0, NULL);
		else if (!strcmp(op, "mkdir"))
			rc = (mkdir(a, 0755) < 0 && errno != EEXIST) ? -1 : 0;
		else if (!b)
			rc = -2;
		else if (!strcmp(op, "rbind"))
			rc = mount(a, b, NULL, MS_BIND | MS_REC, NULL);
		else if (!strcmp(op, "bind"))
			rc = mount(a, b, NULL, MS_BIND, NULL);
		else if (!strcmp(op, "move"))
			rc = mount(a, b, NULL, MS_MOVE, NULL);
		else if (!strcmp(op, "repin")) {
			rc = repin(a, b, &n);
			e = errno;
			fprintf(stderr, "repinned %d\n", n);
			errno = e;
		} else
			rc = -2;
		if (rc == -2) {
			fprintf(stderr, "step %s: unknown or incomplete\n", argv[i]);
			return 2;
		}
		e = errno;
		fprintf(stderr, "step %s: %s\n", argv[i], rc < 0 ? errname(e) : "ok");
		if (rc < 0) {
			errno = e;
			return report(-1);
		}
	}
	return report(0);
}

/* What the two threads of a race share. N: the fd number both race on. */
#define RACE_N 100
#define RACE_MAX 200000
static volatile int race_stop;
static int race_prot = -1, race_harmless = -1, race_variant; /* 0: fd, 1: objget, 2: byid */
static const char *race_pin;
static uint32_t race_link_id;
static long race_swaps, race_get_fail, race_iters, race_ok, race_eperm, race_other;
static int race_get_errno, race_other_errno, race_win_fd = -1;
static uint32_t race_target_btf;

/* Thread B: the protected object, then the harmless one, into fd N. */
static void *race_swapper(void *unused)
{
	(void)unused;
	while (!race_stop) {
		int fd = race_prot;
		if (race_variant == 1) {
			fd = obj_get(race_pin, 0);
		} else if (race_variant == 2) {
			union bpf_attr a;
			memset(&a, 0, sizeof(a));
			a.link_id = race_link_id;
			fd = sys_bpf(BPF_LINK_GET_FD_BY_ID, &a);
		}
		if (fd >= 0) {
			dup2(fd, RACE_N);
			if (fd != race_prot)
				close(fd);
		} else {
			race_get_fail++;
			race_get_errno = errno;
		}
		dup2(race_harmless, RACE_N);
		race_swaps++;
	}
	return NULL;
}

static void race_count(long rc)
{
	if (rc >= 0)
		race_ok++;
	else if (errno == EPERM)
		race_eperm++;
	else {
		race_other++;
		race_other_errno = errno;
	}
}

/* Thread A of race-update: BPF_LINK_UPDATE of fd N with the attacker's program. */
static void *race_updater(void *p)
{
	int prog = *(int *)p;
	long i;
	for (i = 0; !race_stop && i < RACE_MAX; i++) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.link_update.link_fd = RACE_N;
		a.link_update.new_prog_fd = prog;
		race_count(sys_bpf(BPF_LINK_UPDATE, &a));
	}
	race_iters = i;
	race_stop = 1;
	return NULL;
}

static int link_info(int fd, struct bpf_link_info *li)
{
	union bpf_attr attr;
	memset(li, 0, sizeof(*li));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = fd;
	attr.info.info_len = sizeof(*li);
	attr.info.info = (uint64_t)(unsigned long)li;
	return sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr);
}

static int prog_info(int fd, struct bpf_prog_info *pi, void *func_info, uint32_t nr)
{
	union bpf_attr attr;
	memset(pi, 0, sizeof(*pi));
	if (nr) {
		pi->nr_func_info = nr;
		pi->func_info_rec_size = 8;
		pi->func_info = (uint64_t)(unsigned long)func_info;
	}
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = fd;
	attr.info.info_len = sizeof(*pi);
	attr.info.info = (uint64_t)(unsigned long)pi;
	return sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr);
}

/* The program id of link ID now (0: the link is gone). */
static uint32_t link_prog_now(uint32_t id)
{
	union bpf_attr a;
	struct bpf_link_info li;
	int fd;
	memset(&a, 0, sizeof(a));
	a.link_id = id;
	fd = sys_bpf(BPF_LINK_GET_FD_BY_ID, &a);
	if (fd < 0)
		return 0;
	if (link_info(fd, &li) < 0)
		li.prog_id = 0;
	close(fd);
	return li.prog_id;
}

static void race_wait(int secs, uint32_t link_id, uint32_t before)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (race_stop || t.tv_sec - t0.tv_sec >= secs)
			break;
		/* (a guard may refuse the look from this now shared fd table: 0, keep racing) */
		if (link_id) {
			uint32_t now = link_prog_now(link_id);
			if (now && now != before)
				break;
		}
	}
	race_stop = 1;
}

static int race_update_cmd(const char *variant, const char *pin, int secs)
{
	union bpf_attr attr;
	struct bpf_link_info li;
	struct bpf_insn insns[2];
	pthread_t ta, tb;
	uint32_t before, after = 0;
	int id, prog, own, prot, i;

	race_variant = !strcmp(variant, "objget") ? 1 : !strcmp(variant, "byid") ? 2 : 0;
	race_pin = pin;
	prot = obj_get(pin, 0);
	if (prot < 0)
		return report(fail_errno("get the protected link"));
	if (link_info(prot, &li) < 0)
		return report(fail_errno("link info"));
	race_link_id = li.id;
	before = li.prog_id;
	if (race_variant)
		close(prot); /* thread B gets its own, in the race */
	else
		race_prot = prot;
	/* the attacker's own iter/task program and link: updating that one is harmless */
	id = vmlinux_func("bpf_iter_task");
	if (id < 0) {
		printf("ENOENT\n");
		return 1;
	}
	ret_insns(insns, 0);
	prog = prog_load(BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, id, 0, insns, 2);
	if (prog < 0)
		return report(fail_errno("load the attacker's iter/task program"));
	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = prog;
	attr.link_create.attach_type = BPF_TRACE_ITER;
	own = sys_bpf(BPF_LINK_CREATE, &attr);
	if (own < 0)
		return report(fail_errno("create the attacker's iter link"));
	race_harmless = own;
	dup2(own, RACE_N);
	pthread_create(&tb, NULL, race_swapper, NULL);
	pthread_create(&ta, NULL, race_updater, &prog);
	race_wait(secs, race_link_id, before);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	/* the threads' exit releases the shared fd table a little after the joins return */
	for (i = 0; i < 40 && !(after = link_prog_now(race_link_id)); i++)
		usleep(50000);
	if (!after) {
		fprintf(stderr, "race-update variant=%s: cannot read link %u's program after the race: %s\n",
			variant, race_link_id, errname(errno));
		printf("EUNKNOWN\n");
		return 1;
	}
	fprintf(stderr, "race-update variant=%s link_id=%u prog_id %u -> %u iterations=%ld updates_ok=%ld "
		"EPERM=%ld other=%ld(%s) swaps=%ld get_failed=%ld(%s)\n", variant, race_link_id, before,
		after, race_iters, race_ok, race_eperm, race_other,
		race_other ? errname(race_other_errno) : "-", race_swaps, race_get_fail,
		race_get_fail ? errname(race_get_errno) : "-");
	if (after != before) {
		printf("ok\n");
		return 0;
	}
	printf("%s\n", race_eperm || race_get_errno == EPERM ? "EPERM" : "NOHIT");
	return 1;
}

/* BTF whose FUNC "harmless" (int harmless(int x)) has type id FID: ids 2..FID-2 are padding. */
static int load_padded_btf(uint32_t fid)
{
	static uint32_t b[(24 + 16 + 12 * 70000 + 20 + 12 + 16) / 4 + 1];
	static const char strs[] = "\0int\0x\0harmless";
	union bpf_attr attr;
	uint32_t *t = b + 6, i, type_len;
	if (fid < 3 || fid > 70000)
		return -1;
	*t++ = 1, *t++ = 1u << 24, *t++ = 4, *t++ = (1u << 24) | 32;  /* 1: int */
	for (i = 2; i <= fid - 2; i++)
		*t++ = 0, *t++ = 2u << 24, *t++ = 1;                    /* PTR -> int */
	*t++ = 0, *t++ = (13u << 24) | 1, *t++ = 1, *t++ = 5, *t++ = 1; /* int (int x) */
	*t++ = 7, *t++ = 12u << 24, *t++ = fid - 1;                     /* FUNC harmless */
	type_len = (uint32_t)((t - (b + 6)) * 4);
	memcpy(t, strs, sizeof(strs));
	b[0] = 0xeb9f | (1u << 16);  /* magic, version 1, flags 0 */
	b[1] = 24;                   /* hdr_len */
	b[2] = 0, b[3] = type_len;   /* type_off, type_len */
	b[4] = type_len, b[5] = sizeof(strs);
	memset(&attr, 0, sizeof(attr));
	attr.btf = (uint64_t)(unsigned long)b;
	attr.btf_size = 24 + type_len + sizeof(strs);
	attr.btf_log_buf = (uint64_t)(unsigned long)verifier_log;
	attr.btf_log_size = sizeof(verifier_log);
	attr.btf_log_level = 1;
	verifier_log[0] = 0;
	i = sys_bpf(BPF_BTF_LOAD, &attr);
	if ((int)i < 0 && verifier_log[0])
		fprintf(stderr, "btf: %.300s\n", verifier_log);
	return (int)i;
}

/* Thread A of race-attach: fentry loads aimed at fd N. */
static void *race_loader(void *p)
{
	uint32_t fid = *(uint32_t *)p;
	struct bpf_insn insns[2];
	long i;
	ret_insns(insns, 0);
	for (i = 0; !race_stop && i < RACE_MAX; i++) {
		union bpf_attr a;
		struct bpf_prog_info pi;
		int fd;
		memset(&a, 0, sizeof(a));
		a.prog_type = BPF_PROG_TYPE_TRACING;
		a.expected_attach_type = BPF_TRACE_FENTRY;
		a.attach_btf_id = fid;
		a.attach_prog_fd = RACE_N;
		a.insns = (uint64_t)(unsigned long)insns;
		a.insn_cnt = 2;
		a.license = (uint64_t)(unsigned long)"GPL";
		fd = sys_bpf(BPF_PROG_LOAD, &a);
		race_count(fd);
		if (fd < 0)
			continue;
		if (prog_info(fd, &pi, NULL, 0) == 0 && pi.attach_btf_obj_id == race_target_btf) {
			race_win_fd = fd;
			i++;
			break;
		}
		close(fd);
	}
	race_iters = i;
	race_stop = 1;
	return NULL;
}

static int race_attach_cmd(const char *pin, int secs)
{
	union bpf_attr attr;
	struct bpf_link_info li;
	struct bpf_prog_info pi;
	struct { uint32_t insn_off, type_id; } fi[1] = { { 0, 0 } }, hfi[1];
	struct bpf_insn insns[2];
	pthread_t ta, tb;
	uint32_t fid, own_btf;
	int link = obj_get(pin, 0), target, btf, harmless;

	if (link < 0)
		return report(fail_errno("get the target's link"));
	if (link_info(link, &li) < 0)
		return report(fail_errno("link info"));
	close(link);
	memset(&attr, 0, sizeof(attr));
	attr.prog_id = li.prog_id;
	target = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (target < 0)
		return report(fail_errno("BPF_PROG_GET_FD_BY_ID of the target"));
	if (prog_info(target, &pi, fi, 1) < 0)
		return report(fail_errno("target info"));
	fid = fi[0].type_id;
	race_target_btf = pi.btf_id;
	if (!fid || !pi.btf_id) {
		fprintf(stderr, "target program %u: func btf id %u, btf %u\n", li.prog_id, fid, pi.btf_id);
		printf("ENODATA\n");
		return 1;
	}
	/* the attacker's own socket filter, its main function at the same BTF id */
	btf = load_padded_btf(fid);
	if (btf < 0)
		return report(fail_errno("load the padded BTF"));
	ret_insns(insns, 0);
	hfi[0].insn_off = 0, hfi[0].type_id = fid;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (uint64_t)(unsigned long)insns;
	attr.insn_cnt = 2;
	attr.license = (uint64_t)(unsigned long)"GPL";
	attr.prog_btf_fd = btf;
	attr.func_info_rec_size = 8;
	attr.func_info = (uint64_t)(unsigned long)hfi;
	attr.func_info_cnt = 1;
	attr.log_buf = (uint64_t)(unsigned long)verifier_log;
	attr.log_size = sizeof(verifier_log);
	attr.log_level = 1;
	harmless = sys_bpf(BPF_PROG_LOAD, &attr);
	if (harmless < 0) {
		fprintf(stderr, "verifier: %.300s\n", verifier_log);
		return report(fail_errno("load the harmless socket filter"));
	}
	if (prog_info(harmless, &pi, NULL, 0) < 0)
		return report(fail_errno("harmless info"));
	own_btf = pi.btf_id;
	race_prot = target;
	race_harmless = harmless;
	race_variant = 0;
	dup2(harmless, RACE_N);
	pthread_create(&tb, NULL, race_swapper, NULL);
	pthread_create(&ta, NULL, race_loader, &fid);
	race_wait(secs, 0, 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	fprintf(stderr, "race-attach target_prog=%u target_btf=%u own_btf=%u func_btf_id=%u iterations=%ld "
		"loads_ok=%ld EPERM=%ld other=%ld(%s) swaps=%ld won=%s\n", li.prog_id, race_target_btf,
		own_btf, fid, race_iters, race_ok, race_eperm, race_other,
		race_other ? errname(race_other_errno) : "-", race_swaps, race_win_fd >= 0 ? "yes" : "no");
	if (race_win_fd >= 0) {
		long a = attach_tracing(race_win_fd);
		fprintf(stderr, "a loaded fentry on the target program: attach %s\n", a < 0 ? errname(errno) : "ok");
		printf("ok\n");
		return 0;
	}
	printf("%s\n", race_eperm ? "EPERM" : "NOHIT");
	return 1;
}

/* An unsigned socket filter reading its own task_struct's tgid (bpf_get_current_task,
 * bpf_probe_read_kernel: CAP_PERFMON helpers), run once with BPF_PROG_TEST_RUN. */
static int read_task_cmd(void)
{
	union bpf_attr attr;
	unsigned char pkt[64];
	int off = vmlinux_type(4, "task_struct", "tgid"), fd;
	struct bpf_insn in[9];
	if (off < 0) {
		fprintf(stderr, "no task_struct.tgid in /sys/kernel/btf/vmlinux\n");
		printf("ENOENT\n");
		return 1;
	}
	memset(in, 0, sizeof(in));
	in[0].code = BPF_JMP | BPF_CALL, in[0].imm = 35;                           /* get_current_task */
	in[1].code = BPF_ALU64 | BPF_MOV | BPF_X, in[1].dst_reg = 3, in[1].src_reg = 0;
	in[2].code = BPF_ALU64 | BPF_ADD | BPF_K, in[2].dst_reg = 3, in[2].imm = off; /* &task->tgid */
	in[3].code = BPF_ALU64 | BPF_MOV | BPF_X, in[3].dst_reg = 1, in[3].src_reg = 10;
	in[4].code = BPF_ALU64 | BPF_ADD | BPF_K, in[4].dst_reg = 1, in[4].imm = -8;
	in[5].code = BPF_ALU64 | BPF_MOV | BPF_K, in[5].dst_reg = 2, in[5].imm = 4;
	in[6].code = BPF_JMP | BPF_CALL, in[6].imm = 113;                          /* probe_read_kernel */
	in[7].code = BPF_LDX | BPF_MEM | BPF_W, in[7].dst_reg = 0, in[7].src_reg = 10, in[7].off = -8;
	in[8].code = BPF_JMP | BPF_EXIT;
	fd = prog_load(BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, 0, in, 9);
	if (fd < 0) {
		int e = errno;
		/* prog_load printed the verifier's last line; its first, and what it said of the helper */
		char *line = strtok(verifier_log_copy, "\n");
		if (line)
			fprintf(stderr, "verifier first line: %.200s\n", line);
		for (; line; line = strtok(NULL, "\n"))
			if (strstr(line, "unknown func") || strstr(line, "invalid func") ||
			    strstr(line, "cannot use helper"))
				fprintf(stderr, "verifier: %.200s\n", line);
		errno = e;
		return report(fd);
	}
	memset(pkt, 0, sizeof(pkt));
	memset(&attr, 0, sizeof(attr));
	attr.test.prog_fd = fd;
	attr.test.data_in = (uint64_t)(unsigned long)pkt;
	attr.test.data_size_in = sizeof(pkt);
	attr.test.repeat = 1;
	if (sys_bpf(BPF_PROG_TEST_RUN, &attr) < 0) {
		printf("loaded, test run: %s\n", errname(errno));
		return 1;
	}
	if (attr.test.retval != (uint32_t)getpid()) {
		printf("loaded, read tgid=%u at offset %d, pid=%d\n", attr.test.retval, off, (int)getpid());
		return 1;
	}
	printf("ok tgid=%u (task_struct.tgid at %d)\n", attr.test.retval, off);
	return 0;
}

/* Every id of a kind the kernel has, one a line, by BPF_{PROG,MAP,LINK}_GET_NEXT_ID: what the
 * built-in iterators' files must list. */
static int ids_cmd(const char *kind)
{
	union bpf_attr attr;
	int cmd;

	if (!strcmp(kind, "progs"))
		cmd = BPF_PROG_GET_NEXT_ID;
	else if (!strcmp(kind, "maps"))
		cmd = BPF_MAP_GET_NEXT_ID;
	else if (!strcmp(kind, "links"))
		cmd = BPF_LINK_GET_NEXT_ID;
	else
		return 2;
	memset(&attr, 0, sizeof(attr));
	while (sys_bpf(cmd, &attr) == 0) {
		printf("%u\n", attr.next_id);
		attr.start_id = attr.next_id;
	}
	if (errno != ENOENT) {
		fprintf(stderr, "bpfmap: ids %s: %s\n", kind, strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	union bpf_attr attr;
	struct bpf_map_info info;
	unsigned char *key, *next, *val;
	int fd, percpu, ncpu, first = 1;

	if (argc == 3 && (!strcmp(argv[1], "detach") || !strcmp(argv[1], "detach-id") ||
			  !strcmp(argv[1], "update-link")))
		return link_cmd(argv[1], argv[2]);
	if ((argc == 4 && (!strcmp(argv[1], "umount") || !strcmp(argv[1], "move-mount"))) ||
	    (argc >= 6 && !strcmp(argv[1], "mount")))
		return mount_cmd(argc, argv);
	if ((argc == 3 && (!strcmp(argv[1], "fmodret") || !strcmp(argv[1], "lsm-ret1") ||
			   !strcmp(argv[1], "fentry-prog"))) ||
	    (argc == 2 && !strcmp(argv[1], "override-return")))
		return attack_cmd(argc, argv);
	if ((argc == 3 || argc == 5) && !strcmp(argv[1], "load"))
		return signed_cmd(argc, argv);
	if ((argc == 3 && (!strcmp(argv[1], "keyring") || !strcmp(argv[1], "keyctl-clear") ||
			   !strcmp(argv[1], "keyctl-invalidate") || !strcmp(argv[1], "keyctl-describe"))) ||
	    (argc == 4 && !strcmp(argv[1], "addkey")) ||
	    (argc == 5 && !strcmp(argv[1], "load-own")))
		return signed_cmd(argc, argv);
	if (argc >= 3 && !strcmp(argv[1], "steps"))
		return steps_cmd(argc, argv);
	if (argc == 5 && !strcmp(argv[1], "race-update"))
		return race_update_cmd(argv[2], argv[3], atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "race-attach"))
		return race_attach_cmd(argv[2], atoi(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "read-task"))
		return read_task_cmd();
	if (argc == 3 && !strcmp(argv[1], "ids"))
		return ids_cmd(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "open-rw"))
		return report(obj_get(argv[2], 0));
	if (argc == 3 && !strcmp(argv[1], "open-ro"))
		return report(obj_get(argv[2], BPF_F_RDONLY));
	if (argc == 4 && !strcmp(argv[1], "pin-into")) {
		int fd = obj_get(argv[2], 0);
		if (fd < 0)
			fd = obj_get(argv[2], BPF_F_RDONLY);
		return report(fd < 0 ? fd : obj_pin(fd, argv[3]));
	}
	if (argc == 4 && !strcmp(argv[1], "uring"))
		return report(uring_op(argv[2], argv[3]));
	if (argc < 3 || (strcmp(argv[1], "get") && strcmp(argv[1], "dump")) ||
	    (!strcmp(argv[1], "get") && argc != 4)) {
		fprintf(stderr, "usage: bpfmap get PIN KEY | bpfmap dump PIN\n");
		return 2;
	}
	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uint64_t)(unsigned long)argv[2];
	fd = sys_bpf(BPF_OBJ_GET, &attr);
	if (fd < 0) {
		fprintf(stderr, "bpfmap: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uint64_t)(unsigned long)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0) {
		fprintf(stderr, "bpfmap: info: %s\n", strerror(errno));
		return 1;
	}
	percpu = info.type == BPF_MAP_TYPE_PERCPU_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_HASH ||
		 info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	ncpu = possible_cpus();
	key = calloc(1, info.key_size + 8);
	next = calloc(1, info.key_size + 8);
	val = calloc((size_t)(percpu ? ncpu : 1), (info.value_size + 7) & ~7u);
	if (!key || !next || !val)
		return 1;

	if (!strcmp(argv[1], "get")) {
		uint32_t k = (uint32_t)strtoul(argv[3], NULL, 0);
		memcpy(key, &k, info.key_size < 4 ? info.key_size : 4);
		memset(&attr, 0, sizeof(attr));
		attr.map_fd = fd;
		attr.key = (uint64_t)(unsigned long)key;
		attr.value = (uint64_t)(unsigned long)val;
		if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr) < 0) {
			fprintf(stderr, "bpfmap: lookup: %s\n", strerror(errno));
			return 1;
		}
		printf("%llu\n", (unsigned long long)value_of(val, info.value_size, percpu, ncpu));
		return 0;
	}
	for (;;) {
		memset(&attr, 0, sizeof(attr));
		attr.map_fd = fd;
		attr.key = first ? 0 : (uint64_t)(unsigned long)key;
		attr.next_key = (uint64_t)(unsigned long)next;
		if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &attr) < 0)
			break;
		first = 0;
		memcpy(key, next, info.key_size);
		memset(&attr, 0, sizeof(attr));
		attr.map_fd = fd;
		attr.key = (uint64_t)(unsigned long)key;
		attr.value = (uint64_t)(unsigned long)val;
		if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr) < 0)
			continue;
		print_key(key, info.key_size);
		printf(" %llu\n", (unsigned long long)value_of(val, info.value_size, percpu, ncpu));
	}
	return 0;
}
