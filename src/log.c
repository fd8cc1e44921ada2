// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "log.h"

int mt_verbose;
bool mt_json_errors;

static void vlog(const char *level, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (mt_json_errors) {
		struct json_object *obj = json_object_new_object();

		json_object_object_add(obj, level, json_object_new_string(msg));
		fprintf(stderr, "%s\n",
			json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
		json_object_put(obj);
		return;
	}
	if (strcmp(level, "error") == 0 || strcmp(level, "warning") == 0)
		fprintf(stderr, "memtrace: %s%s\n",
			strcmp(level, "warning") == 0 ? "warning: " : "", msg);
	else
		fprintf(stderr, "%s\n", msg);
}

void mt_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error", fmt, ap);
	va_end(ap);
}

void mt_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning", fmt, ap);
	va_end(ap);
}

void mt_info(const char *fmt, ...)
{
	va_list ap;

	if (mt_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog("info", fmt, ap);
	va_end(ap);
}

void mt_debug(const char *fmt, ...)
{
	va_list ap;

	if (mt_verbose < 2)
		return;
	va_start(ap, fmt);
	vlog("debug", fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && mt_verbose < 2)
		return 0;
	if (level == LIBBPF_INFO && mt_verbose < 1)
		return 0;
	/*
	 * libbpf warnings are noise when we fall back on purpose (a refused
	 * program's verifier log among them): -v says why in one line, -vv
	 * shows them
	 */
	if (level == LIBBPF_WARN && mt_verbose < 2)
		return 0;
	/* the verifier's log of a refused program is pages long: -vv, as libbpf's debug */
	if (mt_verbose < 2 && strstr(fmt, "PROG LOAD LOG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void mt_setup_libbpf_log(void)
{
	libbpf_set_print(libbpf_print);
}

/* ---- the one-line usage errors (see log.h) ---- */

enum hint_mode { HINT_NONE, HINT_TRY, HINT_USAGE };

struct hint_filter {
	char line[1024]; /* the current line while it may still be a hint */
	size_t len;
	bool pass; /* the current line is known not to be a hint: written as it comes */
	bool drop; /* the current line is known to be a hint */
	enum hint_mode mode;
	int fd;
};

static const char try_prefix[] = "Try `", usage_prefix[] = "Usage:";

static void hint_write(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static bool prefix_of(const char *line, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix);

	return !strncmp(line, prefix, len < plen ? len : plen);
}

/* Decide what the line seen so far is, once enough of it is known. */
static void hint_decide(struct hint_filter *h, bool eol)
{
	bool try = prefix_of(h->line, h->len, try_prefix);
	bool usage = prefix_of(h->line, h->len, usage_prefix);

	if (h->mode == HINT_USAGE && h->len && h->line[0] == ' ') {
		h->drop = true; /* a continuation of the Usage: block */
		return;
	}
	if (h->mode == HINT_TRY) {
		h->drop = true; /* the wrapped end of a Try line */
		return;
	}
	h->mode = HINT_NONE;
	if ((try && h->len >= strlen(try_prefix)) || (usage && h->len >= strlen(usage_prefix))) {
		h->drop = true;
		h->mode = try ? HINT_TRY : HINT_USAGE;
	} else if ((!try && !usage) || eol || h->len == sizeof(h->line)) {
		h->pass = true;
	}
}

static void hint_end_line(struct hint_filter *h)
{
	if (h->drop && h->mode == HINT_TRY && memmem(h->line, h->len, "information.", 12))
		h->mode = HINT_NONE;
	h->len = 0;
	h->pass = h->drop = false;
}

static ssize_t hint_filter_write(void *cookie, const char *buf, size_t size)
{
	struct hint_filter *h = cookie;

	for (size_t i = 0; i < size; i++) {
		char c = buf[i];

		if (h->pass) {
			size_t j = i;

			while (j < size && buf[j] != '\n')
				j++;
			hint_write(h->fd, buf + i, j - i + (j < size));
			i = j;
			if (j < size)
				hint_end_line(h);
			continue;
		}
		if (h->len < sizeof(h->line))
			h->line[h->len++] = c;
		if (!h->drop)
			hint_decide(h, c == '\n');
		if (h->pass)
			hint_write(h->fd, h->line, h->len);
		if (c == '\n')
			hint_end_line(h);
	}
	return size;
}

static int hint_filter_close(void *cookie)
{
	struct hint_filter *h = cookie;

	if (!h->drop && h->len)
		hint_write(h->fd, h->line, h->len);
	return 0;
}

int mt_filter_usage_hints(void)
{
	static struct hint_filter filter; /* lives as long as stderr */
	cookie_io_functions_t io = { .write = hint_filter_write, .close = hint_filter_close };
	struct hint_filter *h = &filter;
	FILE *f;

	h->fd = STDERR_FILENO;
	f = fopencookie(h, "w", io);
	if (!f)
		return -errno;
	setvbuf(f, NULL, _IONBF, 0); /* order kept with direct write(2) calls on fd 2 */
	stderr = f;
	return 0;
}
