/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Diagnostics to stderr, by verbosity. Messages are lowercase, without a
 * trailing period: what failed, on what, why, and the fix when known.
 */
#ifndef MEMTRACE_LOG_H
#define MEMTRACE_LOG_H

#include <stdbool.h>

#define MT_EXIT_OK 0
#define MT_EXIT_FAILURE 1
#define MT_EXIT_USAGE 2

/* 0 = errors and warnings, 1 = -v, 2 = -vv (adds libbpf debug output) */
extern int mt_verbose;
/* when set, mt_err() writes {"error": "..."} lines for --json consumers */
extern bool mt_json_errors;

void mt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mt_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mt_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mt_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Route libbpf's own messages through our verbosity levels. */
void mt_setup_libbpf_log(void);

/*
 * Usage errors are one line. argp follows its message with "Try `... --help'
 * ..." (wrapped over two lines at times) and argp_usage() with a "Usage:"
 * block; no argp flag drops those but keeps the message (ARGP_NO_ERRS drops
 * both), so stderr is replaced by a stream that passes every line but
 * those. Call once, first thing in main(). 0 or -errno (stderr unchanged).
 */
int mt_filter_usage_hints(void);

#endif /* MEMTRACE_LOG_H */
