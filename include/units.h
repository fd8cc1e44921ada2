/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsing and formatting of the quantities users type and read: sizes,
 * durations, PID lists. Parsers are strict (end pointer, range checks) and
 * return 0 or -EINVAL (malformed) / -ERANGE (out of range); they never print.
 */
#ifndef MEMTRACE_UNITS_H
#define MEMTRACE_UNITS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * "4096", "512K", "512M", "2G", "1.5GiB", "10MB", "1T": binary multiples
 * (K = KiB = KB = 1024; decimal "kB" too, as /proc writes it), optional "B",
 * case-insensitive, no sign, no whitespace inside. Result in bytes.
 */
int parse_size(const char *text, uint64_t *bytes);

/*
 * "500ms", "2s", "1.5s", "1m", "1h", "250us", "100ns"; a bare number means
 * seconds. Must be > 0 unless allow_zero. Result in nanoseconds.
 */
int parse_duration(const char *text, uint64_t *ns, int allow_zero);

/*
 * A whole decimal number from min to max: digits only (no sign, no
 * spaces, no "0x"), -EINVAL when malformed, -ERANGE outside [min, max].
 */
int parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* parse_uint for a 32-bit field (max at most UINT32_MAX). */
int parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out);

/*
 * "1234" or "1,2,3": positive PIDs, no duplicates dropped silently (a
 * duplicate is -EINVAL), at most max entries (-ERANGE beyond).
 */
int parse_pid_list(const char *text, int *pids, size_t max, size_t *count);

/*
 * Human size with one decimal and a binary unit: "0 B", "512 B", "4.0 KiB",
 * "1.5 MiB", "2.0 GiB". Writes into buf (at least 16 bytes) and returns it.
 */
char *format_size(char *buf, size_t len, uint64_t bytes);

/* As format_size with an explicit sign for deltas: "+4.0 KiB", "-1.5 MiB", "0 B". */
char *format_size_delta(char *buf, size_t len, int64_t bytes);

/* "1.5s", "250ms", "12us" for a duration in ns; into buf, returned. */
char *format_duration(char *buf, size_t len, uint64_t ns);

/* Per-second rate of a counter that moved by delta over interval_ns (0 when interval is 0). */
double rate_per_sec(uint64_t delta, uint64_t interval_ns);

/* after - before for a cumulative counter; 0 if it went backwards (a reset). */
uint64_t counter_delta(uint64_t before, uint64_t after);

/* The one clock reader: clock_gettime(clock) in nanoseconds (CLOCK_MONOTONIC for intervals). */
uint64_t mt_clock_ns(clockid_t clock);

#endif /* MEMTRACE_UNITS_H */
