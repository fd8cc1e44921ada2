/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-flight syscall table of both objects (tracer.bpf.c, stacks.bpf.c):
 * the arguments of an mmap, munmap, mremap or brk, kept per thread from
 * sys_enter to sys_exit, so that the exit counts a call that succeeded by
 * what it asked for. The syscall numbers are the machine's, set by the
 * loader between open and load, under the same names in both objects.
 *
 * An entry no sys_exit took (made while the exit program was not yet
 * attached) must never be counted as another call: an exit takes only an
 * entry of its own syscall and drops any other, and a thread's entry goes
 * when the thread exits, when its tid is born again (fork) and when exec
 * takes its tid away (a non-leader thread becomes the leader). A full
 * table counts one loss in the caller's counter: that call goes uncounted.
 *
 * Include after vmlinux.h, the bpf_* headers, core_fixes.bpf.h and
 * maps.bpf.h.
 */
#ifndef MEMTRACE_INFLIGHT_BPF_H
#define MEMTRACE_INFLIGHT_BPF_H

#include "inflight.h"

const volatile __u32 nr_mmap = 0;
const volatile __u32 nr_munmap = 0;
const volatile __u32 nr_brk = 0;
const volatile __u32 nr_mremap = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192); /* threads inside one of the four calls at once */
	__type(key, __u32);	   /* tid */
	__type(value, struct mt_inflight);
} sysflight SEC(".maps");

/* Whether nr is one of the four calls the table holds. */
static __always_inline bool mt_inflight_tracks(long nr)
{
	return nr == nr_mmap || nr == nr_munmap || nr == nr_brk || nr == nr_mremap;
}

/*
 * At sys_enter (or a wrapper's fentry: regs are the user's registers) of
 * call nr, one of the four: keeps what it asked for. A full table bumps
 * slot loss_idx of losses, a per-CPU array of __u64.
 */
static __always_inline void mt_inflight_enter(struct pt_regs *regs, long nr, void *losses,
					      __u32 loss_idx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct mt_inflight in = { .nr = nr };

	if (nr == nr_brk) {
		in.old_brk = BPF_CORE_READ(bpf_get_current_task_btf(), mm, brk);
	} else {
		in.len = PT_REGS_PARM2_CORE_SYSCALL(regs);
		if (nr == nr_mremap) {
			in.new_len = PT_REGS_PARM3_CORE_SYSCALL(regs);
		} else if (nr == nr_mmap) {
			in.prot = PT_REGS_PARM3_CORE_SYSCALL(regs);
			in.flags = PT_REGS_PARM4_CORE_SYSCALL(regs);
		}
	}
	if (bpf_map_update_elem(&sysflight, &tid, &in, BPF_ANY))
		mt_percpu_inc(losses, loss_idx);
}

/*
 * At sys_exit of call nr (-1 where the architecture does not say): moves
 * this thread's entry into *out. False when there is none, or when it was
 * left by another call (then it is dropped).
 */
static __always_inline bool mt_inflight_exit(long nr, struct mt_inflight *out)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct mt_inflight *in = bpf_map_lookup_elem(&sysflight, &tid);
	bool mine;

	if (!in)
		return false;
	mine = nr < 0 || in->nr == nr;
	*out = *in;
	bpf_map_delete_elem(&sysflight, &tid);
	return mine;
}

/* sched_process_fork, for every new task (threads too): its tid starts clean. */
static __always_inline void mt_inflight_on_fork(struct task_struct *child)
{
	__u32 tid = BPF_CORE_READ(child, pid);

	bpf_map_delete_elem(&sysflight, &tid);
}

/* sched_process_exec: a thread that execs takes the leader's tid and leaves its own. */
static __always_inline void mt_inflight_on_exec(struct task_struct *task, pid_t old_pid)
{
	__u32 tid = old_pid;

	if (tid != (__u32)BPF_CORE_READ(task, pid))
		bpf_map_delete_elem(&sysflight, &tid);
}

/* sched_process_exit, for every thread (before any last-thread test). */
static __always_inline void mt_inflight_on_exit(struct task_struct *task)
{
	__u32 tid = BPF_CORE_READ(task, pid);

	bpf_map_delete_elem(&sysflight, &tid);
}

#endif /* MEMTRACE_INFLIGHT_BPF_H */
