// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for /proc/PID/status text (proc_status__parse): the
 * name stays NUL-terminated within its buffer whatever the escapes.
 * Built and run by `make fuzz` (and `make test`).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_status st;

	if (proc_status__parse((const char *)data, size, &st) == 0 &&
	    !memchr(st.name, '\0', sizeof(st.name)))
		__builtin_trap();
	return 0;
}
