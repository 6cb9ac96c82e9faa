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
