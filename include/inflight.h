/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The value of the in-flight syscall table both BPF objects keep
 * (bpf/inflight.bpf.h): what an mmap, munmap, mremap or brk asked for, from
 * sys_enter to sys_exit, by thread id. User space never reads it; the BPF
 * tests plant entries to check that a stale one is not taken.
 * Fixed-width types only, size pinned.
 */
#ifndef MEMTRACE_INFLIGHT_H
#define MEMTRACE_INFLIGHT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

struct mt_inflight {
	__u64 len;     /* mmap/munmap length, mremap old_len (bytes, as asked) */
	__u64 new_len; /* mremap new_len (bytes) */
	__u64 old_brk; /* brk: the break before the call */
	__u32 prot;    /* mmap prot */
	__u32 flags;   /* mmap flags */
	__u32 nr;      /* syscall number */
	__u32 pad;
};
_Static_assert(sizeof(struct mt_inflight) == 40, "mt_inflight ABI");

#endif /* MEMTRACE_INFLIGHT_H */
