/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User addresses of a recording to function+offset, file:line and module,
 * with elfutils (libdwfl). Addresses are resolved through the mappings the
 * recording captured (so exited processes still resolve): the map gives
 * the file offset, the file's PT_LOAD headers give the ELF address, which
 * is how PIE executables and shared libraries come out right wherever they
 * were loaded. Modules are opened once per build-id (or path when there is
 * none) and every answer is cached. A stripped binary yields module+offset;
 * JIT code is named from /tmp/perf-PID.map when the runtime wrote one.
 */
#ifndef MEMTRACE_SYMBOLIZE_H
#define MEMTRACE_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "recording.h"

struct symbolizer;

/* Strings belong to the symbolizer and live as long as it does. */
struct mt_frame {
	const char *func;   /* NULL when no symbol covers the address */
	uint64_t func_off;  /* bytes into func */
	const char *file;   /* source file from DWARF, or NULL */
	int line;	    /* 0 when unknown */
	const char *module; /* basename of the mapped file, "[vdso]", "[anon]", "[unknown]" */
	uint64_t mod_off;   /* file offset of the address within module */
	bool system;	    /* C library, dynamic loader, vdso: not a call site of its own */
};

/* Uses rec's mappings; rec must outlive the symbolizer. NULL with errno on failure. */
struct symbolizer *symbolizer__new(const struct recording *rec);
/* C++ and Rust names are demangled unless this turned it off (report --no-demangle). */
void symbolizer__set_demangle(struct symbolizer *sym, bool on);
void symbolizer__free(struct symbolizer *sym);

/*
 * Perf maps (/tmp/perf-PID.map) looked up and refused (owned by another
 * user than the process's as recorded, not a regular file, too large),
 * and in *first "PATH REASON" for the first of them.
 */
size_t symbolizer__jits_refused(const struct symbolizer *sym, const char **first);

/*
 * Processes whose perf map was refused only because their user is not
 * known (gone before memtrace read their /proc: only root's maps pass
 * then); not counted in symbolizer__jits_refused.
 */
size_t symbolizer__jits_unowned(const struct symbolizer *sym);

/*
 * Resolves ip of process image (pid, gen). ret_addr says ip is a return
 * address (every frame but the innermost), looked up at ip - 1 so a call
 * at the end of a function is not charged to the next one. Always fills
 * out; returns 0, or -ENOENT when not even a module was found.
 */
int symbolizer__lookup(struct symbolizer *sym, uint32_t pid, uint32_t gen, uint64_t ip,
		       bool ret_addr, struct mt_frame *out);

/*
 * The leaf fix. Given the innermost IP, the user SP at the event and the
 * words copied from there, finds from the module's CFI (.eh_frame, else
 * .debug_frame) whether the function at ip had its own frame pointer set
 * up; if not, frame-pointer unwinding skipped its caller, and *ret is set
 * to the return address read from the stack slot the CFI names. Returns 0
 * with *ret set, -ENOENT when no fix applies (frame set up, no CFI, slot
 * outside the copied words, or a value that is not code of the process).
 */
int symbolizer__leaf_return(struct symbolizer *sym, uint32_t pid, uint32_t gen, uint64_t ip,
			    uint64_t sp, const uint64_t *words, uint32_t nwords, uint64_t *ret);

/*
 * Whether the instruction before return address ret is a direct call
 * (x86-64 call rel32) to the entry of the function that holds return
 * address inner_ret. Then every event whose stack returns to ret went
 * through that one function: the leaf fix's caller holds for all of them.
 */
bool symbolizer__direct_call_into(struct symbolizer *sym, uint32_t pid, uint32_t gen, uint64_t ret,
				  uint64_t inner_ret);

/*
 * Whether addr lies in an executable mapping of (pid, gen), as the lookups
 * find mappings: a frame-pointer walk's return address that does not was
 * read from data, and ends the chain.
 */
bool symbolizer__in_code(const struct symbolizer *sym, uint32_t pid, uint32_t gen, uint64_t addr);

/*
 * The readable form of a C++ (Itanium) or Rust (legacy, v0) symbol into
 * buf; NULL when name is not validly mangled (it is then shown as is).
 */
const char *mt_demangle(const char *name, char *buf, size_t len);

/* "name+0x1c" or "module+0x1234" into buf; returns buf. */
char *mt_frame_format(const struct mt_frame *f, char *buf, size_t len);

/* Lookups that hit the cache and ones that did the work, for -v. */
void symbolizer__stats(const struct symbolizer *sym, uint64_t *hits, uint64_t *misses);

#endif /* MEMTRACE_SYMBOLIZE_H */
