/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memtrace snapshot: RAM and swap per program from /proc/PID/smaps_rollup,
 * counted with PSS so that shared pages are not counted twice.
 *
 * Three stages, one file each: collection (snapshot_collect.c: walk /proc,
 * read every process, in parallel), grouping (snapshot_group.c: naming,
 * de-duplication of shared address spaces, grouping, sorting) and the
 * command with its output (snapshot.c). All sizes are in bytes.
 */
#ifndef MEMTRACE_SNAPSHOT_H
#define MEMTRACE_SNAPSHOT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "smaps.h"

enum snap_by {
	SNAP_BY_PROGRAM,
	SNAP_BY_PID,
	SNAP_BY_USER,
	SNAP_BY_CGROUP,
};

/*
 * The grouping keys as snapshot's --by and serve's --group-by spell them,
 * matched exactly (no prefixes): snapshot_by_parse() gives 0 and sets *out,
 * or -EINVAL for anything else, for a message that lists SNAP_BY_CHOICES.
 * snapshot_by_name() is the spelling back ("program" for an unknown value).
 */
#define SNAP_BY_CHOICES "program, pid, user or cgroup"
int snapshot_by_parse(const char *s, enum snap_by *out);
const char *snapshot_by_name(enum snap_by by);

enum snap_sort {
	SNAP_SORT_RAM,
	SNAP_SORT_PRIVATE,
	SNAP_SORT_SHARED,
	SNAP_SORT_SWAP,
	SNAP_SORT_COUNT,
};

/* what became of one process */
enum snap_state {
	SNAP_OK,
	SNAP_GONE,	 /* exited while being read: skipped quietly */
	SNAP_NO_MM,	 /* kernel thread or zombie: nothing to count */
	SNAP_UNREADABLE, /* EACCES/EPERM: counted and reported */
	SNAP_FILTERED,	 /* did not match --filter */
	SNAP_FAILED,	 /* malformed content or I/O error: reported */
};

/*
 * What the worker that read a record and the one before it (procs[i - 1])
 * learnt from kcmp when the two looked alike (see snapshot_dedupe).
 */
enum snap_prev_mm {
	SNAP_PREV_UNASKED, /* not compared: dedupe asks itself */
	SNAP_PREV_SAME,	   /* one mm */
	SNAP_PREV_OTHER,   /* two mms */
	SNAP_PREV_UNKNOWN, /* the kernel could not tell */
};

/* NAME_MAX plus room for " [deleted]" / " [updated]" */
#define SNAP_NAME_LEN 272

struct snap_proc {
	int pid;
	int state;		/* enum snap_state */
	int err;		/* -errno behind a state other than SNAP_OK */
	int dup_of;		/* index of the record whose mm this one shares, or -1 */
	int prev_mm;		/* enum snap_prev_mm: this record's mm against procs[i - 1]'s */
	uint32_t uid;		/* effective uid, read only for --by user */
	uint64_t private_bytes; /* Private_Clean + Private_Dirty + Private_Hugetlb */
	uint64_t shared_bytes;	/* Pss - Private_Clean - Private_Dirty + Shared_Hugetlb */
	uint64_t swap_bytes;	/* SwapPss, or Swap where the kernel has no SwapPss */
	uint64_t pss;		/* the kernel's Pss, as read */
	uint64_t rss;
	uint64_t vm_start; /* address span: identifies the mm with rss (dedupe) */
	uint64_t vm_end;
	char *cgroup;	  /* malloc'd, only for --by cgroup */
	const char *name; /* never NULL: in the collection's snap_strings, or the caller's */
};

struct snapshot_opts {
	enum snap_by by;
	const regex_t *filter; /* NULL: no --filter */
	int threads;	       /* 0: one per online CPU */
	bool no_names;	       /* skip comm and exe (--total needs no names) */
	size_t first_cap;      /* snapshot_collect_all's first room (0: /proc's count); tests */
};

/* The names that collected records point into; snap_strings__free() accepts NULL. */
struct snap_strings;
void snap_strings__free(struct snap_strings *s);

/*
 * Read every PID in pids (n of them) into procs[0..n), one record per PID,
 * in parallel over opts->threads. Never fails on a single process: its
 * state says what happened (a name that found no memory: SNAP_FAILED,
 * -ENOMEM). The records' names are in *names, to be freed after them.
 * Returns 0 or -errno (thread or memory trouble; then *names is NULL).
 */
int snapshot_collect(const int *pids, size_t n, const struct snapshot_opts *opts,
		     struct snap_proc *procs, struct snap_strings **names);

/*
 * As snapshot_collect for every PID in /proc but skip_pid (ours), listed
 * by the calling thread while the other workers already read the first
 * ones: *procs is malloc'd (in /proc's order), *n set. Returns 0 or -errno
 * (/proc not listable, thread or memory trouble).
 */
int snapshot_collect_all(int skip_pid, const struct snapshot_opts *opts, struct snap_proc **procs,
			 size_t *n, struct snap_strings **names);

/*
 * All PIDs in /proc except skip_pid (ours): *pids is malloc'd, *n set.
 * Returns 0 or -errno.
 */
int snapshot_list_pids(int **pids, size_t *n, int skip_pid);

/* Fill the figures of p from one rollup (hugetlb added, SwapPss preferred). */
void snap_proc__set_rollup(struct snap_proc *p, const struct smaps_rollup *s);

/*
 * Look-alikes may share one mm: equal span and rss (the address layout is
 * random per exec, so unrelated programs rarely match, forked workers do).
 */
static inline bool snap_proc__looks_alike(const struct snap_proc *a, const struct snap_proc *b)
{
	return a->vm_start == b->vm_start && a->vm_end == b->vm_end && a->rss == b->rss;
}

/*
 * ps_mem's naming rule: the program is the process's comm, unless the
 * basename of its exe link starts with comm, in which case the basename
 * (not cut at 15 bytes) is used. A script run through its #! line has the
 * script's name as comm, so "backup.py" shows as such while "python3
 * backup.py" shows as "python3.11". exe_link may end in " (deleted)":
 * the suffix becomes " [updated]" when exe_exists says the path is there
 * again (a package upgrade), " [deleted]" otherwise. exe_link NULL (link
 * unreadable) means comm alone. Writes at most outlen bytes including NUL.
 */
void snap_program_name(const char *exe_link, bool exe_exists, const char *comm, char *out,
		       size_t outlen);

/*
 * Whether two processes share one mm: kcmp(KCMP_VM) answers exactly. The
 * grouping code takes it as a function so tests can stand in for it.
 * Returns <0, 0, >0 as an ordering (0: same mm), or SNAP_MM_UNKNOWN when
 * the kernel cannot tell (no kcmp, not permitted).
 */
#define SNAP_MM_UNKNOWN 0x7fff
typedef int (*snap_mm_cmp_fn)(int pid_a, int pid_b);
int snap_kcmp_vm(int pid_a, int pid_b);

/*
 * Mark processes that share an address space (CLONE_VM without being
 * threads: vfork children, some servers) so they are counted once: all but
 * the lowest PID get dup_of set. Candidates ("look-alikes") have equal
 * vm_start, vm_end and rss: the layout is random per exec, so unrelated
 * programs rarely match, but forked workers of one parent do. mm_cmp
 * (kcmp) confirms every merge, so distinct mms are never merged; where the
 * collecting worker already compared a record with the one before it
 * (prev_mm), that answer is taken instead of asking again. Runs of up
 * to 64 look-alikes are sorted by mm and every sharer is found; in larger
 * runs (worker pools, where k log k kcmp calls would cost more than reading
 * the processes) only PID neighbours are compared, which finds vfork and
 * clone children next to their creator but can miss a sharer whose PID is
 * not adjacent to another's among the look-alikes. When mm_cmp cannot tell
 * (no kcmp), nothing is marked: forked look-alikes are far more common than
 * shared mms, and ps_mem's merging of equal-looking processes under-counts
 * them. Only SNAP_OK records take part. Returns the number marked, or
 * -ENOMEM.
 */
int snapshot_dedupe(struct snap_proc *procs, size_t n, snap_mm_cmp_fn mm_cmp);

struct snap_group {
	const char *name;   /* points into a record (or the user name table) */
	int pid;	    /* --by pid: the process; otherwise its first PID */
	uint32_t uid;	    /* --by user */
	unsigned int count; /* processes, duplicates of an mm included */
	unsigned int id;    /* position before the sort (snapshot_group_map's own) */
	uint64_t private_bytes;
	uint64_t shared_bytes;
	uint64_t swap_bytes;
};

static inline uint64_t snap_group_ram(const struct snap_group *g)
{
	return g->private_bytes + g->shared_bytes;
}

struct snap_totals {
	unsigned int processes; /* counted (SNAP_OK), duplicates included */
	unsigned int unreadable;
	unsigned int failed;
	unsigned int gone;
	uint64_t private_bytes;
	uint64_t shared_bytes;
	uint64_t swap_bytes;
};

/*
 * Group the SNAP_OK records by opts->by (after snapshot_dedupe) into a
 * malloc'd array sorted by `sort`, largest first (ties by name). For
 * SNAP_BY_USER, user_name(uid) names the group (NULL: the number).
 * Returns the number of groups or -ENOMEM; totals are filled in too.
 */
typedef const char *(*snap_user_name_fn)(uint32_t uid);
int snapshot_group(struct snap_proc *procs, size_t n, enum snap_by by, enum snap_sort sort,
		   snap_user_name_fn user_name, struct snap_group **groups,
		   struct snap_totals *totals);

/*
 * As snapshot_group, and group_of[i] (n entries) says which of *groups
 * record i joined (-1: not SNAP_OK), for callers that sum figures of their
 * own per group (serve). group_of may be NULL.
 */
int snapshot_group_map(struct snap_proc *procs, size_t n, enum snap_by by, enum snap_sort sort,
		       snap_user_name_fn user_name, struct snap_group **groups,
		       struct snap_totals *totals, int *group_of);

/* A uid's login name, or the number; cached, valid until 256 other uids were asked. */
const char *snap_user_name(uint32_t uid);

/*
 * The program name of pid by snap_program_name()'s rule, from its comm and
 * exe link, into name (len bytes, SNAP_NAME_LEN fits any); 0 or -errno
 * (-ENOENT: gone).
 */
int snap_read_name(int pid, char *name, size_t len);

/*
 * pid's cgroup v2 path ("/user.slice/..."), or the first hierarchy's on v1:
 * malloc'd, or NULL. buf/cap is a reusable read buffer (as proc_read_file).
 */
char *snap_read_cgroup(int pid, char **buf, size_t *cap);

#endif /* MEMTRACE_SNAPSHOT_H */
