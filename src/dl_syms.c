// SPDX-License-Identifier: GPL-2.0
/* See include/dl_syms.h. */
#include <dlfcn.h>
#include <stdio.h>
#include "dl_syms.h"

int dl_syms__load(const char *soname, const struct dl_sym *syms, size_t nr, char *why,
		  size_t why_len)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		snprintf(why, why_len, "%s", dlerror());
		return -1;
	}
	for (size_t i = 0; i < nr; i++) {
		*syms[i].addr = dlsym(lib, syms[i].name);
		if (*syms[i].addr)
			continue;
		snprintf(why, why_len, "%s has no %s", soname, syms[i].name);
		for (size_t j = 0; j < i; j++)
			*syms[j].addr = NULL;
		return -1;
	}
	return 0;
}
