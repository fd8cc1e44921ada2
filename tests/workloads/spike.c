// SPDX-License-Identifier: GPL-2.0
/*
 * A short memory spike with a known size, for memtrace run's tests: the
 * kind of peak that a poller misses and the kernel's counters do not.
 *
 *   spike [--mib N] [--hold-ms H] [--before-ms B] [--after-ms A] [--fork]
 *
 * Sleeps B ms, maps N MiB (default 200) and touches every page in
 * spike_grow(), holds it H ms (default 5), unmaps it, sleeps A ms, exits 0.
 * With --fork the spike happens in a child that exits right after it (a
 * process shorter than a poll); the parent waits for it and exits with
 * its status.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

static int parse_ulong(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || end == s || *end || s[0] == '-' ? -1 : 0;
}

static void sleep_ms(unsigned long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Touch one byte per page: RSS grows by exactly the mapping. */
static char *__attribute__((noinline)) spike_grow(unsigned long bytes, long page)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	for (unsigned long off = 0; off < bytes; off += page)
		((volatile char *)p)[off] = 1;
	return p;
}

static int spike(unsigned long mib, unsigned long hold_ms)
{
	unsigned long bytes = mib << 20;
	char *p = spike_grow(bytes, sysconf(_SC_PAGESIZE));

	if (!p)
		return 1;
	sleep_ms(hold_ms);
	munmap(p, bytes);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long mib = 200, hold = 5, before = 0, after = 0;
	int do_fork = 0, status;

	for (int i = 1; i < argc; i++) {
		unsigned long *dst = NULL;

		if (!strcmp(argv[i], "--fork")) {
			do_fork = 1;
			continue;
		}
		if (i + 1 >= argc)
			goto usage;
		if (!strcmp(argv[i], "--mib"))
			dst = &mib;
		else if (!strcmp(argv[i], "--hold-ms"))
			dst = &hold;
		else if (!strcmp(argv[i], "--before-ms"))
			dst = &before;
		else if (!strcmp(argv[i], "--after-ms"))
			dst = &after;
		if (!dst || parse_ulong(argv[++i], dst))
			goto usage;
	}

	sleep_ms(before);
	if (do_fork) {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (pid == 0)
			_exit(spike(mib, hold));
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
			return 1;
	} else if (spike(mib, hold)) {
		return 1;
	}
	sleep_ms(after);
	return 0;

usage:
	(void)!write(STDERR_FILENO,
		     "usage: spike [--mib N] [--hold-ms H] [--before-ms B] "
		     "[--after-ms A] [--fork]\n",
		     77);
	return 2;
}
