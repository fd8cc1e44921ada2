/* SPDX-License-Identifier: GPL-2.0 */
/*
 * /tmp/perf-PID.map, the symbol file JIT runtimes (V8, the JVM with
 * perf-map-agent, LuaJIT, CPython 3.12 -X perf) write for perf: one
 * "START SIZE name" line per JITted function, START and SIZE in hex.
 *
 * The file is planted by the traced user and read as root, so it is read
 * through untrusted.h (no symlink, regular file, owned by root or the
 * process's user, at most PERFMAP_MAX_BYTES) and parsed strictly: lines
 * longer than PERFMAP_MAX_LINE, malformed lines and ranges that wrap are
 * skipped and counted, names are sanitized (sanitize.h) once, here.
 */
#ifndef MEMTRACE_PERFMAP_H
#define MEMTRACE_PERFMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PERFMAP_MAX_BYTES (64ULL << 20)
#define PERFMAP_MAX_LINE 4096

struct perfmap;

/* Parses len bytes of map text. NULL with errno (ENOMEM) only. */
struct perfmap *perfmap__parse(const char *text, size_t len);

/*
 * Reads and parses path, which must belong to root or owner (the traced
 * process's uid, UNTRUSTED_UID_UNKNOWN when not known). NULL with errno:
 * ENOENT, or a refusal as untrusted_open gives it (untrusted_strerror).
 */
struct perfmap *perfmap__load(const char *path, uid_t owner);

void perfmap__free(struct perfmap *m); /* NULL is fine */

/*
 * The sanitized name of the symbol that starts last at or before ip (of
 * equal starts, the later line: runtimes append recompiled code), and
 * ip's offset into it in *off; NULL when that symbol does not cover ip.
 */
const char *perfmap__lookup(const struct perfmap *m, uint64_t ip, uint64_t *off);

/* Symbols kept, and lines skipped as malformed or too long. */
size_t perfmap__count(const struct perfmap *m);
size_t perfmap__skipped(const struct perfmap *m);

#endif /* MEMTRACE_PERFMAP_H */
