// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot collection. The cost of a snapshot is the kernel's page-table
 * walk behind each smaps_rollup read, so processes are read in parallel:
 * workers take PIDs from a shared cursor, each with its own reader and
 * buffers, and write only their own records. When the whole of /proc is
 * read, the calling thread lists it while the other workers already read
 * the first PIDs, then joins them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "log.h"
#include "procfs.h"
#include "snapshot.h"
#include "units.h"

#define CHUNK 8		  /* PIDs taken from the cursor at a time */
#define MIN_PER_THREAD 32 /* below this a thread costs more than it saves */
#define MAX_THREADS 16

struct collect_ctx {
	int *pids;
	struct snap_proc *procs;
	size_t cap;    /* room in pids and procs */
	size_t listed; /* pids[0, listed) are there to read: stored under lock, read atomically */
	size_t next;   /* cursor, taken with __atomic_fetch_add */
	bool listing;  /* more PIDs may come (under lock) */
	pthread_mutex_t lock;
	pthread_cond_t more;
	const struct snapshot_opts *opts;
	uint64_t list_ns; /* -vv only: time the calling thread spent listing */
};

/* a block of program names, the records pointing into it */
struct snap_strings {
	struct snap_strings *next;
	size_t used;
	size_t cap;
	char text[];
};

#define NAME_BLOCK (4096 - sizeof(struct snap_strings) - 16) /* one page with malloc's header */

struct worker {
	pthread_t thread;
	struct collect_ctx *ctx;
	struct smaps_reader *reader;
	struct snap_strings *names; /* the names of its records, handed to the caller */
	const char *last_name;
	int proc_fd;		/* proc_dir_open(), this worker's own */
	struct fd_batch closes; /* comm and smaps_rollup fds, closed in runs */
	bool own_files;		/* a thread of its own: unshare its fd table */
	char *text;		/* cmdline / cgroup buffer, grown as needed */
	size_t text_cap;
	int err;
	/* -vv only: where each worker's time went, summed over the passes */
	size_t nread;
	uint64_t wall_ns, cpu_ns, wait_ns;
};

/* The PID a /proc entry's name gives, or 0 (not a process, or skip_pid). */
static int entry_pid(const char *name, int skip_pid)
{
	char *end;
	long pid;

	if (name[0] < '1' || name[0] > '9')
		return 0;
	pid = strtol(name, &end, 10);
	if (*end || pid <= 0 || pid > INT_MAX || pid == skip_pid)
		return 0;
	return (int)pid;
}

int snapshot_list_pids(int **pids, size_t *n, int skip_pid)
{
	size_t cap = 512, count = 0;
	int *out = NULL, ret = 0;
	struct dirent *de;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return -errno;
	out = malloc(cap * sizeof(*out));
	if (!out) {
		ret = -ENOMEM;
		goto cleanup;
	}
	while ((de = readdir(dir))) {
		int pid = entry_pid(de->d_name, skip_pid);

		if (!pid)
			continue;
		if (count == cap) {
			int *bigger = realloc(out, cap * 2 * sizeof(*out));

			if (!bigger) {
				ret = -ENOMEM;
				goto cleanup;
			}
			out = bigger;
			cap *= 2;
		}
		out[count++] = pid;
	}
	*pids = out;
	*n = count;
	out = NULL;
cleanup:
	free(out);
	closedir(dir);
	return ret;
}

/* Whole /proc file into w->text (NUL-terminated); length or -errno. */
static ssize_t read_text(struct worker *w, const char *path, size_t limit)
{
	return proc_read_file(path, &w->text, &w->text_cap, limit);
}

static int state_of(int err)
{
	switch (err) {
	case -ENOENT:
		return SNAP_GONE;
	case -ESRCH:
	case -ENODATA:
		return SNAP_NO_MM;
	case -EACCES:
	case -EPERM:
		return SNAP_UNREADABLE;
	default:
		return SNAP_FAILED;
	}
}

/* comm into buf (size >= 17), without its newline; 0 or -errno. closes: as fd_batch__add(). */
static int read_comm(int proc_fd, int pid, char *buf, size_t size, struct fd_batch *closes)
{
	char path[48];
	ssize_t n;
	int fd, err = 0;

	proc_pid_path(path, sizeof(path), proc_fd, pid, "comm");
	fd = proc_open_batch(proc_fd, path, closes);
	if (fd < 0)
		return -errno;
	/* comm is at most 16 bytes and a newline: one read gets it all */
	n = read(fd, buf, size - 1);
	if (n < 0)
		err = -errno;
	fd_batch__add(closes, fd);
	if (err)
		return err;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return 0;
}

/*
 * snap_read_name(); *no_exe says the kernel has no executable for it (no
 * mm: a kernel thread or a zombie), and then comm is not read: the record
 * is not counted, and about half the PIDs of a machine are kernel threads.
 */
static int read_name(int proc_fd, int pid, char *name, size_t len, bool *no_exe,
		     struct fd_batch *closes)
{
	char path[48], link[PATH_MAX], comm[64];
	bool exe_exists = false;
	ssize_t n;
	int err;

	proc_pid_path(path, sizeof(path), proc_fd, pid, "exe");
	n = readlinkat(proc_fd, path, link, sizeof(link) - 1);
	if (n < 0 && errno == ENOENT) {
		*no_exe = true;
		return 0;
	}
	err = read_comm(proc_fd, pid, comm, sizeof(comm), closes);
	if (err)
		return err;
	if (n < 0) {
		/* others' processes may hide their exe: comm alone */
		snap_program_name(NULL, false, comm, name, len);
		return 0;
	}
	link[n] = '\0';
	if (n > 10 && strcmp(link + n - 10, " (deleted)") == 0) {
		link[n - 10] = '\0';
		exe_exists = access(link, F_OK) == 0;
		link[n - 10] = ' ';
	}
	snap_program_name(link, exe_exists, comm, name, len);
	return 0;
}

int snap_read_name(int pid, char *name, size_t len)
{
	char comm[64];
	bool no_exe = false;
	int err = read_name(AT_FDCWD, pid, name, len, &no_exe, NULL);

	if (err || !no_exe)
		return err;
	/* a kernel thread, a zombie or gone: its comm, as before */
	err = read_comm(AT_FDCWD, pid, comm, sizeof(comm), NULL);
	if (!err)
		snap_program_name(NULL, false, comm, name, len);
	return err;
}

static bool matches_filter(struct worker *w, int pid, const struct snap_proc *p)
{
	const regex_t *re = w->ctx->opts->filter;
	char path[48];
	ssize_t len;

	if (regexec(re, p->name, 0, NULL, 0) == 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	len = read_text(w, path, 1 << 24);
	if (len <= 0)
		return false;
	/* argv is NUL-separated: match it as the shell line it came from */
	for (ssize_t i = 0; i < len - 1; i++)
		if (w->text[i] == '\0')
			w->text[i] = ' ';
	return regexec(re, w->text, 0, NULL, 0) == 0;
}

char *snap_read_cgroup(int pid, char **buf, size_t *cap)
{
	char path[48], *line, *v2, *colon;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	len = proc_read_file(path, buf, cap, 1 << 20);
	if (len <= 0)
		return NULL;
	v2 = strstr(*buf, "0::");
	line = (v2 == *buf || (v2 && v2[-1] == '\n')) ? v2 : *buf;
	colon = strchr(line, ':');
	colon = colon ? strchr(colon + 1, ':') : NULL;
	if (!colon)
		return NULL;
	line = colon + 1;
	line[strcspn(line, "\n")] = '\0';
	return strdup(line);
}

/*
 * name in the worker's blocks, or the worker's last one when equal (a PID
 * and the next are often one program); NULL on ENOMEM. One block of
 * names instead of room for the longest in each record: a record is 96
 * bytes instead of 360, 25 pages per 1,000 processes instead of 88, and a
 * page first touched costs 11 to 20 us on a host with shadow paging.
 */
static const char *store_name(struct worker *w, const char *name)
{
	struct snap_strings *b = w->names;
	size_t len = strlen(name) + 1;
	char *out;

	if (w->last_name && strcmp(w->last_name, name) == 0)
		return w->last_name;
	if (!b || b->cap - b->used < len) {
		size_t cap = len > NAME_BLOCK ? len : NAME_BLOCK;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = w->names;
		b->used = 0;
		b->cap = cap;
		w->names = b;
	}
	out = b->text + b->used;
	memcpy(out, name, len);
	b->used += len;
	w->last_name = out;
	return out;
}

static void read_one(struct worker *w, int pid, struct snap_proc *p)
{
	const struct snapshot_opts *opts = w->ctx->opts;
	struct smaps_rollup s;
	bool no_exe = false;
	int err;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->dup_of = -1;
	p->name = "";
	if (!opts->no_names) {
		char name[SNAP_NAME_LEN];

		err = read_name(w->proc_fd, pid, name, sizeof(name), &no_exe, &w->closes);
		if (err)
			goto fail;
		if (!no_exe) {
			p->name = store_name(w, name);
			if (!p->name) {
				p->name = "";
				err = -ENOMEM;
				goto fail;
			}
		}
	}
	/*
	 * No executable: a kernel thread or a zombie (the kernel gives the link
	 * from the mm), whose smaps_rollup is empty; one kill(0) instead of its
	 * open, read and close tells those from a process that has gone.
	 */
	if (no_exe) {
		err = kill(pid, 0) == 0 || errno == EPERM ? -ENODATA : -ENOENT;
		goto fail;
	}
	/* before the page-table walk, which is the expensive part */
	if (opts->filter && !matches_filter(w, pid, p)) {
		p->state = SNAP_FILTERED;
		return;
	}
	err = smaps_reader__read(w->reader, pid, &s);
	if (err)
		goto fail;
	snap_proc__set_rollup(p, &s);
	if (opts->by == SNAP_BY_USER) {
		struct proc_status st;

		err = proc_status__read(pid, &st);
		if (err)
			goto fail;
		p->uid = st.uid;
	} else if (opts->by == SNAP_BY_CGROUP) {
		p->cgroup = snap_read_cgroup(pid, &w->text, &w->text_cap);
	}
	p->state = SNAP_OK;
	return;
fail:
	p->err = err;
	p->state = state_of(err);
}

/*
 * kcmp of look-alike neighbours here, in parallel, rather than all in
 * snapshot_dedupe after the workers: a pool of forked workers costs one
 * kcmp per process, which was a tenth of a snapshot's time spent on one
 * thread. Only pairs within one chunk: each record is written by one worker.
 */
static void compare_prev(struct snap_proc *procs, size_t i)
{
	struct snap_proc *prev = &procs[i - 1], *p = &procs[i];
	int c;

	if (p->state != SNAP_OK || prev->state != SNAP_OK || !snap_proc__looks_alike(prev, p))
		return;
	c = snap_kcmp_vm(prev->pid, p->pid);
	p->prev_mm = c == SNAP_MM_UNKNOWN ? SNAP_PREV_UNKNOWN
		     : c == 0		  ? SNAP_PREV_SAME
					  : SNAP_PREV_OTHER;
}

/*
 * The next chunk [*start, *end) to read, waiting while the lister has not
 * got that far; false when every listed PID is taken.
 */
static bool take_chunk(struct collect_ctx *ctx, size_t *start, size_t *end)
{
	size_t s = __atomic_fetch_add(&ctx->next, CHUNK, __ATOMIC_RELAXED);
	size_t n = __atomic_load_n(&ctx->listed, __ATOMIC_ACQUIRE);

	if (n < s + CHUNK) {
		pthread_mutex_lock(&ctx->lock);
		while (ctx->listed < s + CHUNK && ctx->listing)
			pthread_cond_wait(&ctx->more, &ctx->lock);
		n = ctx->listed;
		pthread_mutex_unlock(&ctx->lock);
	}
	if (s >= n)
		return false;
	*start = s;
	*end = s + CHUNK < n ? s + CHUNK : n;
	return true;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct collect_ctx *ctx = w->ctx;
	bool timed = mt_verbose >= 2;
	uint64_t t0 = 0, c0 = 0, tw;
	size_t start, end;

	if (timed) {
		t0 = mt_clock_ns(CLOCK_MONOTONIC);
		c0 = mt_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	}
	/*
	 * The fds this thread opens are then numbered one after the other, so
	 * the batch closes them in one call; a failure only makes runs shorter.
	 * Worker 0 is the calling thread: its table is its own once the others
	 * have left it.
	 */
	if (w->own_files)
		unshare(CLONE_FILES);
	for (;;) {
		tw = timed ? mt_clock_ns(CLOCK_MONOTONIC) : 0;
		if (!take_chunk(ctx, &start, &end))
			break;
		if (timed)
			w->wait_ns += mt_clock_ns(CLOCK_MONOTONIC) - tw;
		for (size_t i = start; i < end; i++) {
			read_one(w, ctx->pids[i], &ctx->procs[i]);
			if (i > start)
				compare_prev(ctx->procs, i);
		}
		w->nread += end - start;
	}
	fd_batch__flush(&w->closes);
	if (timed) {
		w->wall_ns += mt_clock_ns(CLOCK_MONOTONIC) - t0;
		w->cpu_ns += mt_clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	}
	return NULL;
}

static void workers_report(const struct collect_ctx *ctx, const struct worker *workers,
			   long nthreads)
{
	mt_debug("listing /proc: %.2f ms (worker 0 reads after it)", (double)ctx->list_ns / 1e6);
	for (long i = 0; i < nthreads; i++)
		mt_debug(
		    "worker %ld: %zu PIDs, %.2f ms wall, %.2f ms CPU, %.2f ms waiting for PIDs", i,
		    workers[i].nread, (double)workers[i].wall_ns / 1e6,
		    (double)workers[i].cpu_ns / 1e6, (double)workers[i].wait_ns / 1e6);
}

static int worker_init(struct worker *w, struct collect_ctx *ctx)
{
	w->ctx = ctx;
	w->proc_fd = proc_dir_open();
	w->reader = smaps_reader__new();
	if (w->reader)
		smaps_reader__defer_close(w->reader, &w->closes);
	w->text_cap = 4096;
	w->text = malloc(w->text_cap);
	if (!w->reader || !w->text)
		return -ENOMEM;
	return 0;
}

static void worker_fini(struct worker *w)
{
	fd_batch__flush(&w->closes);
	smaps_reader__free(w->reader);
	free(w->text);
	proc_dir_close(w->proc_fd);
}

/* Say that pids[0, count) are there, and whether more will come. */
static void publish(struct collect_ctx *ctx, size_t count, bool listing)
{
	pthread_mutex_lock(&ctx->lock);
	__atomic_store_n(&ctx->listed, count, __ATOMIC_RELEASE);
	ctx->listing = listing;
	pthread_cond_broadcast(&ctx->more);
	pthread_mutex_unlock(&ctx->lock);
}

/*
 * PIDs of the directory dir_fd (/proc) into ctx->pids from ctx->listed on,
 * published after every getdents64 call; stops when ctx->cap is reached.
 * getdents64 rather than readdir(): glibc's readdir asks for 32 KiB at a
 * time, the whole of /proc on most machines, so the workers would wait for
 * all of it. Returns 1 when the directory is done, 0 when it stopped at
 * the cap, or -errno. Leaves ctx->listing false.
 */
static int list_pids(struct collect_ctx *ctx, int dir_fd, int skip_pid)
{
	char buf[4096] __attribute__((aligned(8)));
	size_t count = ctx->listed;
	off_t pos = lseek(dir_fd, 0, SEEK_CUR); /* where the entry being looked at starts */
	int ret = 0;

	while (count < ctx->cap) {
		ssize_t len = getdents64(dir_fd, buf, sizeof(buf));

		if (len <= 0) {
			ret = len < 0 ? -errno : 1;
			break;
		}
		for (ssize_t off = 0; off < len;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);
			off_t here = pos;
			int pid;

			off += de->d_reclen;
			pos = de->d_off; /* the kernel's position of the next entry */
			pid = entry_pid(de->d_name, skip_pid);
			if (!pid)
				continue;
			if (count == ctx->cap) {
				/* the next round lists it again, after the records grew */
				if (lseek(dir_fd, here, SEEK_SET) < 0)
					ret = -errno;
				break;
			}
			ctx->pids[count++] = pid;
		}
		publish(ctx, count, true);
	}
	publish(ctx, count, false);
	return ret;
}

/*
 * One pass of the workers over ctx's PIDs from ctx->next on: with
 * dir_fd >= 0 the calling thread first lists them from ctx->listed on
 * (list_pids(), whose result is returned), otherwise they are all there. Returns 1 when all
 * PIDs are read, 0 when the directory has more, or -errno.
 */
static int run_workers(struct collect_ctx *ctx, struct worker *workers, long nthreads, int dir_fd,
		       int skip_pid)
{
	int started = 0, ret = 1;

	ctx->listing = dir_fd >= 0;
	/* the calling thread is worker 0 */
	for (long i = 1; i < nthreads; i++) {
		/* small stacks: the workers need a few KiB, the default is 8 MiB */
		pthread_attr_t attr;
		int err;

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		workers[i].own_files = true;
		err = pthread_create(&workers[i].thread, &attr, worker_run, &workers[i]);
		pthread_attr_destroy(&attr);
		if (err) /* fewer threads still read every process */
			break;
		started++;
	}
	if (dir_fd >= 0) {
		uint64_t t0 = mt_verbose >= 2 ? mt_clock_ns(CLOCK_MONOTONIC) : 0;

		ret = list_pids(ctx, dir_fd, skip_pid);
		if (mt_verbose >= 2)
			ctx->list_ns += mt_clock_ns(CLOCK_MONOTONIC) - t0;
	}
	worker_run(&workers[0]);
	for (int i = 1; i <= started; i++)
		pthread_join(workers[i].thread, NULL);
	return ret;
}

static long thread_count(const struct snapshot_opts *opts, size_t n)
{
	long nthreads = opts->threads;

	if (nthreads <= 0)
		nthreads = sysconf(_SC_NPROCESSORS_ONLN);
	if ((size_t)nthreads > n / MIN_PER_THREAD)
		nthreads = (long)(n / MIN_PER_THREAD);
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > MAX_THREADS)
		nthreads = MAX_THREADS;
	return nthreads;
}

/* workers[0, MAX_THREADS) empty, for workers_fini() */
static void workers_reset(struct worker *workers)
{
	memset(workers, 0, sizeof(*workers) * MAX_THREADS);
	for (long i = 0; i < MAX_THREADS; i++)
		workers[i].proc_fd = AT_FDCWD;
}

static int workers_init(struct worker *workers, long nthreads, struct collect_ctx *ctx)
{
	for (long i = 0; i < nthreads; i++) {
		int err = worker_init(&workers[i], ctx);

		if (err)
			return err;
	}
	return 0;
}

void snap_strings__free(struct snap_strings *s)
{
	while (s) {
		struct snap_strings *next = s->next;

		free(s);
		s = next;
	}
}

/* Free the workers; their names go to *names (or are freed with names NULL). */
static void workers_fini(struct worker *workers, struct snap_strings **names)
{
	for (long i = 0; i < MAX_THREADS; i++) {
		struct snap_strings *b = workers[i].names;

		while (b && names) {
			struct snap_strings *next = b->next;

			b->next = *names;
			*names = b;
			b = next;
		}
		snap_strings__free(b);
		worker_fini(&workers[i]);
	}
}

int snapshot_collect(const int *pids, size_t n, const struct snapshot_opts *opts,
		     struct snap_proc *procs, struct snap_strings **names)
{
	struct worker workers[MAX_THREADS];
	struct collect_ctx ctx = {
		.pids = (int *)pids, /* read only: nothing is listed into it */
		.procs = procs,
		.cap = n,
		.listed = n,
		.opts = opts,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.more = PTHREAD_COND_INITIALIZER,
	};
	long nthreads = thread_count(opts, n);
	int err;

	workers_reset(workers);
	*names = NULL;
	err = workers_init(workers, nthreads, &ctx);
	if (!err)
		run_workers(&ctx, workers, nthreads, -1, 0);
	workers_fini(workers, err ? NULL : names);
	return err;
}

/* Room for PIDs and records: doubled, or first for `first` processes. */
static int grow(struct collect_ctx *ctx, size_t first)
{
	size_t cap = ctx->cap ? ctx->cap * 2 : first;
	int *pids = realloc(ctx->pids, cap * sizeof(*pids));
	struct snap_proc *procs;

	if (!pids)
		return -ENOMEM;
	ctx->pids = pids;
	/* records are written whole by read_one; calloc'd memory is not touched before */
	procs = ctx->cap ? realloc(ctx->procs, cap * sizeof(*procs)) : calloc(cap, sizeof(*procs));
	if (!procs)
		return -ENOMEM;
	ctx->procs = procs;
	ctx->cap = cap;
	return 0;
}

int snapshot_collect_all(int skip_pid, const struct snapshot_opts *opts, struct snap_proc **procs,
			 size_t *n, struct snap_strings **names)
{
	struct worker workers[MAX_THREADS];
	struct collect_ctx ctx = {
		.opts = opts,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.more = PTHREAD_COND_INITIALIZER,
	};
	struct stat st;
	long nthreads;
	int dir_fd, err, done = 0;

	workers_reset(workers);
	dir_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return -errno;
	/* procfs gives its root's link count as a few plus the number of processes */
	if (opts->first_cap)
		err = grow(&ctx, opts->first_cap);
	else /* a few more than procfs's count: some may start while it is listed */
		err = fstat(dir_fd, &st) ? -errno : grow(&ctx, (size_t)st.st_nlink + 64);
	nthreads = thread_count(opts, ctx.cap);
	if (!err)
		err = workers_init(workers, nthreads, &ctx);
	while (!err && !done) {
		ctx.next = ctx.listed;
		done = run_workers(&ctx, workers, nthreads, dir_fd, skip_pid);
		if (done < 0)
			err = done;
		else if (!done)
			err = grow(&ctx, 0);
	}
	*names = NULL;
	if (mt_verbose >= 2)
		workers_report(&ctx, workers, nthreads);
	workers_fini(workers, err ? NULL : names);
	close(dir_fd);
	if (err) {
		free(ctx.pids);
		free(ctx.procs);
		return err;
	}
	free(ctx.pids);
	*procs = ctx.procs;
	*n = ctx.listed;
	return 0;
}
