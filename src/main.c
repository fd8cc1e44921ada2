// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace: kernel-assisted memory tracer. Dispatches to a subcommand by
 * exact name; each subcommand owns its argp parser.
 */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "kfeatures.h"
#include "tracer_api.h"
#include "log.h"

#define MEMTRACE_VERSION "0.1.0"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "top", cmd_top, "live per-process memory from kernel counters (table or NDJSON)" },
	{ "snapshot", cmd_snapshot, "RAM and swap per program, counted with PSS (no BPF needed)" },
	{ "record", cmd_record,
	  "record the call stacks that grow memory (faults, mmap, brk, malloc)" },
	{ "report", cmd_report,
	  "call sites by growth from a recording: text, json, folded, svg, pprof" },
	{ "run", cmd_run, "run a command, follow its process tree, check memory budgets (CI)" },
	{ "serve", cmd_serve, "export memory per program, cgroup, user or process to Prometheus" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: memtrace [--version [-v]] <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\n'memtrace <command> --help' explains each command.\n"
		     "BPF commands need root, or CAP_BPF and CAP_PERFMON.\n");
}

static int print_version(int argc, char **argv)
{
	bool verbose = false;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
			verbose = true;
	printf("memtrace %s\n", MEMTRACE_VERSION);
	if (!verbose)
		return MT_EXIT_OK;
	if (features__print(stdout))
		return MT_EXIT_FAILURE;
	if (features__check_privileges() == 0 && tracer__print_ladder(stdout))
		return MT_EXIT_FAILURE;
	return MT_EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *name;

	mt_filter_usage_hints();
	if (argc < 2) {
		usage(stderr);
		return MT_EXIT_USAGE;
	}
	name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		usage(stdout);
		return MT_EXIT_OK;
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
		return print_version(argc, argv);

	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (strcmp(name, subcommands[i].name) == 0) {
			char prog[64];

			/* argp names the program after argv[0]: "memtrace top: ..." */
			snprintf(prog, sizeof(prog), "memtrace %s", name);
			argv[1] = prog;
			return subcommands[i].run(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "memtrace: unknown command '%s' (try 'memtrace --help')\n", name);
	return MT_EXIT_USAGE;
}
