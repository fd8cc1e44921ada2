/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PID namespaces (containers). The BPF tracers key processes by their tgid
 * in the initial namespace, the only one the kernel side sees; memtrace
 * running inside a PID namespace forks children, reads /proc and prints
 * PIDs of its own namespace. A struct pidns translates between the two
 * with a task iterator (bpf/pidns.bpf.c), run when a PID is not known yet,
 * and the fork tracepoint, which gives every process forked after
 * pidns__open its pair at once, however short it lives.
 *
 * Everything accepts a NULL pidns, meaning memtrace runs in the initial
 * namespace and PIDs pass unchanged.
 */
#ifndef MEMTRACE_PIDNS_API_H
#define MEMTRACE_PIDNS_API_H

#include <stdbool.h>
#include <stdint.h>

struct pidns;

/*
 * *out = NULL (and 0) in the initial PID namespace. In another one, a
 * translator, or -errno after one line saying what failed (for example
 * no BPF task iterators on this kernel).
 */
int pidns__open(struct pidns **out);
void pidns__free(struct pidns *p); /* NULL is fine */

/*
 * Whether this process's /proc belongs to its own PID namespace. A /proc
 * of an ancestor namespace (unshare --pid without --mount-proc) shows
 * other PIDs than fork() returns; commands that mix the two refuse with
 * -EXDEV after one line.
 */
int pidns__check_proc(void);

/* Host tgid of a PID of our namespace; 0 when there is no such process. */
uint32_t pidns__to_host(struct pidns *p, uint32_t ns_pid);

/*
 * Our namespace's PID for a host tgid; 0 when the process is not visible
 * from here (it lives outside the namespace). A process that exited keeps
 * its last translation until pidns__forget.
 */
uint32_t pidns__to_ns(struct pidns *p, uint32_t host_tgid);

/* Drop what is kept for an exited host tgid (the tracer reaped it). */
void pidns__forget(struct pidns *p, uint32_t host_tgid);

/* New processes of the namespace whose pairs found the fork ring full (live ones are still found).
 */
uint64_t pidns__lost(const struct pidns *p);

/* Allow one more iterator run for PIDs not known yet (callers: once per poll). */
void pidns__next_round(struct pidns *p);

#endif /* MEMTRACE_PIDNS_API_H */
