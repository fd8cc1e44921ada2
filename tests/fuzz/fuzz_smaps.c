// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for smaps_rollup/smaps text (smaps_rollup__parse): any
 * bytes give a rollup or a clean error, and what is accepted holds the
 * parser's invariants. Built and run by `make fuzz` (and `make test`).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "smaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smaps_rollup r;

	memset(&r, 0xa5, sizeof(r)); /* nothing may be read before it is written */
	if (smaps_rollup__parse((const char *)data, size, &r) == 0) {
		/* accepted: the two lines the contract requires were there */
		if (!(r.present & SMAPS_HAS_RSS) || !(r.present & SMAPS_HAS_PSS))
			__builtin_trap();
	}
	return 0;
}
