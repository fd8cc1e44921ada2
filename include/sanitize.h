/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Names that came from a traced process (perf-map symbols, ELF and DWARF
 * names of its binaries, its command line, its comm) made safe for a
 * terminal, folded stacks and SVG. Valid UTF-8 without control characters
 * passes unchanged; every control byte (0x00-0x1f, 0x7f), C1 control
 * (U+0080-U+009F, which terminals also obey) and byte of an invalid UTF-8
 * sequence becomes the four characters \xNN, so an escape sequence
 * planted in a symbol name is shown, not executed. (JSON output has its
 * own rule: json_util.h.)
 */
#ifndef MEMTRACE_SANITIZE_H
#define MEMTRACE_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>

/* Each input byte becomes at most this many output bytes. */
#define MT_SANITIZE_GROWTH 4

/* True when s (len bytes) would pass unchanged. */
bool mt_is_clean(const char *s, size_t len);

/*
 * Escaped copy of len bytes into out (outlen includes the NUL; an escape
 * or character is never cut in two, the output is cut short instead).
 * Returns the bytes written, without the NUL.
 */
size_t mt_sanitize(const char *s, size_t len, char *out, size_t outlen);

/* s itself when clean, else its escaped copy in buf (cut to len). For printf. */
const char *mt_safe_str(const char *s, char *buf, size_t len);

/* Newly allocated escaped copy of len bytes, NULL with errno on ENOMEM. */
char *mt_sanitize_dup(const char *s, size_t len);

#endif /* MEMTRACE_SANITIZE_H */
