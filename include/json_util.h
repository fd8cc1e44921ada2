/* SPDX-License-Identifier: GPL-2.0 */
/*
 * JSON helpers on top of json-c. Process names are arbitrary bytes; JSON
 * strings must be valid UTF-8, so invalid sequences become U+FFFD (json-c
 * itself escapes quotes and control bytes).
 */
#ifndef MEMTRACE_JSON_UTIL_H
#define MEMTRACE_JSON_UTIL_H

#include <stddef.h>
#include <json-c/json.h>

/* New json string from len bytes (NUL bytes inside are kept as \u0000). */
struct json_object *mt_json_string(const char *bytes, size_t len);

/* Copy bytes into out (outlen incl. NUL) replacing invalid UTF-8 with U+FFFD; returns out. */
char *mt_utf8_sanitize(const char *bytes, size_t len, char *out, size_t outlen);

struct mt_frame;

/*
 * A symbolized frame as report's and run's JSON show it: function, offset,
 * file, line (null when unknown), module, module_offset.
 */
struct json_object *mt_frame_json(const struct mt_frame *f);

#endif /* MEMTRACE_JSON_UTIL_H */
