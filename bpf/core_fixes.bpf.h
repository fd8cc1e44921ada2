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

static __always_inline long mm_rss_read(struct mm_struct *mm, int member)
{
	long v = 0;

	struct mm_struct___pre62 *old = (void *)mm;

	if (bpf_core_field_exists(old->rss_stat.count))
		v = BPF_CORE_READ(old, rss_stat.count[member].counter);
	else
		v = BPF_CORE_READ(mm, rss_stat[member].count);
	/* like get_mm_counter(): a batched per-CPU sum may dip below zero */
	return v < 0 ? 0 : v;
}

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

#endif /* MEMTRACE_CORE_FIXES_BPF_H */
