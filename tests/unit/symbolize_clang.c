// SPDX-License-Identifier: GPL-2.0
/*
 * A function built by clang -g -O2 for tests/unit/test_symbolize.c: clang
 * emits no .debug_aranges, and libdw 0.188 then finds no CU for it, so
 * file:line must come from the CUs' own address ranges.
 */
__attribute__((noinline)) int mt_test_clang_function(int x);
__attribute__((noinline)) int mt_test_clang_function(int x)
{
	return x * 7 + 3; /* the line the test expects: see MT_CLANG_LINE */
}
