/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The perf event ids of classic tracepoints (events/GROUP/NAME/id in
 * tracefs), for attaching BPF_PROG_TYPE_TRACEPOINT programs through
 * perf_event_open(PERF_TYPE_TRACEPOINT) where tracefs is not mounted.
 *
 * From a mounted tracefs (/sys/kernel/tracing, then
 * /sys/kernel/debug/tracing: a directory that statfs says is tracefs,
 * owned by root), else from a private mount made by a forked child (its own
 * mount namespace, every mount private, tracefs on a mkdtemp() directory;
 * the ids come back over a pipe and the host's mounts never change). The
 * child calls no allocator, so this may run when threads exist. Each
 * event's format file is checked to hold the fields a program reads, at
 * the offsets and sizes it reads them. No path component is a symlink.
 */
#ifndef MEMTRACE_TRACEFS_IDS_H
#define MEMTRACE_TRACEFS_IDS_H

#include <stddef.h>
#include <stdint.h>

#define TRACEFS_MAX_EVENTS 8

/* A field of an event's record as a program reads it (bytes from the record's start). */
struct tracefs_field {
	const char *name; /* "ret", "__syscall_nr" */
	uint32_t offset;
	uint32_t size;
};

struct tracefs_event {
	const char *name;		    /* "syscalls/sys_exit_mmap" */
	const struct tracefs_field *fields; /* ended by a NULL name */
};

struct tracefs_ids_opts {
	/* bench/tests: skip a mounted tracefs and take the private mount's ids */
	int private_only;
};

/*
 * The ids of events[0..n) into ids[], and where they came from into source
 * ("/sys/kernel/tracing", "a private tracefs mount"). 0, or -errno with why
 * filled: -ENOENT no such event (no CONFIG_FTRACE_SYSCALLS), -EPERM no
 * private mount allowed (no CAP_SYS_ADMIN) and none mounted, -EPROTO a
 * format that differs from what the programs read.
 */
int tracefs_ids__get(const struct tracefs_event *events, int n, const struct tracefs_ids_opts *opts,
		     uint32_t *ids, char *source, size_t source_len, char *why, size_t why_len);

/*
 * tracefs_ids__get() of syscalls:sys_exit_<syscalls[i]> for i in [0, n), each
 * format checked for what struct mt_sys_exit_tp (bpf/syscalls.bpf.h) reads:
 * the syscall's number at offset 8 (4 bytes) and its result at 16 (8 bytes).
 */
int tracefs_ids__sys_exits(const char *const *syscalls, int n, const struct tracefs_ids_opts *opts,
			   uint32_t *ids, char *source, size_t source_len, char *why,
			   size_t why_len);

#endif /* MEMTRACE_TRACEFS_IDS_H */
