// SPDX-License-Identifier: GPL-2.0
/* Per-run cgroup and the watchdog that empties it (see treeguard.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <linux/magic.h>
#include "hashmap.h"
#include "log.h"
#include "procfs.h"
#include "treeguard.h"

#define MAX_CHILDREN 4096 /* per listing; a larger tree takes more passes */

struct tree_guard {
	char *cgroup;	      /* our memtrace-run.PID directory, or NULL */
	pid_t watchdog;	      /* -1 if none */
	int pipe_w;	      /* EOF here wakes the watchdog */
	pid_t group;	      /* the command's process group, 0 before adopt */
	struct hashmap *sent; /* fallback: pid -> start ticks the watchdog knows */
};

struct watched {
	pid_t pid;
	uint64_t start_ticks; /* /proc/PID/stat's, so that a reused PID is left alone */
};

/*
 * What the watchdog holds stopped at memtrace's death, by PID: a pidfd
 * each, so that the final SIGKILL reaches that process and no other.
 */
struct held_proc {
	pid_t pid;
	int fd;		      /* its pidfd */
	uint64_t start_ticks; /* /proc/PID/stat's when it was held */
};

struct held_set {
	struct hashmap *fds;	/* pid -> pidfd */
	struct held_proc *held; /* in the order held */
	size_t n, cap;
};

static bool held(const struct held_set *h, int pid)
{
	return pid > 0 && hashmap__find(h->fds, pid, NULL);
}

/*
 * SIGSTOP to pid if it is still the process that started at start_ticks
 * (the pidfd pins the process, then its start time proves which one it
 * is), and hold it. A stopped process forks no more: a fork with a signal
 * pending is restarted, so no child appears behind our back. true if held.
 */
static bool hold(struct held_set *h, pid_t pid, uint64_t start_ticks)
{
	struct proc_stat st;
	int fd;

	if (pid <= 0 || pid == getpid() || held(h, pid))
		return false;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 256;
		struct held_proc *p = realloc(h->held, cap * sizeof(*p));

		if (!p)
			return false;
		h->held = p;
		h->cap = cap;
	}
	fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return false;
	if (proc_stat__read(pid, &st) || st.start_ticks != start_ticks ||
	    hashmap__set(h->fds, pid, fd, NULL, NULL)) {
		close(fd);
		return false;
	}
	h->held[h->n++] = (struct held_proc){ .pid = pid, .fd = fd, .start_ticks = start_ticks };
	syscall(SYS_pidfd_send_signal, fd, SIGSTOP, NULL, 0);
	return true;
}

/*
 * Wait, up to about 2 s, until every held process has stopped (or is
 * gone). A SIGSTOP sent to one process does not restart a fork already
 * under way, unlike a signal to its group: the child appears after the
 * signal, unstopped. Once the parent is seen stopped, that fork is done
 * and its child is in /proc for the next pass.
 */
static void wait_stopped(const struct held_set *h)
{
	size_t i = 0;

	for (int tries = 0; i < h->n && tries < 400;) {
		struct proc_stat st;

		if (proc_stat__read(h->held[i].pid, &st) ||
		    st.start_ticks != h->held[i].start_ticks ||
		    (st.state && strchr("tTZX", st.state))) {
			i++;
			continue;
		}
		tries++;
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 /* 5 ms */ }, NULL);
	}
}

/*
 * One pass over /proc: hold every process whose parent is held, or whose
 * process group or session was created by a held process or is the
 * command's group. A group or session ID cannot be reused while a member
 * lives, so one equal to a held process's PID is that process's own.
 * This finds what the tree started since memtrace last told us (a child
 * of a held process, an orphan still in a held group or session). The
 * number of processes newly held.
 */
static size_t hold_pass(struct held_set *h, pid_t group)
{
	struct dirent *de;
	size_t added = 0;
	DIR *dir = opendir("/proc");

	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		struct proc_stat st;
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || held(h, pid) || proc_stat__read(pid, &st))
			continue;
		if ((group > 0 && st.pgrp == group) || held(h, st.ppid) || held(h, st.pgrp) ||
		    held(h, st.session))
			added += hold(h, pid, st.start_ticks);
	}
	closedir(dir);
	return added;
}

/*
 * The fallback at memtrace's death: stop the known tree, then what it
 * started since, pass after pass until a pass finds nothing new (each is
 * stopped, so the tree cannot grow), then SIGKILL everything held.
 */
static void sweep_tree(const struct watched *watched, size_t nwatched, pid_t group)
{
	struct held_set h = { .fds = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 256) };

	if (group > 0)
		kill(-group, SIGSTOP);
	if (h.fds) {
		for (size_t i = 0; i < nwatched; i++)
			hold(&h, watched[i].pid, watched[i].start_ticks);
		/* a pass is trusted to find nothing new only once all held have stopped */
		for (int pass = 0; pass < 1000; pass++) {
			if (!hold_pass(&h, group)) {
				wait_stopped(&h);
				if (!hold_pass(&h, group))
					break;
			}
			if (group > 0)
				kill(-group, SIGSTOP);
		}
	}
	for (size_t i = 0; i < h.n; i++) {
		syscall(SYS_pidfd_send_signal, h.held[i].fd, SIGKILL, NULL, 0);
		close(h.held[i].fd);
	}
	if (group > 0)
		kill(-group, SIGKILL);
	free(h.held);
	hashmap__free(h.fds);
}

/* dir/file opened with flags (and O_CLOEXEC): a descriptor or -errno */
static int open_in(const char *dir, const char *file, int flags)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int write_str(const char *dir, const char *file, const char *text)
{
	int fd = open_in(dir, file, O_WRONLY), err = 0;

	if (fd < 0)
		return fd;
	if (write(fd, text, strlen(text)) < 0)
		err = -errno;
	close(fd);
	return err;
}

static bool populated(const char *dir)
{
	char buf[256];
	ssize_t n;
	int fd = open_in(dir, "cgroup.events", O_RDONLY);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return !strstr(buf, "populated 0");
}

/*
 * cgroup.kill (5.14+) where it exists; on older kernels SIGKILL to every
 * process listed, again until the list stays empty (a fork in between is
 * caught on the next pass). Then wait, up to 5 s, for the exits to land.
 */
static int kill_cgroup(const char *dir)
{
	if (write_str(dir, "cgroup.kill", "1")) {
		for (int pass = 0; pass < 100 && populated(dir); pass++) {
			char buf[4096];
			ssize_t n;
			int fd = open_in(dir, "cgroup.procs", O_RDONLY);

			if (fd < 0)
				break;
			while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
				buf[n] = '\0';
				for (char *p = buf, *e; *p; p = e) {
					long pid = strtol(p, &e, 10);

					if (e == p)
						break;
					if (pid > 0)
						kill(pid, SIGKILL);
				}
			}
			close(fd);
		}
	}
	for (int i = 0; i < 500 && populated(dir); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 /* 10 ms */ }, NULL);
	return populated(dir) ? -EBUSY : 0;
}

static void remove_cgroup(const char *dir)
{
	for (int i = 0; i < 100 && rmdir(dir) && errno == EBUSY; i++)
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 /* 10 ms */ }, NULL);
}

/*
 * The watchdog: reads the command's process group from the pipe, "D" when
 * memtrace cleaned up itself; on EOF (memtrace died) kills and removes.
 * Forked from a single-threaded memtrace, so plain libc calls are safe.
 */
static void watchdog_main(int rfd, const char *cgroup)
{
	struct watched *watched = NULL;
	size_t nwatched = 0, cap = 0;
	pid_t group = 0;
	char buf[64];
	size_t len = 0;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	setsid();
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/* hold nothing of memtrace's: a pipe reader waiting on our stdout must see EOF */
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	if (rfd != 3) {
		dup2(rfd, 3);
		rfd = 3;
	}
	fcntl(rfd, F_SETFD, 0);
	closefrom(4);
	for (;;) {
		ssize_t n = read(rfd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		buf[len] = '\0';
		for (char *nl; (nl = strchr(buf, '\n'));) {
			*nl = '\0';
			if (buf[0] == 'D')
				_exit(0);
			if (buf[0] == 'P')
				group = strtol(buf + 1, NULL, 10);
			if (buf[0] == 'T' && nwatched == cap) {
				struct watched *w =
				    realloc(watched, (cap ? cap * 2 : 256) * sizeof(*w));

				if (w) {
					watched = w;
					cap = cap ? cap * 2 : 256;
				}
			}
			if (buf[0] == 'T' && nwatched < cap) {
				char *end;

				watched[nwatched].pid = strtol(buf + 1, &end, 10);
				watched[nwatched].start_ticks = strtoull(end, NULL, 10);
				nwatched++;
			}
			len -= nl + 1 - buf;
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1)
			len = 0; /* not our protocol: drop it */
	}
	if (cgroup) {
		if (group > 0)
			kill(-group, SIGKILL);
		kill_cgroup(cgroup);
		remove_cgroup(cgroup);
	} else {
		/* what left the group (setsid) is known by PID, and by what it started */
		sweep_tree(watched, nwatched, group);
	}
	_exit(0);
}

/* memtrace's own cgroup v2 directory, or NULL: not mounted, or a v1-only system */
static char *own_cgroup_dir(void)
{
	char *line = NULL, *mnt = NULL, *rel = NULL, *dir = NULL;
	size_t cap = 0;
	FILE *f;

	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return NULL;
	while (getline(&line, &cap, f) > 0)
		if (strncmp(line, "0::", 3) == 0) {
			rel = strdup(line + 3);
			if (rel)
				rel[strcspn(rel, "\n")] = '\0';
			break;
		}
	fclose(f);
	f = fopen("/proc/self/mountinfo", "re");
	while (rel && f && getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPEROPTS */
		char root[4096], point[4096];
		const char *sep = strstr(line, " - ");

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) ||
		    sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) != 2)
			continue;
		if (strcmp(root, "/"))
			continue; /* a bind mount of a subtree: paths would not line up */
		mnt = strdup(point);
		break;
	}
	if (f)
		fclose(f);
	if (mnt && rel && asprintf(&dir, "%s%s", mnt, strcmp(rel, "/") ? rel : "") < 0)
		dir = NULL;
	free(line);
	free(mnt);
	free(rel);
	return dir;
}

static char *make_cgroup(void)
{
	char *own = own_cgroup_dir(), *dir = NULL;
	struct statfs sf;

	if (!own) {
		mt_info("no cgroup v2 hierarchy: the command's process group guards the run");
		return NULL;
	}
	if (statfs(own, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC ||
	    asprintf(&dir, "%s/memtrace-run.%d", own, getpid()) < 0) {
		free(own);
		return NULL;
	}
	if (mkdir(dir, 0755)) {
		mt_info("cannot create %s (%s): the command's process group guards the run", dir,
			strerror(errno));
		free(dir);
		dir = NULL;
	}
	free(own);
	return dir;
}

struct tree_guard *tree_guard__new(void)
{
	struct tree_guard *g = calloc(1, sizeof(*g));
	int fds[2];

	if (!g)
		return NULL;
	g->watchdog = -1;
	g->pipe_w = -1;
	/* orphans of the tree come back to us rather than escaping to init */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	g->cgroup = make_cgroup();
	if (pipe2(fds, O_CLOEXEC))
		goto fail;
	fflush(NULL); /* nothing buffered twice */
	g->watchdog = fork();
	if (g->watchdog < 0) {
		close(fds[0]);
		close(fds[1]);
		goto fail;
	}
	if (g->watchdog == 0) {
		close(fds[1]);
		watchdog_main(fds[0], g->cgroup);
	}
	close(fds[0]);
	g->pipe_w = fds[1];
	mt_info("run guard: %s%s%s", tree_guard__mode(g), g->cgroup ? " " : "",
		g->cgroup ? g->cgroup : "");
	return g;
fail : {
	int err = errno;

	if (g->cgroup)
		rmdir(g->cgroup);
	free(g->cgroup);
	hashmap__free(g->sent);
	free(g);
	errno = err;
	return NULL;
}
}

int tree_guard__adopt(struct tree_guard *g, pid_t pid)
{
	char msg[32];
	int err = 0;

	g->group = pid;
	snprintf(msg, sizeof(msg), "P%d\n", (int)pid);
	if (write(g->pipe_w, msg, strlen(msg)) < 0)
		err = -errno;
	if (g->cgroup) {
		snprintf(msg, sizeof(msg), "%d", (int)pid);
		int cerr = write_str(g->cgroup, "cgroup.procs", msg);

		if (cerr) {
			mt_info("cannot move the command into %s (%s): its process group guards "
				"the run",
				g->cgroup, strerror(-cerr));
			rmdir(g->cgroup);
			free(g->cgroup);
			g->cgroup = NULL;
			err = err ? err : cerr;
		}
	}
	return err;
}

/* The children of pid (all its threads'), at most cap; a count, 0 when none or unreadable. */
static size_t children_of(pid_t pid, pid_t *out, size_t cap)
{
	char path[64];
	struct dirent *de;
	size_t n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while (n < cap && (de = readdir(dir))) {
		char file[384], buf[4096];
		ssize_t len;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/children", path, de->d_name);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		for (char *p = buf, *e; n < cap; p = e) {
			long c = strtol(p, &e, 10);

			if (e == p)
				break;
			if (c > 0)
				out[n++] = c;
		}
	}
	closedir(dir);
	return n;
}

/* SIGKILL to pid and, top down, to what it started (depth-limited: the rest comes back to us). */
static void kill_subtree(pid_t pid, int depth)
{
	pid_t kids[256];
	size_t n;

	kill(pid, SIGKILL);
	if (depth >= 16)
		return;
	n = children_of(pid, kids, sizeof(kids) / sizeof(kids[0]));
	for (size_t i = 0; i < n; i++)
		kill_subtree(kids[i], depth + 1);
}

/*
 * The fallback's sweep: every process of the tree is a descendant of ours
 * (we are its subreaper, so a setsid() or double-forked orphan comes back
 * to us), whatever its session or group. Kill our children but the
 * watchdog, and theirs; reap them (not the command: its caller does), and
 * again until none is left, for up to 5 s.
 */
static int kill_descendants(struct tree_guard *g)
{
	pid_t *kids = malloc(MAX_CHILDREN * sizeof(*kids));
	int left = 0;

	if (!kids)
		return -ENOMEM;
	for (int pass = 0; pass < 500; pass++) {
		size_t n = children_of(getpid(), kids, MAX_CHILDREN);

		left = 0;
		for (size_t i = 0; i < n; i++) {
			if (kids[i] == g->watchdog)
				continue;
			kill_subtree(kids[i], 0);
			if (kids[i] != g->group && waitpid(kids[i], NULL, WNOHANG) == 0)
				left++;
		}
		if (!left)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 /* 10 ms */ }, NULL);
	}
	free(kids);
	return left ? -EBUSY : 0;
}

int tree_guard__kill(struct tree_guard *g)
{
	if (!g)
		return 0;
	if (g->group > 0)
		kill(-g->group, SIGKILL);
	return g->cgroup ? kill_cgroup(g->cgroup) : kill_descendants(g);
}

int tree_guard__watch(struct tree_guard *g, pid_t pid)
{
	struct proc_stat st;
	char msg[64];
	int err;

	if (!g || g->cgroup || pid <= 0)
		return 0; /* the cgroup holds everything already */
	if (!g->sent) {
		g->sent = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 64);
		if (!g->sent)
			return -ENOMEM;
	}
	/* once per PID: a PID the tree reuses keeps its first start, and is missed, never wrong */
	if (hashmap__find(g->sent, pid, NULL))
		return 0;
	err = proc_stat__read(pid, &st);
	if (err)
		return err; /* gone already */
	err = hashmap__set(g->sent, pid, st.start_ticks, NULL, NULL);
	if (err)
		return err;
	mt_debug("guard: watching pid %d", (int)pid);
	snprintf(msg, sizeof(msg), "T%d %llu\n", (int)pid, (unsigned long long)st.start_ticks);
	return write(g->pipe_w, msg, strlen(msg)) < 0 ? -errno : 0;
}

const char *tree_guard__mode(const struct tree_guard *g)
{
	return g && g->cgroup ? "cgroup" : "process group";
}

const char *tree_guard__cgroup(const struct tree_guard *g)
{
	return g ? g->cgroup : NULL;
}

void tree_guard__free(struct tree_guard *g)
{
	if (!g)
		return;
	tree_guard__kill(g);
	if (g->cgroup)
		remove_cgroup(g->cgroup);
	if (g->pipe_w >= 0) {
		/* done: the watchdog leaves without touching anything */
		if (write(g->pipe_w, "D\n", 2) != 2)
			kill(g->watchdog, SIGKILL);
		close(g->pipe_w);
	}
	if (g->watchdog > 0)
		waitpid(g->watchdog, NULL, 0);
	hashmap__free(g->sent);
	free(g->cgroup);
	free(g);
}

int tree_guard__watch_tree(struct tree_guard *g)
{
	pid_t *queue;
	size_t head = 0, n;

	if (!g || g->cgroup)
		return 0;
	queue = malloc(MAX_CHILDREN * sizeof(*queue));
	if (!queue)
		return -ENOMEM;
	n = children_of(getpid(), queue, MAX_CHILDREN);
	/* breadth first; a tree larger than the queue is watched in part, the sweep still ends it
	 */
	while (head < n) {
		pid_t pid = queue[head++];

		if (pid == g->watchdog)
			continue;
		tree_guard__watch(g, pid);
		n += children_of(pid, queue + n, MAX_CHILDREN - n);
	}
	free(queue);
	return 0;
}
