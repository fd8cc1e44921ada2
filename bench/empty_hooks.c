// SPDX-License-Identifier: GPL-2.0
/*
 * Attaches the empty programs of bench/bpf/empty_hooks.bpf.c (the cost of
 * the kernel's dispatch alone), prints "attached" and waits for SIGINT or
 * SIGTERM. The floor that bench/bench_top.sh sets beside memtrace top.
 *   empty_hooks OBJECT
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	sigset_t set;
	int sig, err;

	if (argc != 2) {
		fprintf(stderr, "usage: empty_hooks OBJECT\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "empty_hooks: cannot open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "empty_hooks: cannot load %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	bpf_object__for_each_program(prog, obj)
	{
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "empty_hooks: cannot attach %s: %s\n",
				bpf_program__name(prog), strerror(errno));
			return 1;
		}
	}
	printf("attached\n");
	fflush(stdout);
	sigwait(&set, &sig);
	bpf_object__close(obj);
	return 0;
}
