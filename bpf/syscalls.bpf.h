/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The four counted syscalls (mmap, munmap, mremap, brk) at their exit, for
 * both objects (tracer.bpf.c, stacks.bpf.c). The numbers are the machine's,
 * set by the loader between open and load, under the same names in both.
 *
 * Only sys_exit (or a wrapper's fexit) runs a program: every syscall of the
 * machine passes a raw syscall tracepoint, and the kernel's dispatch of a
 * second program at sys_enter was half of what each one paid. What a call
 * asked for is still in the user's registers at its exit (the syscall ABI
 * keeps every argument register but the result's), and brk's old break is
 * the one the last brk left, which the caller keeps per process.
 *
 * Include after vmlinux.h and the bpf_* headers.
 */
#ifndef MEMTRACE_SYSCALLS_BPF_H
#define MEMTRACE_SYSCALLS_BPF_H

const volatile __u32 nr_mmap = 0;
const volatile __u32 nr_munmap = 0;
const volatile __u32 nr_brk = 0;
const volatile __u32 nr_mremap = 0;

/* Whether nr is one of the four counted calls; nr < 0 (unknown) is not. */
static __always_inline bool mt_syscall_counted(long nr)
{
	return nr == nr_mmap || nr == nr_munmap || nr == nr_brk || nr == nr_mremap;
}

/* What the call asked for, from the user's registers at its exit. */
struct mt_syscall_args {
	__u64 len;     /* mmap/munmap length, mremap old_len (bytes, as asked) */
	__u64 new_len; /* mremap new_len (bytes) */
	__u32 prot;    /* mmap prot */
	__u32 flags;   /* mmap flags */
};

static __always_inline void mt_syscall_args(struct pt_regs *regs, long nr,
					    struct mt_syscall_args *out)
{
	out->len = PT_REGS_PARM2_CORE_SYSCALL(regs);
	out->new_len = 0;
	out->prot = 0;
	out->flags = 0;
	if (nr == nr_mremap) {
		out->new_len = PT_REGS_PARM3_CORE_SYSCALL(regs);
	} else if (nr == nr_mmap) {
		out->prot = PT_REGS_PARM3_CORE_SYSCALL(regs);
		out->flags = PT_REGS_PARM4_CORE_SYSCALL(regs);
	}
}

/*
 * The record a syscalls:sys_exit_* tracepoint program gets (the kernel's
 * perf_call_bpf_exit(): the common header's 8 bytes, the syscall's number,
 * its result). The loader checks each event's format file for these
 * offsets (tracefs_ids__sys_exits() in src/tracefs_ids.c) and takes another rung if they
 * differ. The user's registers are not in it: bpf_task_pt_regs() gives them.
 */
struct mt_sys_exit_tp {
	__u64 common;
	__s32 nr;
	__s32 pad;
	__s64 ret;
};

/* The current task's user registers, as the syscall left them. */
static __always_inline struct pt_regs *mt_user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* The current process's break now, 0 when it has no mm. */
static __always_inline __u64 mt_current_brk(void)
{
	return BPF_CORE_READ(bpf_get_current_task_btf(), mm, brk);
}

/*
 * brk's exit: *seen holds the break as the process's last brk left it (0
 * when not known). Stores the break now and returns the old one in *old
 * (0 when it was not known), the new one in *now. The break is read from
 * the mm rather than taken from the result: brk calls of one process are
 * serialised by the kernel but their exits are not, and with the mm's
 * value the moves still add up to the last break less the first.
 */
static __always_inline void mt_brk_move(__u64 *seen, __u64 *old, __u64 *now)
{
	*now = mt_current_brk();
	*old = __sync_lock_test_and_set(seen, *now);
}

#endif /* MEMTRACE_SYSCALLS_BPF_H */
