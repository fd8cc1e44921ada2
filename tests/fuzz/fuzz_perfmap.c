// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the /tmp/perf-PID.map parser (perfmap__parse), text
 * another user writes and root reads: every name it keeps is sanitized
 * (no control byte, valid UTF-8) and lookups stay in bounds. Built and run
 * by `make fuzz` (and `make test`).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "perfmap.h"
#include "sanitize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct perfmap *m = perfmap__parse((const char *)data, size);
	uint64_t probes[] = { 0, 1, 0x1000, 0x7f0000001010ULL, UINT64_MAX };

	if (!m)
		return 0;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint64_t off = 0;
		const char *name = perfmap__lookup(m, probes[i], &off);

		if (name && !mt_is_clean(name, strlen(name)))
			__builtin_trap();
		if (name && off > probes[i])
			__builtin_trap();
	}
	/* every line is either kept or counted as skipped, never both */
	if (perfmap__count(m) + perfmap__skipped(m) > size)
		__builtin_trap();
	perfmap__free(m);
	return 0;
}
