/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libmicrohttpd, loaded with dlopen() by `serve` alone. Linked in, it maps
 * GnuTLS and nine more libraries into every command, and their relocated
 * and touched pages cost `memtrace top` about 2.4 MiB of RSS (issue 14).
 * src/mhd_dl.c defines the MHD_* functions that serve.c calls, each
 * forwarding to the library's own once it is loaded, so serve.c calls them
 * as <microhttpd.h> documents them. The executable does not export its
 * symbols (no -rdynamic), so the library's own calls still reach its own
 * functions.
 */
#ifndef MEMTRACE_MHD_DL_H
#define MEMTRACE_MHD_DL_H

#include <stddef.h>

/*
 * Loads the library once; later calls give the first answer. 0, or
 * -ENOENT with what the dynamic loader said in why (len bytes).
 */
int mhd_dl__open(char *why, size_t len);

#endif /* MEMTRACE_MHD_DL_H */
