/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Nothing a command started by memtrace survives memtrace, even when
 * memtrace itself is SIGKILLed and cannot clean up.
 *
 * The command goes into a cgroup v2 child group of memtrace's own cgroup
 * (memtrace-run.PID), so that background jobs, double forks and setsid()
 * grandchildren stay in it, and cgroup.kill ends them all at once. A
 * watchdog process, forked at tree_guard__new() into a session of its own
 * (a kill of memtrace's process group misses it) and holding only the read
 * end of a pipe, sees EOF when memtrace dies however it dies; it then
 * kills the group and removes the directory. When cgroup v2 is not mounted
 * writable (containers often mount it read-only), the fallback is the
 * command's process group and memtrace's own descendants: memtrace is a
 * child subreaper (set by tree_guard__new), so what left the group with
 * setsid() or a double fork is still a descendant, and tree_guard__kill
 * sweeps them all. The watchdog, when memtrace dies, stops the process
 * group and every PID it was told of (tree_guard__watch, start times
 * checked), then, pass after pass over /proc until nothing new turns up,
 * what those started since (their children, and orphans in their groups
 * and sessions), and kills them all. Only a process that left every known
 * session after memtrace last told the watchdog, and whose parent is gone,
 * can escape then (tree_guard__mode says which guard is in place).
 */
#ifndef MEMTRACE_TREEGUARD_H
#define MEMTRACE_TREEGUARD_H

#include <stdbool.h>
#include <sys/types.h>

struct tree_guard;

/*
 * Creates the cgroup (or settles for the fallback, said at -v) and forks
 * the watchdog. Call before any thread is started. NULL with errno when
 * not even the watchdog could be started.
 */
struct tree_guard *tree_guard__new(void);

/*
 * Puts pid (held before exec, its own process group leader) under the
 * guard: into the cgroup, and its group into the watchdog's hands. 0 or
 * -errno (the process group guard still holds then).
 */
int tree_guard__adopt(struct tree_guard *g, pid_t pid);

/*
 * Kills everything under the guard and waits until the cgroup is empty;
 * in the fallback, kills and reaps every descendant of memtrace but the
 * watchdog (not the adopted command: its caller reaps it). 0 or -errno.
 */
int tree_guard__kill(struct tree_guard *g);

/*
 * Fallback only (a no-op under a cgroup): tells the watchdog of one more
 * process of the tree, with its start time so that a reused PID is never
 * killed. Call for the tree's processes as they are found; each PID is
 * sent once (a PID the tree reuses is missed, never mistaken). 0 or
 * -errno (-ENOENT: it is gone already).
 */
int tree_guard__watch(struct tree_guard *g, pid_t pid);

/* Fallback only: tree_guard__watch for every descendant of ours now. 0 or -errno. */
int tree_guard__watch_tree(struct tree_guard *g);

/* "cgroup" or "process group". */
const char *tree_guard__mode(const struct tree_guard *g);

/* The cgroup directory, or NULL in the fallback. */
const char *tree_guard__cgroup(const struct tree_guard *g);

/* Kills what is left, removes the cgroup, dismisses the watchdog. NULL is fine. */
void tree_guard__free(struct tree_guard *g);

#endif /* MEMTRACE_TREEGUARD_H */
