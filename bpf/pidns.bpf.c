// SPDX-License-Identifier: GPL-2.0
/*
 * PID namespace translation for src/pidns.c. A task iterator writes, for
 * every thread-group leader that has a PID in the namespace whose inode is
 * target_ns_inum, its host tgid and that PID (struct mt_pidns_pair) to the
 * seq file user space reads: the processes that exist when it runs. The
 * fork tracepoint writes the same pair for every new process of that
 * namespace to a ring, so that a process which lives shorter than user
 * space takes to look it up still has its PID here. Not on any hot path
 * but fork.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "pidns.h"

const volatile __u32 target_ns_inum = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024); /* bytes: 16384 forks between two reads */
} nsforks SEC(".maps");

__u64 forks_lost = 0; /* pairs that found nsforks full */

/* task's PID in the target namespace, 0 when it has none there */
static __always_inline __u32 ns_tgid_of(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level;

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
		if (BPF_CORE_READ(up.ns, ns.inum) == target_ns_inum)
			return up.nr;
	}
	return 0;
}

SEC("iter/task")
int pidns_dump(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct mt_pidns_pair pair;

	if (!task)
		return 0;
	if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
		return 0; /* threads share their leader's entry */
	pair.ns_tgid = ns_tgid_of(task);
	if (!pair.ns_tgid)
		return 0;
	pair.host_tgid = BPF_CORE_READ(task, tgid);
	bpf_seq_write(ctx->meta->seq, &pair, sizeof(pair));
	return 0;
}

static __always_inline int on_fork(struct task_struct *child)
{
	struct mt_pidns_pair *pair;
	__u32 tgid = BPF_CORE_READ(child, tgid), ns;

	if (BPF_CORE_READ(child, pid) != tgid)
		return 0; /* a new thread: its process has its pair */
	ns = ns_tgid_of(child);
	if (!ns)
		return 0;
	pair = bpf_ringbuf_reserve(&nsforks, sizeof(*pair), 0);
	if (!pair) {
		__sync_fetch_and_add(&forks_lost, 1);
		return 0;
	}
	pair->host_tgid = tgid;
	pair->ns_tgid = ns;
	bpf_ringbuf_submit(pair, 0);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ns_fork, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(child);
}

/* where BTF lacks the tracepoint: same arguments, raw */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(ns_fork_raw, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(child);
}

char LICENSE[] SEC("license") = "GPL";
