// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace run without BPF: the tree found in /proc by parent links at
 * every poll. Per-process peaks are the kernel's own VmHWM, so they are
 * exact for every process seen at least once; the tree sum is only known
 * at the polls.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pidmap.h"
#include "procfs.h"
#include "run.h"

struct sys_proc {
	uint32_t pid;
	uint32_t ppid;
	uint64_t start_ns;
};

struct run_procfs {
	uint32_t root;
	uint32_t self;
	long tick_ns;
	/* descendants seen at the last poll, and at this one */
	struct run_sample *prev, *cur;
	size_t nr_prev, nr_cur, cap_prev, cap_cur;
	struct pidmap *members; /* pid -> start_ns + 1 of known descendants */
	struct pidmap *seen;	/* pid -> index + 1 into cur, this poll */
	/* every process on the system at this poll */
	struct sys_proc *all;
	size_t nr_all, cap_all;
};

struct run_procfs *run_procfs__new(uint32_t root)
{
	struct run_procfs *p = calloc(1, sizeof(*p));
	long hz = sysconf(_SC_CLK_TCK);

	if (!p)
		return NULL;
	p->root = root;
	p->self = getpid();
	p->tick_ns = 1000000000L / (hz > 0 ? hz : 100);
	p->members = pidmap__new(64);
	p->seen = pidmap__new(64);
	if (!p->members || !p->seen) {
		run_procfs__free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void run_procfs__free(struct run_procfs *p)
{
	if (!p)
		return;
	pidmap__free(p->members);
	pidmap__free(p->seen);
	free(p->prev);
	free(p->cur);
	free(p->all);
	free(p);
}

static int grow(void **arr, size_t elem, size_t need, size_t *cap)
{
	void *n;
	size_t c = *cap ? *cap : 256;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*arr, c * elem);
	if (!n)
		return -ENOMEM;
	*arr = n;
	return 0;
}

/* Every process now: pid, parent, start time, from /proc/PID/stat. */
static int list_all(struct run_procfs *p)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	int err = 0;

	if (!dir)
		return -errno;
	p->nr_all = 0;
	while ((de = readdir(dir))) {
		struct proc_stat st;
		char *end;
		unsigned long pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtoul(de->d_name, &end, 10);
		if (*end || !pid || pid > UINT32_MAX)
			continue;
		if (proc_stat__read(pid, &st))
			continue; /* gone meanwhile */
		if (grow((void **)&p->all, sizeof(*p->all), p->nr_all + 1, &p->cap_all)) {
			err = -ENOMEM;
			break;
		}
		p->all[p->nr_all].pid = pid;
		p->all[p->nr_all].ppid = st.ppid;
		p->all[p->nr_all].start_ns = st.start_ticks * p->tick_ns;
		p->nr_all++;
	}
	closedir(dir);
	return err;
}

/*
 * A member is the root or a process whose parent is a member; the set is
 * remembered across polls so that an orphan (reparented to memtrace, the
 * subreaper, or to init) stays in the tree.
 */
static bool is_member(struct run_procfs *p, uint32_t pid, uint64_t start_ns)
{
	uintptr_t v = (uintptr_t)pidmap__get(p->members, pid);

	return v && v - 1 == start_ns;
}

static int find_members(struct run_procfs *p)
{
	bool changed = true;

	/* parents precede children in PID order except after wrap-around: iterate to a fixed point
	 */
	while (changed) {
		changed = false;
		for (size_t i = 0; i < p->nr_all; i++) {
			const struct sys_proc *sp = &p->all[i];
			bool parent_in = sp->pid == p->root || sp->ppid == p->self ||
					 (sp->ppid && pidmap__get(p->members, sp->ppid));

			if (!parent_in || is_member(p, sp->pid, sp->start_ns))
				continue;
			if (pidmap__set(p->members, sp->pid, (void *)(uintptr_t)(sp->start_ns + 1)))
				return -ENOMEM;
			changed = true;
		}
	}
	return 0;
}

int run_procfs__poll(struct run_procfs *p, const struct run_sample **samples, size_t *count,
		     uint64_t *tree_now_bytes)
{
	struct run_sample *swap;
	uint64_t tree = 0;
	size_t swap_cap;
	int err;

	err = list_all(p);
	if (err)
		return err;
	err = find_members(p);
	if (err)
		return err;

	swap = p->prev;
	swap_cap = p->cap_prev;
	p->prev = p->cur;
	p->cap_prev = p->cap_cur;
	p->cur = swap;
	p->cap_cur = swap_cap;
	p->nr_prev = p->nr_cur;
	p->nr_cur = 0;
	pidmap__free(p->seen);
	p->seen = pidmap__new(p->nr_prev + 64);
	if (!p->seen)
		return -ENOMEM;

	for (size_t i = 0; i < p->nr_all; i++) {
		const struct sys_proc *sp = &p->all[i];
		struct proc_status status;
		struct run_sample *s;

		if (!is_member(p, sp->pid, sp->start_ns))
			continue;
		if (proc_status__read(sp->pid, &status) || status.kernel_thread)
			continue;
		if (grow((void **)&p->cur, sizeof(*p->cur), p->nr_cur + 1, &p->cap_cur))
			return -ENOMEM;
		s = &p->cur[p->nr_cur++];
		memset(s, 0, sizeof(*s));
		s->pid = sp->pid;
		s->ppid = sp->ppid;
		s->start_ns = sp->start_ns;
		memcpy(s->comm, status.name, sizeof(s->comm) - 1);
		s->rss_bytes = status.vm_rss;
		s->peak_bytes = status.vm_hwm > status.vm_rss ? status.vm_hwm : status.vm_rss;
		tree += status.vm_rss;
		if (pidmap__set(p->seen, sp->pid, (void *)(uintptr_t)p->nr_cur))
			return -ENOMEM;
	}
	*tree_now_bytes = tree;

	/* members of the last poll that are gone now: reported once, as exited */
	for (size_t i = 0; i < p->nr_prev; i++) {
		const struct run_sample *old = &p->prev[i];
		uintptr_t idx = (uintptr_t)pidmap__get(p->seen, old->pid);

		if (old->exited || (idx && p->cur[idx - 1].start_ns == old->start_ns))
			continue;
		if (grow((void **)&p->cur, sizeof(*p->cur), p->nr_cur + 1, &p->cap_cur))
			return -ENOMEM;
		p->cur[p->nr_cur] = *old;
		p->cur[p->nr_cur].exited = true;
		p->nr_cur++;
		if (is_member(p, old->pid, old->start_ns))
			pidmap__delete(p->members, old->pid);
	}
	*samples = p->cur;
	*count = p->nr_cur;
	return 0;
}
