// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the option parsers of units.h (sizes, durations,
 * PID lists): command-line text is untrusted too. A size or duration that
 * is accepted formats back without overflow. Built and run by `make fuzz`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), buf[64];
	int pids[16];
	size_t n = 0;
	uint64_t v;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0'; /* the parsers take C strings, as argv gives them */
	if (parse_size(text, &v) == 0)
		format_size(buf, sizeof(buf), v);
	if (parse_duration(text, &v, 0) == 0) {
		if (v == 0)
			__builtin_trap(); /* allow_zero was not given */
		format_duration(buf, sizeof(buf), v);
	}
	parse_duration(text, &v, 1);
	if (parse_pid_list(text, pids, 16, &n) == 0) {
		if (n > 16)
			__builtin_trap();
		for (size_t i = 0; i < n; i++)
			if (pids[i] <= 0)
				__builtin_trap();
	}
	free(text);
	return 0;
}
