// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's reference for "the kernel's own time": the 12 bench objects loaded the way
 * the kernel's own bpf_preload loads its iterators (kernel/bpf/preload/iterators): light
 * skeletons made by `bpftool gen skeleton -L`, libbpf's skel_internal.h only, for each object
 * <name>__open_and_load() (the loader program run in the kernel) then <name>__attach().
 * No signature check, no pinning, no status, no log: the process exits when all 36 programs
 * are attached (and exit releases them).
 *
 * tests/bench/run.sh builds it: it writes objects.h (one #include of each bench_NN.lskel.h and
 * the list OBJECTS) next to the skeletons and compiles this file with gcc -static. Nothing of
 * it is committed prebuilt.
 *
 * bpftool's light skeletons attach raw_tp, tp_btf, fentry/fexit, lsm and iter programs, but
 * not tracepoint/ ones ("auto-attach not supported"): their link fd stays 0. Those are attached
 * here the way libbpf attaches them (and bpf-preload's fast path): the tracepoint's id from
 * tracefs, perf_event_open, BPF_LINK_CREATE with BPF_PERF_EVENT. Which programs are tracepoints
 * comes from bpf/bench/bench_template.bpf.c (sched/sched_process_exec, sched/sched_process_exit).
 *
 * Prints "links=N" (the attached programs) when done, then holds everything until its standard
 * input closes: run.sh's timed region ends at that line. Without pins, the exit detaches and
 * frees all 36 programs, which takes the kernel about a second (perf events released, RCU
 * grace periods): work that bpf-preload's pinned objects never do, so it is not timed.
 * Exits non-zero on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include "objects.h"

static int tracepoint_id(const char *category, const char *event)
{
	char path[256], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/tracing/events/%s/%s/id", category, event);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = 0;
	return atoi(buf);
}

/* A link of prog_fd on tracepoint category/event, unless the skeleton attached it already. */
static int attach_tracepoint(int prog_fd, int *link_fd, const char *category, const char *event)
{
	struct perf_event_attr attr;
	int id, pfd, fd;

	if (*link_fd > 0)
		return 0;
	id = tracepoint_id(category, event);
	if (id < 0)
		return id;
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = id;
	pfd = syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0)
		return -errno;
	fd = skel_link_create(prog_fd, pfd, BPF_PERF_EVENT);
	close(pfd); /* the link holds the perf event */
	if (fd < 0)
		return -errno;
	*link_fd = fd;
	return 0;
}

static int links;

static void count(int fd)
{
	if (fd > 0)
		links++;
}

static int fail(const char *name, const char *step, int err)
{
	fprintf(stderr, "reference: %s: %s: %s\n", name, step, strerror(err < 0 ? -err : err));
	return 1;
}

/* One bench object NN: open and load (the loader runs in the kernel), attach, tracepoints. */
#define LOAD(NN)                                                                               \
	do {                                                                                   \
		struct bench_##NN *s = bench_##NN##__open_and_load();                           \
		int err;                                                                       \
		if (!s)                                                                        \
			return fail("bench_" #NN, "open_and_load", errno);                      \
		err = bench_##NN##__attach(s);                                                 \
		if (err < 0)                                                                   \
			return fail("bench_" #NN, "attach", err);                               \
		err = attach_tracepoint(s->progs.bench##NN##_exec.prog_fd,                     \
					&s->links.bench##NN##_exec_fd, "sched",                 \
					"sched_process_exec");                                  \
		if (err < 0)                                                                   \
			return fail("bench_" #NN, "attach exec", err);                          \
		err = attach_tracepoint(s->progs.bench##NN##_exit.prog_fd,                     \
					&s->links.bench##NN##_exit_fd, "sched",                 \
					"sched_process_exit");                                  \
		if (err < 0)                                                                   \
			return fail("bench_" #NN, "attach exit", err);                          \
		count(s->links.bench##NN##_exec_fd);                                           \
		count(s->links.bench##NN##_fork_fd);                                           \
		count(s->links.bench##NN##_exit_fd);                                           \
	} while (0);

int main(void)
{
	OBJECTS
	printf("links=%d\n", links);
	fflush(stdout);
	while (getchar() != EOF)
		;
	return 0;
}
