/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Compatibility shims for kernel layout changes, one per change, each
 * decided by CO-RE at load time (no LINUX_VERSION_CODE branches).
 */
#ifndef MEMTRACE_CORE_FIXES_BPF_H
#define MEMTRACE_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * Before v6.2 ("mm: convert mm's rss stats into percpu_counter", f1a7941243c1)
 * mm->rss_stat was a struct mm_rss_stat holding atomic_long_t count[]; since
 * then it is an array of percpu_counter whose .count is the cheap, batched
 * value that /proc/PID/status also shows.
 */
struct mm_rss_stat___pre62 {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___pre62 {
	struct mm_rss_stat___pre62 rss_stat;
} __attribute__((preserve_access_index));

/* like get_mm_counter(): a batched per-CPU sum may dip below zero */
static __always_inline __u64 rss_clamp(long v)
{
	return v < 0 ? 0 : v;
}

/* Through bpf_probe_read_kernel(), for raw tracepoints (untyped arguments). */
static __always_inline __u64 mm_rss_read(struct mm_struct *mm, int member)
{
	struct mm_struct___pre62 *old = (void *)mm;

	if (bpf_core_field_exists(old->rss_stat.count))
		return rss_clamp(BPF_CORE_READ(old, rss_stat.count[member].counter));
	return rss_clamp(BPF_CORE_READ(mm, rss_stat[member].count));
}

/*
 * Direct loads from a BTF-typed pointer (tp_btf arguments): no helper call
 * per field, which was most of rss_stat's cost. member must be a constant:
 * the verifier allows no variable offsets into kernel objects. Before v6.2
 * the counters are reached through a probe read: the verifier of those
 * kernels cannot walk into an array of typedefs ("Type 'atomic_long_t' is
 * not a struct"), and the branch not taken is never verified.
 */
#define MM_RSS_READ_BTF(mm, member)                                                                \
	(bpf_core_field_exists(((struct mm_struct___pre62 *)(mm))->rss_stat.count)                 \
	     ? rss_clamp(BPF_CORE_READ((struct mm_struct___pre62 *)(mm),                           \
				       rss_stat.count[member].counter))                            \
	     : rss_clamp((mm)->rss_stat[member].count))

/*
 * v5.5 renamed task_struct.real_start_time to start_boottime (cf21f328fcaf).
 */
struct task_struct___pre55 {
	__u64 real_start_time;
} __attribute__((preserve_access_index));

static __always_inline __u64 task_start_ns(struct task_struct *task)
{
	if (bpf_core_field_exists(task->start_boottime))
		return BPF_CORE_READ(task, start_boottime);
	return BPF_CORE_READ((struct task_struct___pre55 *)task, real_start_time);
}

/*
 * mm->owner exists only with CONFIG_MEMCG. Without it, an rss_stat event is
 * attributed only when it fires in the mm's own process context.
 */
static __always_inline struct task_struct *mm_owner(struct mm_struct *mm)
{
	if (bpf_core_field_exists(mm->owner))
		return BPF_CORE_READ(mm, owner);
	return NULL;
}

/* The same through direct loads, for tp_btf. */
static __always_inline struct task_struct *mm_owner_btf(struct mm_struct *mm)
{
	if (bpf_core_field_exists(mm->owner))
		return mm->owner;
	return NULL;
}

/*
 * The syscall number at sys_exit, which passes only the result: x86 keeps
 * it in orig_ax, arm64 in syscallno. -1 where unknown, meaning "look it
 * up". The _btf form loads directly from a tp_btf argument; the other
 * reads through bpf_probe_read_kernel() for raw tracepoints. The flavour
 * is named for us: libbpf's bpf_tracing.h has its own pt_regs___arm64.
 */
struct pt_regs___mt_arm64 {
	int syscallno;
} __attribute__((preserve_access_index));

static __always_inline long syscall_nr_btf(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return regs->orig_ax;
#elif defined(__TARGET_ARCH_arm64)
	return ((struct pt_regs___mt_arm64 *)regs)->syscallno;
#else
	return -1;
#endif
}

static __always_inline long syscall_nr_raw(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	return BPF_CORE_READ((struct pt_regs___mt_arm64 *)regs, syscallno);
#else
	return -1;
#endif
}

#endif /* MEMTRACE_CORE_FIXES_BPF_H */
