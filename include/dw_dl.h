/* SPDX-License-Identifier: GPL-2.0 */
/*
 * elfutils' libdw, loaded with dlopen() by the commands that symbolize,
 * unwind or read build-ids (report, record, run's attribution, serve's
 * profiles) when they first need it. Linked in, it maps libdw, liblzma and
 * libbz2 into every command (about 0.35 MiB of `memtrace top`'s RSS, and
 * start-up time: issue 14). src/dw_dl.c defines the dwfl_*, dwarf_* and
 * dwelf_* functions that symbolize.c, unwind.c, cfi_rows.c and buildid.c
 * call, each forwarding to the library's own and loading it on the first
 * call of any, so those files call them as libdw's headers document them.
 * libelf stays linked: libbpf needs it.
 */
#ifndef MEMTRACE_DW_DL_H
#define MEMTRACE_DW_DL_H

#include <stddef.h>

/* Debian's libdw1: the ABI that <elfutils/libdwfl.h> describes */
#define DW_SONAME "libdw.so.1"

/*
 * Loads the library once; later calls give the first answer. 0, or
 * -ENOENT with errno set after printing (once) one line that names the
 * library, what the dynamic loader said, and the Debian package to install.
 */
int dw_dl__open(void);

#endif /* MEMTRACE_DW_DL_H */
