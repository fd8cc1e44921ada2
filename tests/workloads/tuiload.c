// SPDX-License-Identifier: GPL-2.0
/*
 * A workload for top's exactness, swap and terminal UI tests: memory of
 * each kind (anon, file, shmem) grown from threads pinned to different
 * CPUs, so the kernel's per-CPU counters hold unfolded deltas on more than
 * one CPU, and then held still.
 *
 *   tuiload [--anon-mib N] [--shmem-mib M] [--file-mib F] [--threads T]
 *           [--steps K] [--step-ms MS] [--fork] [--name COMM] [--wait]
 *
 * In order: set comm (--name); with --wait print "ready <pid>" and wait for
 * one byte on stdin (time to move it into a cgroup); map N MiB anonymous,
 * M MiB of a memfd (shmem) and F MiB of a temporary file (read-only shared
 * mapping: file pages); touch them in K steps (default 1) MS ms apart
 * (default 0), each step's pages split over T threads (default 2), thread i
 * pinned to CPU i modulo the CPUs; with --fork fork a child that shares the
 * anonymous pages copy-on-write (its comm is COMM with "-child", cut to 15
 * bytes) and dies with the parent; print "done <pid> <child pid or 0>";
 * hold until stdin closes. main() is over 120 lines: it is that script,
 * step by step in that order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

struct region {
	volatile char *base;
	size_t len;
	int write;
};

struct slice {
	const struct region *regions;
	int nr_regions;
	size_t from, to; /* byte offsets within each region, page aligned */
	int cpu;
};

static long page_size;

static void *touch_slice(void *arg)
{
	const struct slice *s = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set); /* best effort: a cpuset may forbid it */
	for (int r = 0; r < s->nr_regions; r++) {
		const struct region *reg = &s->regions[r];

		for (size_t off = s->from; off < s->to && off < reg->len; off += page_size) {
			if (reg->write)
				reg->base[off] = 1;
			else
				(void)reg->base[off];
		}
	}
	return NULL;
}

static void *map_file(size_t len)
{
	char buf[65536];
	size_t left = len;
	void *p;
	int fd = open("/tmp", O_TMPFILE | O_RDWR | O_EXCL, 0600);

	if (fd < 0)
		return MAP_FAILED;
	memset(buf, 'f', sizeof(buf));
	while (left) {
		ssize_t n = write(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n <= 0) {
			close(fd);
			return MAP_FAILED;
		}
		left -= n;
	}
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	return p;
}

static size_t parse_mib(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end || v > 65536) {
		fprintf(stderr, "tuiload: bad size '%s' (MiB)\n", s);
		exit(2);
	}
	return (size_t)v << 20;
}

int main(int argc, char **argv)
{
	size_t anon = 0, shmem = 0, file = 0;
	int threads = 2, steps = 1, step_ms = 0, do_fork = 0, wait_first = 0, ncpu, nr = 0;
	const char *name = NULL;
	struct region regions[3];
	pid_t child = 0;
	char c;

	page_size = sysconf(_SC_PAGESIZE);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--fork")) {
			do_fork = 1;
		} else if (!strcmp(argv[i], "--wait")) {
			wait_first = 1;
		} else if (i + 1 < argc && !strcmp(argv[i], "--anon-mib")) {
			anon = parse_mib(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--shmem-mib")) {
			shmem = parse_mib(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--file-mib")) {
			file = parse_mib(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--threads")) {
			threads = atoi(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--steps")) {
			steps = atoi(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--step-ms")) {
			step_ms = atoi(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--name")) {
			name = argv[++i];
		} else {
			fprintf(stderr,
				"usage: tuiload [--anon-mib N] [--shmem-mib M] [--file-mib F] "
				"[--threads T] [--steps K] [--step-ms MS] [--fork] [--name COMM] "
				"[--wait]\n");
			return 2;
		}
	}
	if (threads < 1 || threads > 64 || steps < 1 || step_ms < 0) {
		fprintf(stderr, "tuiload: --threads 1..64, --steps >= 1, --step-ms >= 0\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (name)
		prctl(PR_SET_NAME, name, 0, 0, 0);
	if (wait_first) {
		printf("ready %d\n", getpid());
		if (read(STDIN_FILENO, &c, 1) != 1)
			return 1;
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;

	if (anon) {
		void *p =
		    mmap(NULL, anon, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return perror("tuiload: mmap anon"), 1;
		madvise(p, anon, MADV_NOHUGEPAGE); /* 4 KiB pages: counters move page by page */
		regions[nr++] = (struct region){ p, anon, 1 };
	}
	if (shmem) {
		int fd = memfd_create("tuiload", MFD_CLOEXEC);
		void *p;

		if (fd < 0 || ftruncate(fd, shmem))
			return perror("tuiload: memfd"), 1;
		p = mmap(NULL, shmem, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return perror("tuiload: mmap shmem"), 1;
		close(fd);
		regions[nr++] = (struct region){ p, shmem, 1 };
	}
	if (file) {
		void *p = map_file(file);

		if (p == MAP_FAILED)
			return perror("tuiload: file"), 1;
		madvise(p, file, MADV_RANDOM); /* no fault-around: one page per touch */
		regions[nr++] = (struct region){ p, file, 0 };
	}

	for (int step = 0; step < steps; step++) {
		size_t biggest = anon > shmem ? anon : shmem;
		size_t from, to, per;
		pthread_t tids[64];
		struct slice slices[64];

		biggest = biggest > file ? biggest : file;
		from = biggest / steps * step;
		to = step == steps - 1 ? biggest : biggest / steps * (step + 1);
		per = ((to - from) / threads + page_size - 1) / page_size * page_size;
		for (int t = 0; t < threads; t++) {
			size_t a = from + per * t, b = a + per < to ? a + per : to;

			slices[t] = (struct slice){ regions, nr, a, b, t % ncpu };
			pthread_create(&tids[t], NULL, touch_slice, &slices[t]);
		}
		for (int t = 0; t < threads; t++)
			pthread_join(tids[t], NULL);
		if (step_ms && step + 1 < steps) {
			struct timespec ts = { step_ms / 1000, (step_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}

	if (do_fork) {
		int pipefd[2];

		if (pipe(pipefd))
			return perror("tuiload: pipe"), 1;
		child = fork();
		if (child < 0)
			return perror("tuiload: fork"), 1;
		if (child == 0) {
			char cname[16];

			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			snprintf(cname, sizeof(cname), "%s-child", name ? name : "tuiload");
			prctl(PR_SET_NAME, cname, 0, 0, 0);
			close(pipefd[0]);
			close(pipefd[1]); /* tells the parent it is named */
			for (;;)
				pause();
		}
		close(pipefd[1]);
		while (read(pipefd[0], &c, 1) > 0)
			;
		close(pipefd[0]);
	}
	/*
	 * Hold means no page changes at all: call read() once before "done" so
	 * its lazy binding (a copy-on-write of the GOT page: file -1, anon +1)
	 * happens now, not after.
	 */
	if (read(STDIN_FILENO, &c, 0) < 0)
		return perror("tuiload: read"), 1;
	printf("done %d %d\n", getpid(), (int)child);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	return 0;
}
