// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark template: compiled 12 times by bpf/Makefile with
 *   -DBENCH_ID=<1..12> -DBENCH_NAME=bench<01..12>
 * into build/bench_01.bpf.o ... build/bench_12.bpf.o.  Each object is a
 * distinct, typical small observability object:
 *
 *   programs (all auto-attachable, no kprobes/fentry needed):
 *     <name>_exec  tracepoint/sched/sched_process_exec
 *     <name>_fork  raw_tp/sched_process_fork
 *     <name>_exit  tracepoint/sched/sched_process_exit
 *   maps:
 *     <name>_procs   HASH        pid -> struct proc_info (CO-RE reads)
 *     <name>_stats   PERCPU_ARRAY event counters
 *     <name>_events  RINGBUF     exec events (nobody needs to consume them;
 *                                 reservations simply fail when full)
 *
 * Sizes and a salt constant depend on BENCH_ID so the objects differ.
 */
#include "../core_types.h"

#ifndef BENCH_ID
#error "BENCH_ID must be defined (1..12)"
#endif
#ifndef BENCH_NAME
#error "BENCH_NAME must be defined (e.g. bench01)"
#endif

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define N(suffix) CAT(BENCH_NAME, suffix)

#define STAT_EXEC 0
#define STAT_FORK 1
#define STAT_EXIT 2
#define STAT_DROP 3
#define STAT_MAX  4

struct proc_info {
	__u32 pid;
	__u32 ppid;
	__u64 start_ns;
	__u64 salt;
	char comm[TASK_COMM_LEN];
};

struct exec_event {
	__u32 pid;
	__u32 ppid;
	__u32 bench_id;
	__u32 pad;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024 + BENCH_ID);
	__type(key, __u32);
	__type(value, struct proc_info);
} N(_procs) SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} N(_stats) SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 << (BENCH_ID % 4)); /* page-size multiple */
} N(_events) SEC(".maps");

static __always_inline void bump(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&N(_stats), &idx);

	if (v)
		*v += 1; /* per-CPU: no atomics needed */
}

SEC("tracepoint/sched/sched_process_exec")
int N(_exec)(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct proc_info info = {};
	struct exec_event *e;

	info.pid = BPF_CORE_READ(task, tgid);
	info.ppid = BPF_CORE_READ(task, real_parent, tgid);
	info.start_ns = bpf_ktime_get_ns();
	info.salt = 0x9e3779b97f4a7c15ULL * BENCH_ID;
	BPF_CORE_READ_STR_INTO(&info.comm, task, comm);
	bpf_map_update_elem(&N(_procs), &info.pid, &info, BPF_ANY);
	bump(STAT_EXEC);

	e = bpf_ringbuf_reserve(&N(_events), sizeof(*e), 0);
	if (!e) {
		bump(STAT_DROP);
		return 0;
	}
	e->pid = info.pid;
	e->ppid = info.ppid;
	e->bench_id = BENCH_ID;
	e->pad = 0;
	__builtin_memcpy(e->comm, info.comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int N(_fork)(void *ctx)
{
	bump(STAT_FORK);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int N(_exit)(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 pid = BPF_CORE_READ(task, tgid);

	/* Only the thread-group leader's exit removes the entry. */
	if (BPF_CORE_READ(task, pid) == pid)
		bpf_map_delete_elem(&N(_procs), &pid);
	bump(STAT_EXIT);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
