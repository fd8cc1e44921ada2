// SPDX-License-Identifier: GPL-2.0
/*
 * Page faults at a known rate, for serve's rate() check against Prometheus.
 *
 *   faultrate --rate N --seconds S [--name COMM]
 *
 * Prints "ready <pid>", then for S seconds takes N faults a second: 20
 * times a second (paced by CLOCK_MONOTONIC, so a late tick catches up) it
 * maps N/20 anonymous pages with MADV_NOHUGEPAGE (one fault per page,
 * whatever the THP setting), writes one byte to each and unmaps them.
 * Prints "done" and exits.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#define TICKS_PER_SEC 20

static void say(const char *s)
{
	ssize_t n = write(STDOUT_FILENO, s, strlen(s));

	(void)n;
}

static unsigned long number(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	return *end || !*s ? 0 : v;
}

int main(int argc, char **argv)
{
	unsigned long rate = 0, seconds = 0, per_tick;
	long page = sysconf(_SC_PAGESIZE);
	const char *name = NULL;
	struct timespec next;
	char buf[32];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rate"))
			rate = number(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = number(argv[i + 1]);
		else if (!strcmp(argv[i], "--name"))
			name = argv[i + 1];
	}
	if (!rate || !seconds || rate % TICKS_PER_SEC) {
		say("usage: faultrate --rate N (a multiple of 20) --seconds S [--name COMM]\n");
		return 2;
	}
	if (name)
		prctl(PR_SET_NAME, name, 0, 0, 0);
	per_tick = rate / TICKS_PER_SEC;
	{
		/* "ready <pid>\n" without stdio */
		unsigned long pid = (unsigned long)getpid();
		int len = 0;
		char digits[24];

		do
			digits[len++] = (char)('0' + pid % 10);
		while ((pid /= 10));
		memcpy(buf, "ready ", 6);
		for (int i = 0; i < len; i++)
			buf[6 + i] = digits[len - 1 - i];
		buf[6 + len] = '\n';
		buf[7 + len] = '\0';
		say(buf);
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (unsigned long t = 0; t < seconds * TICKS_PER_SEC; t++) {
		char *p = mmap(NULL, per_tick * page, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return 1;
		madvise(p, per_tick * page, MADV_NOHUGEPAGE);
		for (unsigned long i = 0; i < per_tick; i++)
			((volatile char *)p)[i * page] = 1;
		munmap(p, per_tick * page);
		next.tv_nsec += 1000000000L / TICKS_PER_SEC;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	say("done\n");
	return 0;
}
