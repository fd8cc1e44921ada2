// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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
		fprintf(stderr, "%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
		json_object_put(obj);
		return;
	}
	if (strcmp(level, "error") == 0 || strcmp(level, "warning") == 0)
		fprintf(stderr, "memtrace: %s%s\n", strcmp(level, "warning") == 0 ? "warning: " : "",
			msg);
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
	return vfprintf(stderr, fmt, ap);
}

void mt_setup_libbpf_log(void)
{
	libbpf_set_print(libbpf_print);
}
