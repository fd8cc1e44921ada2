// SPDX-License-Identifier: GPL-2.0
/*
 * CFI rows of this very process (its modules reported to libdwfl from
 * /proc/self/maps): at the first instruction of a function the x86-64 ABI
 * fixes the answer (CFA = rsp + 8, the return address at CFA - 8, rsp =
 * CFA), whatever the compiler made of the rest; one step over that row
 * gives the caller's pc and sp from a hand-made stack; a read that fails
 * leaves the return address unknown; an address in no module has no row.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "cfi_rows.h"
#include "dw_dl.h"

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

__attribute__((noinline)) int cfi_probe(int x);
__attribute__((noinline)) int cfi_probe(int x)
{
	return x * 3 + 1;
}

static Dwfl *self_dwfl(void)
{
	Dwfl *dwfl;

	assert_int_equal(dw_dl__open(), 0); /* memtrace loads libdw at run time */
	dwfl = dwfl_begin(&callbacks);
	assert_non_null(dwfl);
	dwfl_report_begin(dwfl);
	assert_int_equal(dwfl_linux_proc_report(dwfl, getpid()), 0);
	assert_int_equal(dwfl_report_end(dwfl, NULL, NULL), 0);
	return dwfl;
}

struct fake_stack {
	uint64_t base, words[4];
	bool fail;
};

static bool fake_read(uint64_t addr, uint64_t *out, void *ctx)
{
	struct fake_stack *s = ctx;

	if (s->fail || addr < s->base || addr + 8 > s->base + sizeof(s->words))
		return false;
	memcpy(out, (char *)s->words + (addr - s->base), 8);
	return true;
}

static void test_cfi_rows__function_entry(void **state)
{
#ifdef __x86_64__
	Dwfl *dwfl = self_dwfl();
	struct cfi_rows *rows = cfi_rows__new(dwfl);
	uint64_t pc = (uint64_t)(uintptr_t)cfi_probe, val[CFI_NREGS] = { 0 }, nval[CFI_NREGS];
	struct fake_stack s = { .base = 0x7ffd0000, .words = { 0x401234, 7, 8, 9 } };
	uint32_t nvalid = 0;
	const struct cfi_row *row;

	assert_non_null(rows);
	row = cfi_rows__get(rows, pc);
	assert_non_null(row);
	assert_int_equal(row->kind, CFI_ROW_FAST);
	assert_int_equal(row->cfa_reg, 7);
	assert_int_equal(row->cfa_off, 8);
	assert_int_equal(row->r[16].kind, CFI_RULE_AT_CFA);
	assert_int_equal(row->r[16].off, -8);
	assert_int_equal(row->r[7].kind, CFI_RULE_VAL_CFA);
	assert_int_equal(row->r[7].off, 0);
	/* looked up once: the same row again */
	assert_ptr_equal(cfi_rows__get(rows, pc), row);

	val[7] = s.base; /* rsp at the entry: the return address is the first word */
	val[3] = 0x3333; /* rbx, callee-saved: the same in the caller */
	assert_int_equal(
	    cfi_row__step(row, val, 1U << 7 | 1U << 3 | 1U << 16, nval, &nvalid, fake_read, &s), 0);
	assert_true(nvalid & 1U << 16);
	assert_int_equal(nval[16], 0x401234);
	assert_true(nvalid & 1U << 7);
	assert_int_equal(nval[7], s.base + 8);
	if (row->r[3].kind == CFI_RULE_SAME) {
		assert_true(nvalid & 1U << 3);
		assert_int_equal(nval[3], 0x3333);
	}
	/* a return address that cannot be read is unknown, not zero */
	s.fail = true;
	assert_int_equal(cfi_row__step(row, val, 1U << 7, nval, &nvalid, fake_read, &s), 0);
	assert_false(nvalid & 1U << 16);
	/* without the CFA's register the step cannot be made */
	assert_int_equal(cfi_row__step(row, val, 0, nval, &nvalid, fake_read, &s), -EINVAL);
	/* no module there: no row of CFI */
	row = cfi_rows__get(rows, 0x10);
	assert_non_null(row);
	assert_int_equal(row->kind, CFI_ROW_NONE);
	cfi_rows__free(rows);
	dwfl_end(dwfl);
	assert_int_equal(cfi_probe(1), 4);
#else
	skip(); /* the rows are x86-64's */
#endif
}

static void test_cfi_rows__free_null(void **state)
{
	cfi_rows__free(NULL);
	assert_null(cfi_rows__get(NULL, 0x1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cfi_rows__function_entry),
		cmocka_unit_test(test_cfi_rows__free_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
