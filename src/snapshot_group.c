// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot grouping: program names, counting shared address spaces once,
 * groups and their order. Sorting an index array replaces a hash table
 * here: one O(n log n) pass per snapshot, nothing to size or resize.
 * Comparators take their context through qsort_r, never from globals.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/kcmp.h>
#include "snapshot.h"

static const char *const by_names[] = {
	[SNAP_BY_PROGRAM] = "program",
	[SNAP_BY_PID] = "pid",
	[SNAP_BY_USER] = "user",
	[SNAP_BY_CGROUP] = "cgroup",
};

int snapshot_by_parse(const char *s, enum snap_by *out)
{
	for (size_t i = 0; i < sizeof(by_names) / sizeof(by_names[0]); i++) {
		if (by_names[i] && strcmp(s, by_names[i]) == 0) {
			*out = (enum snap_by)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *snapshot_by_name(enum snap_by by)
{
	if ((size_t)by < sizeof(by_names) / sizeof(by_names[0]) && by_names[by])
		return by_names[by];
	return by_names[SNAP_BY_PROGRAM];
}

void snap_proc__set_rollup(struct snap_proc *p, const struct smaps_rollup *s)
{
	uint64_t priv = smaps_private(s);

	p->private_bytes = priv + s->private_hugetlb;
	/* Pss >= private in the kernel's sums; clamp in case a reader races */
	p->shared_bytes = (s->pss > priv ? s->pss - priv : 0) + s->shared_hugetlb;
	p->swap_bytes = (s->present & SMAPS_HAS_SWAP_PSS) ? s->swap_pss : s->swap;
	p->pss = s->pss;
	p->rss = s->rss;
	p->vm_start = s->vm_start;
	p->vm_end = s->vm_end;
}

void snap_program_name(const char *exe_link, bool exe_exists, const char *comm, char *out,
		       size_t outlen)
{
	static const char deleted[] = " (deleted)";
	const char *base, *suffix = "";
	size_t len, dlen = sizeof(deleted) - 1;

	if (!exe_link || !*exe_link) {
		snprintf(out, outlen, "%s", comm);
		return;
	}
	len = strlen(exe_link);
	if (len > dlen && strcmp(exe_link + len - dlen, deleted) == 0) {
		len -= dlen;
		suffix = exe_exists ? " [updated]" : " [deleted]";
	}
	base = memrchr(exe_link, '/', len);
	base = base ? base + 1 : exe_link;
	len -= (size_t)(base - exe_link);
	if (*comm && strlen(comm) <= len && strncmp(base, comm, strlen(comm)) == 0)
		snprintf(out, outlen, "%.*s%s", (int)len, base, suffix);
	else
		snprintf(out, outlen, "%s", comm);
}

/* A handful of users on any machine: a small table beats a hash here. */
static struct {
	uint32_t uid;
	char name[64];
} user_cache[256];
static size_t user_cache_len;

const char *snap_user_name(uint32_t uid)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	size_t i;

	for (i = 0; i < user_cache_len; i++)
		if (user_cache[i].uid == uid)
			return user_cache[i].name;
	if (i == sizeof(user_cache) / sizeof(user_cache[0]))
		i = 0; /* full: reuse a slot (names are printed before the next lookup) */
	else
		user_cache_len++;
	user_cache[i].uid = uid;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		snprintf(user_cache[i].name, sizeof(user_cache[i].name), "%s", pw.pw_name);
	else
		snprintf(user_cache[i].name, sizeof(user_cache[i].name), "%u", uid);
	return user_cache[i].name;
}

int snap_kcmp_vm(int pid_a, int pid_b)
{
	long ret = syscall(SYS_kcmp, pid_a, pid_b, KCMP_VM, 0, 0);

	/* 0 equal, 1 less, 2 greater (kernel pointer order), 3 unordered */
	switch (ret) {
	case 0:
		return 0;
	case 1:
		return -1;
	case 2:
		return 1;
	default:
		return SNAP_MM_UNKNOWN;
	}
}

static bool ok(const struct snap_proc *p)
{
	return p->state == SNAP_OK;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

/* glibc's qsort_r: the comparators get the records through their argument */
static int cmp_candidate(const void *a, const void *b, void *arg)
{
	const struct snap_proc *procs = arg;
	const struct snap_proc *x = &procs[*(const size_t *)a];
	const struct snap_proc *y = &procs[*(const size_t *)b];
	int c;

	/* the sort's order, with snap_proc__looks_alike() as its equality */
	c = cmp_u64(x->vm_start, y->vm_start);
	if (!c)
		c = cmp_u64(x->vm_end, y->vm_end);
	if (!c)
		c = cmp_u64(x->rss, y->rss);
	return c;
}

/*
 * Runs of look-alikes up to this size are sorted by kcmp (k log k calls of
 * ~1.7 us each) and every shared mm in them is found; larger runs are
 * pools of forked workers, where that would cost more than reading them.
 */
#define EXACT_RUN 64

struct mm_sort {
	const struct snap_proc *procs;
	snap_mm_cmp_fn mm_cmp;
	unsigned char *twin; /* per record: compared equal to some other record */
	bool unknown;	     /* the kernel could not tell: fall back to look-alikes */
};

/*
 * mm_cmp(a, b) as far as equality goes (0 one mm, else not 0), taking the
 * collecting worker's answer for adjacent records when it has one.
 */
static int same_mm(const struct snap_proc *procs, size_t a, size_t b, snap_mm_cmp_fn mm_cmp)
{
	size_t lo = a < b ? a : b, hi = a < b ? b : a;

	if (hi == lo + 1) {
		switch (procs[hi].prev_mm) {
		case SNAP_PREV_SAME:
			return 0;
		case SNAP_PREV_OTHER:
			return 1;
		case SNAP_PREV_UNKNOWN:
			return SNAP_MM_UNKNOWN;
		default:
			break;
		}
	}
	return mm_cmp(procs[a].pid, procs[b].pid);
}

/* kcmp order, ties (one mm) by PID; notes equal pairs so none is asked twice */
static int cmp_mm(const void *a, const void *b, void *arg)
{
	struct mm_sort *ms = arg;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	int c = ms->unknown ? 0 : ms->mm_cmp(ms->procs[ia].pid, ms->procs[ib].pid);

	if (c == SNAP_MM_UNKNOWN) {
		ms->unknown = true;
		c = 0;
	}
	if (c)
		return c;
	ms->twin[ia] = ms->twin[ib] = 1;
	return ms->procs[ia].pid - ms->procs[ib].pid;
}

/* PID order, for the neighbour checks of large runs */
static int cmp_pid(const void *a, const void *b, void *arg)
{
	const struct snap_proc *procs = arg;

	return procs[*(const size_t *)a].pid - procs[*(const size_t *)b].pid;
}

int snapshot_dedupe(struct snap_proc *procs, size_t n, snap_mm_cmp_fn mm_cmp)
{
	struct mm_sort ms = { .procs = procs, .mm_cmp = mm_cmp };
	size_t *idx, m = 0, i, j;
	int marked = 0, err = 0;

	idx = malloc((n ? n : 1) * sizeof(*idx));
	ms.twin = calloc(n ? n : 1, 1);
	if (!idx || !ms.twin) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < n; i++) {
		procs[i].dup_of = -1;
		if (ok(&procs[i]))
			idx[m++] = i;
	}
	qsort_r(idx, m, sizeof(*idx), cmp_candidate, procs);
	for (i = 0; i < m; i = j) {
		for (j = i + 1; j < m && cmp_candidate(&idx[i], &idx[j], procs) == 0; j++)
			;
		if (j - i < 2)
			continue;
		ms.unknown = false;
		if (j - i > EXACT_RUN || j - i == 2) {
			/*
			 * A pool of forked workers: kcmp only PID neighbours, where
			 * vfork and clone(CLONE_VM) children land next to their
			 * creator. kcmp still confirms each merge. A pair is one
			 * neighbour check too, and then exact.
			 */
			qsort_r(idx + i, j - i, sizeof(*idx), cmp_pid, procs);
			for (size_t k = i + 1, first = i; k < j; k++) {
				int c = same_mm(procs, idx[k - 1], idx[k], mm_cmp);

				if (c == SNAP_MM_UNKNOWN)
					break;
				if (c == 0) {
					procs[idx[k]].dup_of = (int)idx[first];
					marked++;
				} else {
					first = k;
				}
			}
			continue;
		}
		qsort_r(idx + i, j - i, sizeof(*idx), cmp_mm, &ms);
		if (ms.unknown) /* no kcmp: forked look-alikes are likelier than shared mms */
			continue;
		/*
		 * Neighbours in one mm were compared by the sort (a sort must
		 * compare every adjacent pair), so only twins need asking again.
		 */
		for (size_t k = i + 1, first = i; k < j; k++) {
			size_t a = idx[k - 1], b = idx[k];
			int c = 1;

			if (ms.twin[a] && ms.twin[b])
				c = same_mm(procs, a, b, mm_cmp);
			if (c == 0) {
				procs[b].dup_of = (int)idx[first];
				marked++;
			} else {
				first = k;
			}
		}
	}
cleanup:
	free(ms.twin);
	free(idx);
	return err ? err : marked;
}

struct group_sort {
	const struct snap_proc *procs;
	enum snap_by by;
	enum snap_sort sort;
};

static const struct snap_proc *owner(const struct snap_proc *procs, const struct snap_proc *p)
{
	return p->dup_of >= 0 ? &procs[p->dup_of] : p;
}

static const char *cgroup_of(const struct snap_proc *p)
{
	return p->cgroup ? p->cgroup : "?";
}

/* the grouping key of a record: a duplicate joins the group of its mm's owner */
static int cmp_key(const void *a, const void *b, void *arg)
{
	const struct group_sort *gs = arg;
	const struct snap_proc *x = owner(gs->procs, &gs->procs[*(const size_t *)a]);
	const struct snap_proc *y = owner(gs->procs, &gs->procs[*(const size_t *)b]);

	switch (gs->by) {
	case SNAP_BY_PID:
		return x->pid - y->pid;
	case SNAP_BY_USER:
		return x->uid < y->uid ? -1 : x->uid > y->uid;
	case SNAP_BY_CGROUP:
		return strcmp(cgroup_of(x), cgroup_of(y));
	case SNAP_BY_PROGRAM:
	default:
		return strcmp(x->name, y->name);
	}
}

static uint64_t sort_value(const struct snap_group *g, enum snap_sort sort)
{
	switch (sort) {
	case SNAP_SORT_PRIVATE:
		return g->private_bytes;
	case SNAP_SORT_SHARED:
		return g->shared_bytes;
	case SNAP_SORT_SWAP:
		return g->swap_bytes;
	case SNAP_SORT_COUNT:
		return g->count;
	case SNAP_SORT_RAM:
	default:
		return snap_group_ram(g);
	}
}

static int cmp_group(const void *a, const void *b, void *arg)
{
	const struct group_sort *gs = arg;
	const struct snap_group *x = a, *y = b;
	int c = cmp_u64(sort_value(y, gs->sort), sort_value(x, gs->sort)); /* largest first */

	if (!c)
		c = strcmp(x->name, y->name);
	if (!c)
		c = x->pid - y->pid;
	return c;
}

int snapshot_group(struct snap_proc *procs, size_t n, enum snap_by by, enum snap_sort sort,
		   snap_user_name_fn user_name, struct snap_group **groups,
		   struct snap_totals *totals)
{
	return snapshot_group_map(procs, n, by, sort, user_name, groups, totals, NULL);
}

int snapshot_group_map(struct snap_proc *procs, size_t n, enum snap_by by, enum snap_sort sort,
		       snap_user_name_fn user_name, struct snap_group **groups,
		       struct snap_totals *totals, int *group_of)
{
	struct group_sort gs = { .procs = procs, .by = by, .sort = sort };
	struct snap_group *out = NULL, *g = NULL;
	size_t *idx = NULL, *rank = NULL, m = 0, ngroups = 0;
	int ret;

	memset(totals, 0, sizeof(*totals));
	*groups = NULL;
	idx = malloc((n ? n : 1) * sizeof(*idx));
	out = calloc(n ? n : 1, sizeof(*out));
	if (!idx || !out) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		if (group_of)
			group_of[i] = -1;
		switch (procs[i].state) {
		case SNAP_OK:
			idx[m++] = i;
			break;
		case SNAP_UNREADABLE:
			totals->unreadable++;
			break;
		case SNAP_FAILED:
			totals->failed++;
			break;
		case SNAP_GONE:
			totals->gone++;
			break;
		default:
			break;
		}
	}
	qsort_r(idx, m, sizeof(*idx), cmp_key, &gs);
	for (size_t i = 0; i < m; i++) {
		const struct snap_proc *p = &procs[idx[i]];
		const struct snap_proc *o = owner(procs, p);

		if (!g || cmp_key(&idx[i - 1], &idx[i], &gs) != 0) {
			g = &out[ngroups++];
			g->pid = o->pid;
			g->uid = o->uid;
			if (by == SNAP_BY_USER)
				g->name = user_name ? user_name(o->uid) : NULL;
			else if (by == SNAP_BY_CGROUP)
				g->name = cgroup_of(o);
			else
				g->name = o->name;
			if (!g->name)
				g->name = "?";
			g->id = (unsigned int)(ngroups - 1);
		}
		if (group_of)
			group_of[idx[i]] = (int)(g - out);
		g->count++;
		totals->processes++;
		if (p->dup_of >= 0) /* its mm is counted with its owner */
			continue;
		g->private_bytes += p->private_bytes;
		g->shared_bytes += p->shared_bytes;
		g->swap_bytes += p->swap_bytes;
		totals->private_bytes += p->private_bytes;
		totals->shared_bytes += p->shared_bytes;
		totals->swap_bytes += p->swap_bytes;
	}
	qsort_r(out, ngroups, sizeof(*out), cmp_group, &gs);
	if (group_of) {
		/* group_of holds positions before the sort: map them to after */
		rank = malloc((ngroups ? ngroups : 1) * sizeof(*rank));
		if (!rank) {
			ret = -ENOMEM;
			goto cleanup;
		}
		for (size_t k = 0; k < ngroups; k++)
			rank[out[k].id] = k;
		for (size_t i = 0; i < n; i++)
			if (group_of[i] >= 0)
				group_of[i] = (int)rank[group_of[i]];
	}
	*groups = out;
	out = NULL;
	ret = (int)ngroups;
cleanup:
	free(rank);
	free(idx);
	free(out);
	return ret;
}
