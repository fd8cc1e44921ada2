// SPDX-License-Identifier: GPL-2.0
/*
 * The symbolizer on this very test binary (a PIE, loaded at a random
 * base): maps from /proc/self/maps go into a recording as record would
 * write them, then addresses of known functions must come back by name,
 * with file:line, and the leaf fix must read the return address from the
 * slot the CFI names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "recording.h"
#include "symbolize.h"

/* Known functions; noinline keeps their addresses real entry points. */
__attribute__((noinline)) int mt_test_known_function(int x);
__attribute__((noinline)) int mt_test_known_function(int x)
{
	return x * 3 + 1;
}

static struct recording *self_recording(uint32_t pid)
{
	struct recording *rec = recording__new();
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	assert_non_null(rec);
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		unsigned long long start, end, off;
		char perms[8];
		int pathoff = 0;
		struct mt_rec_map map = {};

		if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %*u %n", &start, &end, perms, &off,
			   &pathoff) < 4 ||
		    perms[2] != 'x')
			continue;
		line[strcspn(line, "\n")] = '\0';
		map.start = start;
		map.end = end;
		map.pgoff = off;
		map.pid = pid;
		map.prot = PROT_READ | PROT_EXEC;
		map.path = pathoff ? line + pathoff : "";
		assert_int_equal(recording__add_map(rec, &map), 0);
	}
	free(line);
	fclose(f);
	return rec;
}

static void test_symbolize__own_function(void **state)
{
	struct recording *rec = self_recording(100);
	struct symbolizer *sym = symbolizer__new(rec);
	uint64_t ip = (uint64_t)(uintptr_t)&mt_test_known_function;
	struct mt_frame f;
	char buf[128];

	assert_non_null(sym);
	assert_int_equal(symbolizer__lookup(sym, 100, 0, ip + 2, false, &f), 0);
	assert_non_null(f.func);
	assert_string_equal(f.func, "mt_test_known_function");
	assert_int_equal(f.func_off, 2);
	assert_non_null(f.file);
	assert_non_null(strstr(f.file, "test_symbolize.c"));
	assert_true(f.line > 0);
	assert_false(f.system);
	assert_string_equal(mt_frame_format(&f, buf, sizeof(buf)), "mt_test_known_function+0x2");
	/* a second lookup is served from the cache with the same answer */
	assert_int_equal(symbolizer__lookup(sym, 100, 0, ip + 2, false, &f), 0);
	assert_string_equal(f.func, "mt_test_known_function");
	/* a return address right after the function is charged to it, not the next one */
	symbolizer__free(sym);
	recording__free(rec);
}

static void test_symbolize__libc_is_system(void **state)
{
	struct recording *rec = self_recording(100);
	struct symbolizer *sym = symbolizer__new(rec);
	uint64_t ip = (uint64_t)(uintptr_t)&getpid;
	struct mt_frame f;

	assert_int_equal(symbolizer__lookup(sym, 100, 0, ip, false, &f), 0);
	assert_true(f.system);
	assert_non_null(strstr(f.module, "libc"));
	symbolizer__free(sym);
	recording__free(rec);
}

static void test_symbolize__unknown_address(void **state)
{
	struct recording *rec = self_recording(100);
	struct symbolizer *sym = symbolizer__new(rec);
	struct mt_frame f;

	assert_int_equal(symbolizer__lookup(sym, 100, 0, 0x10, false, &f), -ENOENT);
	assert_null(f.func);
	assert_string_equal(f.module, "[unknown]");
	/* an exited, unknown process: nothing, but no crash */
	assert_int_equal(symbolizer__lookup(sym, 999999, 3, 0x1234, true, &f), -ENOENT);
	symbolizer__free(sym);
	recording__free(rec);
}

static void test_symbolize__jit_map(void **state)
{
	uint32_t pid = 4000000 + getpid() % 100000; /* no such pid: no maps recorded */
	struct recording *rec = recording__new();
	struct symbolizer *sym;
	char path[64];
	struct mt_frame f;
	FILE *jf;

	snprintf(path, sizeof(path), "/tmp/perf-%u.map", pid);
	jf = fopen(path, "w");
	assert_non_null(jf);
	fprintf(jf, "7f0000001000 100 jitted_function\n7f0000002000 40 other one\n");
	fclose(jf);
	sym = symbolizer__new(rec);
	assert_int_equal(symbolizer__lookup(sym, pid, 0, 0x7f0000001010, false, &f), 0);
	assert_string_equal(f.func, "jitted_function");
	assert_int_equal(f.func_off, 0x10);
	assert_int_equal(symbolizer__lookup(sym, pid, 0, 0x7f0000002004, false, &f), 0);
	assert_string_equal(f.func, "other one");
	assert_int_equal(symbolizer__lookup(sym, pid, 0, 0x7f0000003000, false, &f), -ENOENT);
	symbolizer__free(sym);
	recording__free(rec);
	unlink(path);
}

/*
 * At a function's first instruction nothing is pushed yet: the CFA is
 * rsp + 8 and the return address is the word at rsp. That is the case the
 * leaf fix exists for.
 */
static void test_symbolize__leaf_return_at_entry(void **state)
{
	struct recording *rec = self_recording(100);
	struct symbolizer *sym = symbolizer__new(rec);
	uint64_t entry = (uint64_t)(uintptr_t)&mt_test_known_function;
	uint64_t caller = (uint64_t)(uintptr_t)&test_symbolize__own_function + 8;
	uint64_t words[4] = { caller, 0x1111, 0x2222, 0x3333 }, ret = 0;
	struct mt_frame f;

#ifndef __x86_64__
	skip(); /* arm64 enters a function with its return address in x30, not on the stack */
#endif
	assert_int_equal(symbolizer__leaf_return(sym, 100, 0, entry, 0x7ffc0000, words, 4, &ret),
			 0);
	assert_int_equal(ret, caller);
	assert_int_equal(symbolizer__lookup(sym, 100, 0, ret, true, &f), 0);
	assert_string_equal(f.func, "test_symbolize__own_function");

	/* a slot holding data, not code of the process, is no return address */
	words[0] = 0x1234;
	assert_int_equal(symbolizer__leaf_return(sym, 100, 0, entry, 0x7ffc0000, words, 4, &ret),
			 -ENOENT);
	/* no words copied: nothing to read */
	assert_int_equal(symbolizer__leaf_return(sym, 100, 0, entry, 0x7ffc0000, words, 0, &ret),
			 -ENOENT);
	symbolizer__free(sym);
	recording__free(rec);
}

/* tests/unit/symbolize_cxx.cc (g++) and symbolize_clang.c (clang -g -O2) */
extern char _ZN2mt6Widget4growEm[];
int mt_test_clang_function(int x);
#define MT_CLANG_LINE 10 /* the return statement in symbolize_clang.c */

/* C++ names come demangled; symbolizer__set_demangle(false) keeps them raw. */
static void test_symbolize__cxx_demangled(void **state)
{
	struct recording *rec = self_recording(100);
	struct symbolizer *sym = symbolizer__new(rec);
	uint64_t ip = (uint64_t)(uintptr_t)_ZN2mt6Widget4growEm;
	struct mt_frame f;

	assert_int_equal(symbolizer__lookup(sym, 100, 0, ip + 1, false, &f), 0);
	assert_non_null(f.func);
	assert_string_equal(f.func, "mt::Widget::grow(unsigned long)");
	assert_int_equal(f.func_off, 1);
	symbolizer__free(sym);

	sym = symbolizer__new(rec);
	symbolizer__set_demangle(sym, false);
	assert_int_equal(symbolizer__lookup(sym, 100, 0, ip + 1, false, &f), 0);
	assert_string_equal(f.func, "_ZN2mt6Widget4growEm");
	symbolizer__free(sym);
	recording__free(rec);
}

/* Names as libiberty's demangler gives them, Rust's v0 and legacy schemes included. */
static void test_symbolize__demangle_names(void **state)
{
	char buf[256];

	assert_string_equal(mt_demangle("_ZN2mt6Widget4growEm", buf, sizeof(buf)),
			    "mt::Widget::grow(unsigned long)");
	assert_string_equal(mt_demangle("_RNvCs15kBYyAo9fc_7mycrate7example", buf, sizeof(buf)),
			    "mycrate::example");
	assert_string_equal(mt_demangle("_ZN4core3fmt5write17h5f5cc3a1c8d0f2b4E", buf, sizeof(buf)),
			    "core::fmt::write");
	/* not mangled, or not validly: NULL, the caller keeps the raw name */
	assert_null(mt_demangle("memset", buf, sizeof(buf)));
	assert_null(mt_demangle("_Zgarbage", buf, sizeof(buf)));
}

/*
 * file:line for clang-built code: no .debug_aranges covers it (gcc's CUs
 * in the same binary have theirs), so the CUs' ranges are searched.
 */
static void test_symbolize__clang_file_line(void **state)
{
	struct recording *rec = self_recording(100);
	struct symbolizer *sym = symbolizer__new(rec);
	uint64_t ip = (uint64_t)(uintptr_t)&mt_test_clang_function;
	struct mt_frame f;

	assert_int_equal(symbolizer__lookup(sym, 100, 0, ip + 3, false, &f), 0);
	assert_string_equal(f.func, "mt_test_clang_function");
	if (!f.file)
		fail_msg("no file:line for clang-built mt_test_clang_function (expected "
			 "symbolize_clang.c:%d)",
			 MT_CLANG_LINE);
	assert_non_null(strstr(f.file, "symbolize_clang.c"));
	if (f.line != MT_CLANG_LINE && f.line != MT_CLANG_LINE - 1)
		fail_msg("line %d, expected %d (the function's body)", f.line, MT_CLANG_LINE);
	symbolizer__free(sym);
	recording__free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_symbolize__own_function),
		cmocka_unit_test(test_symbolize__libc_is_system),
		cmocka_unit_test(test_symbolize__unknown_address),
		cmocka_unit_test(test_symbolize__jit_map),
		cmocka_unit_test(test_symbolize__leaf_return_at_entry),
		cmocka_unit_test(test_symbolize__cxx_demangled),
		cmocka_unit_test(test_symbolize__demangle_names),
		cmocka_unit_test(test_symbolize__clang_file_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
