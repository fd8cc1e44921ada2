// SPDX-License-Identifier: GPL-2.0
/*
 * Task iterator: for every thread-group leader that has a PID in the
 * namespace whose inode is target_ns_inum, writes its host tgid and that
 * PID (struct mt_pidns_pair) to the seq file user space reads. Run on
 * demand by src/pidns.c, not on any hot path.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "pidns.h"

const volatile __u32 target_ns_inum = 0;

SEC("iter/task")
int pidns_dump(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct mt_pidns_pair pair;
	struct pid *pid;
	unsigned int level;

	if (!task)
		return 0;
	if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
		return 0; /* threads share their leader's entry */
	pid = BPF_CORE_READ(task, thread_pid);
	if (!pid)
		return 0;
	level = BPF_CORE_READ(pid, level);
	/* the target namespace sits at some level of this task's chain */
	for (unsigned int i = 0; i < MT_PIDNS_MAX_LEVEL; i++) {
		struct upid up;

		if (i > level)
			break;
		if (bpf_core_read(&up, sizeof(up), &pid->numbers[i]))
			break;
		if (BPF_CORE_READ(up.ns, ns.inum) != target_ns_inum)
			continue;
		pair.host_tgid = BPF_CORE_READ(task, tgid);
		pair.ns_tgid = up.nr;
		bpf_seq_write(ctx->meta->seq, &pair, sizeof(pair));
		break;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
