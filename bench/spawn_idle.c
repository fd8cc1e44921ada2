// SPDX-License-Identifier: GPL-2.0
/*
 * Starts N idle processes (forked children that pause) for the poll-cost
 * benchmark, prints "ready" when all exist, and on SIGTERM or SIGINT exits;
 * the children die with it (PR_SET_PDEATHSIG).
 *   spawn_idle N
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
	sigset_t set;
	int sig;

	if (n <= 0 || n > 100000) {
		fprintf(stderr, "usage: spawn_idle N (1..100000)\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("spawn_idle: fork");
			kill(0, SIGKILL);
			return 1;
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(0); /* the parent is already gone */
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			for (;;)
				pause();
		}
	}
	printf("ready %ld\n", n);
	fflush(stdout);
	sigwait(&set, &sig);
	return 0;
}
