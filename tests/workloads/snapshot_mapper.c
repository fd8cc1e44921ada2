// SPDX-License-Identifier: GPL-2.0
/*
 * Maps memory whose size is known in advance, touches every page, writes
 * "ready <pid> [<child pid>...]" on stdout and sleeps until killed, so tests
 * can compare memtrace snapshot's figures with what was mapped.
 *
 *   snapshot_mapper [-a KIB] [-f FILE -F KIB] [-s KIB -c N] [-H MIB] [-T MIB]
 *     -a KIB    private anonymous memory, written (dirty)
 *     -f FILE   a file to map MAP_SHARED and read (page cache, shared)
 *     -F KIB    how much of FILE to map (the file is grown to this size)
 *     -s KIB    a MAP_SHARED|MAP_ANONYMOUS region written by the parent ...
 *     -c N      ... and inherited by N forked children that read it
 *     -H MIB    MAP_HUGETLB memory (needs vm.nr_hugepages)
 *     -T MIB    anonymous memory advised MADV_HUGEPAGE (THP)
 *     -V        one child made with clone(CLONE_VM) (shares the parent's mm)
 * main() is over 120 lines: it maps each kind in the order above, one
 * block per option, then reports and waits.
 */
#define _GNU_SOURCE /* clone() */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL

static void die(const char *what)
{
	fprintf(stderr, "snapshot_mapper: %s: %s\n", what, strerror(errno));
	exit(1);
}

static unsigned long num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "snapshot_mapper: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static void touch_write(char *p, unsigned long len, int value)
{
	for (unsigned long off = 0; off < len; off += PAGE)
		p[off] = (char)value;
}

static volatile unsigned long sink;

static void touch_read(const char *p, unsigned long len)
{
	for (unsigned long off = 0; off < len; off += PAGE)
		sink += (unsigned char)p[off];
}

static int clone_child(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long anon_kib = 0, file_kib = 0, shared_kib = 0, huge_mib = 0, thp_mib = 0;
	unsigned long children = 0;
	const char *file = NULL;
	int opt, clone_vm = 0;
	char *shared = NULL;
	pid_t pids[256];
	unsigned long n = 0;
	int ready[2];

	while ((opt = getopt(argc, argv, "a:f:F:s:c:H:T:V")) != -1) {
		switch (opt) {
		case 'a':
			anon_kib = num(optarg);
			break;
		case 'f':
			file = optarg;
			break;
		case 'F':
			file_kib = num(optarg);
			break;
		case 's':
			shared_kib = num(optarg);
			break;
		case 'c':
			children = num(optarg);
			break;
		case 'H':
			huge_mib = num(optarg);
			break;
		case 'T':
			thp_mib = num(optarg);
			break;
		case 'V':
			clone_vm = 1;
			break;
		default:
			return 2;
		}
	}
	if (children > 255) {
		fprintf(stderr, "snapshot_mapper: at most 255 children\n");
		return 2;
	}
	if (anon_kib) {
		char *p = mmap(NULL, anon_kib * 1024, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap anon");
		touch_write(p, anon_kib * 1024, 1);
	}
	if (file && file_kib) {
		int fd = open(file, O_RDWR | O_CREAT, 0644);
		char *p;

		if (fd < 0)
			die("open file");
		if (ftruncate(fd, (off_t)file_kib * 1024))
			die("ftruncate");
		p = mmap(NULL, file_kib * 1024, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			die("mmap file");
		close(fd);
		touch_read(p, file_kib * 1024);
	}
	if (huge_mib) {
		char *p = mmap(NULL, huge_mib << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (p == MAP_FAILED)
			die("mmap hugetlb (set vm.nr_hugepages)");
		touch_write(p, huge_mib << 20, 1);
	}
	if (thp_mib) {
		/* over-map by 2 MiB so an aligned 2 MiB extent fits */
		unsigned long len = (thp_mib + 2) << 20;
		char *p =
		    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *aligned;

		if (p == MAP_FAILED)
			die("mmap thp");
		aligned = (char *)(((unsigned long)p + (2UL << 20) - 1) & ~((2UL << 20) - 1));
		madvise(aligned, thp_mib << 20, MADV_HUGEPAGE);
		touch_write(aligned, thp_mib << 20, 1);
	}
	if (shared_kib) {
		shared = mmap(NULL, shared_kib * 1024, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (shared == MAP_FAILED)
			die("mmap shared anon");
		touch_write(shared, shared_kib * 1024, 1);
	}
	/* each child writes one byte once it has touched the shared region */
	if (pipe(ready))
		die("pipe");
	for (unsigned long i = 0; i < children; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (shared)
				touch_read(shared, shared_kib * 1024);
			if (write(ready[1], "", 1) != 1)
				die("write");
			for (;;)
				pause();
		}
		pids[n++] = pid;
	}
	if (clone_vm) {
		static char stack[64 * 1024];
		pid_t pid = clone(clone_child, stack + sizeof(stack), CLONE_VM | SIGCHLD, NULL);

		if (pid < 0)
			die("clone");
		pids[n++] = pid;
	}
	for (unsigned long i = 0; i < children; i++) {
		char c;

		if (read(ready[0], &c, 1) != 1)
			die("read");
	}
	printf("ready %d", (int)getpid());
	for (unsigned long i = 0; i < n; i++)
		printf(" %d", (int)pids[i]);
	printf("\n");
	fflush(stdout);
	signal(SIGTERM, SIG_DFL);
	for (;;)
		pause();
}
