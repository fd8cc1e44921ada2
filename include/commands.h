/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Subcommand entry points. Each parses its own argv (argv[0] is the
 * subcommand name) with its own argp parser and returns the process exit
 * status: 0 success, 1 runtime failure, 2 usage error (see exit_status()).
 */
#ifndef MEMTRACE_COMMANDS_H
#define MEMTRACE_COMMANDS_H

int cmd_top(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif /* MEMTRACE_COMMANDS_H */
