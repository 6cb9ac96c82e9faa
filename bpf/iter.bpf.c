// SPDX-License-Identifier: GPL-2.0
/*
 * iter: task iterator.  Pin its link (e.g. /sys/fs/bpf/<obj>/dump_task) and
 * `cat` it to get one "pid comm" line per task.
 */
#include "core_types.h"

SEC("iter/task")
int dump_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;

	BPF_SEQ_PRINTF(seq, "%d %s\n", task->pid, task->comm);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
