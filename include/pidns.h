/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ABI between bpf/pidns.bpf.c and src/pidns.c: one record per live
 * thread group visible in memtrace's PID namespace, written by a task
 * iterator. The tracer keys everything by the host (initial namespace)
 * tgid, which is all the kernel side can see; these pairs let user space
 * inside a container translate to and from the PIDs its /proc shows.
 */
#ifndef MEMTRACE_PIDNS_H
#define MEMTRACE_PIDNS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* pid_namespace nesting the kernel allows (MAX_PID_NS_LEVEL) */
#define MT_PIDNS_MAX_LEVEL 32

struct mt_pidns_pair {
	__u32 host_tgid; /* in the initial PID namespace */
	__u32 ns_tgid;	 /* in the namespace of target_ns_inum */
};
_Static_assert(sizeof(struct mt_pidns_pair) == 8, "ABI");

#endif /* MEMTRACE_PIDNS_H */
