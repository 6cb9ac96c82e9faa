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
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
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

static char verifier_log[65536];

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
		char *line = strtok(verifier_log, "\n"), *why = NULL;
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

/* The BTF id of the FUNC named NAME in /sys/kernel/btf/vmlinux, or -1. */
static int vmlinux_func(const char *name)
{
	static unsigned char buf[16 << 20];
	struct { uint16_t magic; uint8_t ver, flags; uint32_t hdr_len, type_off, type_len, str_off, str_len; } h;
	size_t len = 0;
	ssize_t r;
	uint32_t off, end, id = 1;
	int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY);
	if (fd < 0)
		return -1;
	while ((r = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += r;
	close(fd);
	if (len < sizeof(h))
		return -1;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != 0xeb9f || (size_t)h.hdr_len + h.str_off + h.str_len > len)
		return -1;
	off = h.hdr_len + h.type_off;
	end = off + h.type_len;
	while (off + 12 <= end) {
		uint32_t name_off, info, kind, vlen, extra = 0;
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
		if (kind == 12 && name_off < h.str_len &&
		    !strcmp((char *)buf + h.hdr_len + h.str_off + name_off, name))
			return id;
		off += 12 + extra;
		id++;
	}
	return -1;
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
	if ((argc == 3 && (!strcmp(argv[1], "keyring") || !strcmp(argv[1], "keyctl-clear"))) ||
	    (argc == 4 && !strcmp(argv[1], "addkey")) ||
	    (argc == 5 && !strcmp(argv[1], "load-own")))
		return signed_cmd(argc, argv);
	if (argc == 3 && !strcmp(argv[1], "open-rw"))
		return report(obj_get(argv[2], 0));
	if (argc == 3 && !strcmp(argv[1], "open-ro"))
		return report(obj_get(argv[2], BPF_F_RDONLY));
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
