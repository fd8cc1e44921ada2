// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for /proc/PID/stat text (proc_stat__parse): comm may
 * hold spaces and parentheses; whatever is accepted has a terminated comm.
 * Built and run by `make fuzz` (and `make test`).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_stat st;

	if (proc_stat__parse((const char *)data, size, &st) == 0 &&
	    !memchr(st.comm, '\0', sizeof(st.comm)))
		__builtin_trap();
	return 0;
}
