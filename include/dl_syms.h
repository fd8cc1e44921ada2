/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dlopen() and dlsym() loop shared by the loaders of the libraries only
 * some commands use (src/dw_dl.c, src/curses_dl.c, src/mhd_dl.c).
 */
#ifndef MEMTRACE_DL_SYMS_H
#define MEMTRACE_DL_SYMS_H

#include <stddef.h>

/* One function or variable of the library and where its address goes. */
struct dl_sym {
	const char *name;
	void **addr;
};

/*
 * Open soname and resolve every symbol of syms into its slot. Returns 0, or
 * -1 with why set (dlerror()'s text, or the first symbol the library lacks)
 * and every slot cleared; the library then stays mapped.
 */
int dl_syms__load(const char *soname, const struct dl_sym *syms, size_t nr, char *why,
		  size_t why_len);

#endif /* MEMTRACE_DL_SYMS_H */
