// SPDX-License-Identifier: GPL-2.0
/*
 * The CFI unwinder on a known chain: tests/unit/unwind_chain.c is built
 * -O2 -fomit-frame-pointer, so a frame-pointer walk cannot follow it, and
 * its innermost function captures its own registers and stack as the BPF
 * side does. With this process's /proc/self/maps as the recorded maps the
 * unwinder must give every function of the chain, in order; a corrupted
 * return address must end the chain in an unknown frame.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>
#include "recording.h"
#include "symbolize.h"
#include "unwind.h"
#include "self_capture.h"
#include "unwind_chain.h"

#define PID 4242

static const char *const chain[] = {
	"take",	      "uw_chain_h", "uw_chain_g", "uw_chain_f", "uw_chain_e",
	"uw_chain_d", "uw_chain_c", "uw_chain_b", "uw_chain_a", "capture_chain",
};
#define CHAIN_LEN (sizeof(chain) / sizeof(chain[0]))

static uint64_t stack_top;

/* This process's maps as record writes them: code only, with its protections. */
static struct recording *self_recording(void)
{
	struct recording *rec = recording__new();

	assert_non_null(rec);
	assert_int_equal(self_capture__add_maps(rec, PID, &stack_top), 0);
	return rec;
}

static uint8_t stack_copy[MT_USTACK_MAX];

/* noinline: a frame of its own, the outermost one the test names */
__attribute__((noinline)) int capture_chain(struct uw_capture *c);
__attribute__((noinline)) int capture_chain(struct uw_capture *c)
{
	int r = uw_chain_a(c, 5);

	return r + 1;
}

static void capture(struct mt_rec_ustack *u)
{
	struct uw_capture c = { .stack_end = stack_top,
				.cap = sizeof(stack_copy),
				.stack = stack_copy };

	capture_chain(&c);
	if (!c.nregs)
		skip(); /* the capture is written for x86-64 and arm64 only */
	memset(u, 0, sizeof(*u));
	u->pid = PID;
	u->event = MT_EV_FAULT;
	u->class = MT_CLASS_ANON;
	u->arch = c.arch;
	u->nregs = c.nregs;
	memcpy(u->regs, c.regs, sizeof(c.regs));
	u->count = 1;
	u->bytes = 4096;
	u->stack_addr = c.stack_addr;
	u->stack_len = c.stack_len;
	u->stack = stack_copy;
}

static const char *name_of(struct symbolizer *sym, uint64_t ip, uint32_t i)
{
	struct mt_frame f;

	if (ip == MT_IP_UNKNOWN)
		return "[unknown]";
	symbolizer__lookup(sym, PID, 0, ip, i > 0, &f);
	return f.func ? f.func : "?";
}

static void test_unwind__known_chain(void **state)
{
	struct recording *rec = self_recording();
	struct mt_rec_ustack u;
	const struct mt_rec_ustack *ru;
	struct unwinder *uw;
	struct symbolizer *sym;
	struct unwinder_stats st;
	uint64_t ips[64];
	uint32_t nr = 0;
	size_t n;

	capture(&u);
	assert_int_equal(recording__add_ustack(rec, &u), 0);
	ru = recording__ustacks(rec, &n);
	uw = unwinder__new(rec, NULL);
	sym = symbolizer__new(rec);
	assert_non_null(uw);
	assert_non_null(sym);
	assert_int_equal(unwinder__unwind(uw, &ru[0], ips, 64, &nr), 0);
	for (uint32_t i = 0; i < nr; i++)
		print_message("  #%u %#llx %s\n", i, (unsigned long long)ips[i],
			      name_of(sym, ips[i], i));
	if (nr < CHAIN_LEN)
		fail_msg("unwound %u frames, the chain has %zu", nr, CHAIN_LEN);
	for (uint32_t i = 0; i < CHAIN_LEN; i++)
		if (strcmp(name_of(sym, ips[i], i), chain[i]))
			fail_msg("frame %u is %s, expected %s", i, name_of(sym, ips[i], i),
				 chain[i]);
	/* no frame after the chain is unknown except, possibly, the last */
	for (uint32_t i = CHAIN_LEN; i + 1 < nr; i++)
		assert_true(ips[i] != MT_IP_UNKNOWN);
	/* the same capture again comes from the cache, with the same answer */
	{
		uint64_t again[64];
		uint32_t nr2 = 0;

		assert_int_equal(unwinder__unwind(uw, &ru[0], again, 64, &nr2), 0);
		assert_int_equal(nr2, nr);
		assert_memory_equal(again, ips, nr * sizeof(*ips));
		unwinder__stats(uw, &st);
		assert_int_equal(st.cache_hits, 1);
		assert_int_equal(st.unwound, 1);
		/* room for 4: three frames and the unknown rest */
		assert_int_equal(unwinder__unwind(uw, &ru[0], again, 4, &nr2), 0);
		assert_int_equal(nr2, 4);
		assert_memory_equal(again, ips, 3 * sizeof(*ips));
		assert_true(again[3] == MT_IP_UNKNOWN);
	}
	symbolizer__free(sym);
	unwinder__free(uw);
	recording__free(rec);
}

/* Where in the copied stack the return address ret is kept; fails when absent. */
static size_t slot_of(const struct mt_rec_ustack *u, uint64_t ret)
{
	for (size_t off = 0; off + 8 <= u->stack_len; off += 8) {
		uint64_t w;

		memcpy(&w, u->stack + off, 8);
		if (w == ret)
			return off;
	}
	fail_msg("return address %#llx not in the copied stack", (unsigned long long)ret);
	return 0;
}

static void expect_cut(struct recording *rec, const struct mt_rec_ustack *u, uint32_t keep,
		       const char *what)
{
	struct unwinder *uw = unwinder__new(rec, NULL);
	struct symbolizer *sym = symbolizer__new(rec);
	uint64_t ips[64];
	uint32_t nr = 0;

	assert_non_null(uw);
	assert_non_null(sym);
	assert_int_equal(unwinder__unwind(uw, u, ips, 64, &nr), 0);
	for (uint32_t i = 0; i < nr; i++)
		print_message("  %s #%u %#llx %s\n", what, i, (unsigned long long)ips[i],
			      name_of(sym, ips[i], i));
	if (nr != keep + 1)
		fail_msg("%s: %u frames, expected %u and an unknown one", what, nr, keep + 1);
	for (uint32_t i = 0; i < keep; i++)
		assert_string_equal(name_of(sym, ips[i], i), chain[i]);
	assert_true(ips[keep] == MT_IP_UNKNOWN);
	symbolizer__free(sym);
	unwinder__free(uw);
}

/*
 * The return address into uw_chain_e overwritten with text ("unsigned",
 * the garbage the issue saw) and with the address of a data word: the
 * chain stops at uw_chain_f and says the rest is unknown.
 */
static void test_unwind__corrupt_return_address(void **state)
{
	struct recording *rec = self_recording();
	struct mt_rec_ustack u;
	const struct mt_rec_ustack *ru;
	struct unwinder *uw;
	uint64_t ips[64], garbage = 0x64656e6769736e75ULL;
	uint64_t data_addr = (uint64_t)(uintptr_t)&stack_top;
	uint32_t nr = 0;
	size_t n, off;

	capture(&u);
	assert_int_equal(recording__add_ustack(rec, &u), 0);
	uw = unwinder__new(rec, NULL);
	ru = recording__ustacks(rec, &n);
	assert_int_equal(unwinder__unwind(uw, &ru[0], ips, 64, &nr), 0);
	assert_true(nr > 5);
	unwinder__free(uw);
	/* ips[4] is the return address into uw_chain_e, kept in uw_chain_f's frame */
	off = slot_of(&ru[0], ips[4]);
	memcpy(ru[0].stack + off, &garbage, 8);
	expect_cut(rec, &ru[0], 4, "text");
	memcpy(ru[0].stack + off, &data_addr, 8);
	expect_cut(rec, &ru[0], 4, "data");
	recording__free(rec);
}

/*
 * ld.so's _start calls _dl_start with no CFI around it (glibc's
 * RTLD_START): every chain of a process's start-up runs through a return
 * to 8 bytes past ld.so's entry point, and nothing is above it. With the
 * return into uw_chain_e replaced by that one, the chain must end there,
 * complete (no [unknown]).
 */
static void test_unwind__ends_at_loader_entry(void **state)
{
	struct recording *rec = self_recording();
	uint64_t base = getauxval(AT_BASE), entry, ret, ips[64];
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(uintptr_t)base;
	struct mt_rec_ustack u;
	const struct mt_rec_ustack *ru;
	struct unwinder *uw;
	uint32_t nr = 0;
	size_t n, off;

	if (!base)
		skip(); /* a static binary has no loader */
	entry = base + eh->e_entry;
	capture(&u);
	assert_int_equal(recording__add_ustack(rec, &u), 0);
	ru = recording__ustacks(rec, &n);
	uw = unwinder__new(rec, NULL);
	assert_int_equal(unwinder__unwind(uw, &ru[0], ips, 64, &nr), 0);
	assert_true(nr > 5);
	unwinder__free(uw);
	off = slot_of(&ru[0], ips[4]);
	ret = entry + 8;
	memcpy(ru[0].stack + off, &ret, 8);
	uw = unwinder__new(rec, NULL);
	assert_int_equal(unwinder__unwind(uw, &ru[0], ips, 64, &nr), 0);
	unwinder__free(uw);
	for (uint32_t i = 0; i < nr; i++)
		print_message("  entry #%u %#llx\n", i, (unsigned long long)ips[i]);
	if (nr != 5 || ips[4] != ret)
		fail_msg("%u frames, last %#llx: expected 5 ending at ld.so's entry + 8 (%#llx)",
			 nr, (unsigned long long)ips[nr - 1], (unsigned long long)ret);
	recording__free(rec);
}

/* A stack copy cut short of the third frame's return address: unknown from there. */
static void test_unwind__short_copy(void **state)
{
	struct recording *rec = self_recording();
	struct mt_rec_ustack u;
	struct unwinder *uw;
	uint64_t ips[64];
	uint32_t nr = 0;
	size_t off;

	capture(&u);
	uw = unwinder__new(rec, NULL);
	assert_int_equal(unwinder__unwind(uw, &u, ips, 64, &nr), 0);
	unwinder__free(uw);
	assert_true(nr > 3);
	off = slot_of(&u, ips[3]);
	u.stack_len = off; /* the slot holding the way into uw_chain_f is not copied */
	assert_int_equal(recording__add_ustack(rec, &u), 0);
	expect_cut(rec, &u, 3, "short");
	recording__free(rec);
}

/* u's chain by both walks, uncached: the same frames, or a failure naming the first difference. */
static bool same_walks(struct recording *rec, const struct mt_rec_ustack *u, const char *what,
		       uint64_t *fast_walks)
{
	struct unwinder_opts lo = { .no_cache = true, .no_fast = true }, fo = { .no_cache = true };
	struct unwinder *slow = unwinder__new(rec, &lo), *fast = unwinder__new(rec, &fo);
	uint64_t a[256], b[256];
	uint32_t na = 0, nb = 0;
	struct unwinder_stats st;

	assert_non_null(slow);
	assert_non_null(fast);
	assert_int_equal(unwinder__unwind(slow, u, a, 256, &na), 0);
	assert_int_equal(unwinder__unwind(fast, u, b, 256, &nb), 0);
	unwinder__stats(fast, &st);
	*fast_walks += st.fast;
	unwinder__free(slow);
	unwinder__free(fast);
	for (uint32_t i = 0; i < na || i < nb; i++)
		if (i >= na || i >= nb || a[i] != b[i]) {
			print_message("  %s: frame %u: libdw %#llx (%u frames), fast %#llx (%u)\n",
				      what, i, i < na ? (unsigned long long)a[i] : 0ULL, na,
				      i < nb ? (unsigned long long)b[i] : 0ULL, nb);
			return false;
		}
	return true;
}

/*
 * The walk over cached CFI rows gives libdw's frames: on the known chain
 * (taken by it, not handed to libdw), on every length of its stack copy
 * cut short, and with each of its first 64 stack words replaced by text,
 * by a return address into the chain, and by zero.
 */
static void test_unwind__fast_walk_is_libdws(void **state)
{
	struct recording *rec = self_recording();
	uint64_t words[3] = { 0x64656e6769736e75ULL, 0, 0 }, fast = 0, saved;
	struct mt_rec_ustack u;
	uint32_t len, bad = 0, cases = 0;
	char what[64];

	capture(&u);
	if (u.arch != EM_X86_64)
		skip(); /* the fast walk is x86-64's; arm64 captures take libdw's walk */
	assert_true(same_walks(rec, &u, "known chain", &fast));
	assert_int_equal(fast, 1);
	len = u.stack_len;
	for (uint32_t cut = 0; cut <= len && cut <= 4096; cut += 8, cases++) {
		u.stack_len = cut;
		snprintf(what, sizeof(what), "copy cut at %u", cut);
		bad += !same_walks(rec, &u, what, &fast);
	}
	u.stack_len = len;
	words[1] = (uint64_t)(uintptr_t)uw_chain_c + 16;
	for (uint32_t off = 0; off + 8 <= len && off < 64 * 8; off += 8) {
		memcpy(&saved, u.stack + off, 8);
		for (int k = 0; k < 3; k++, cases++) {
			memcpy(u.stack + off, &words[k], 8);
			snprintf(what, sizeof(what), "word %u = %#llx", off / 8,
				 (unsigned long long)words[k]);
			bad += !same_walks(rec, &u, what, &fast);
		}
		memcpy(u.stack + off, &saved, 8);
	}
	print_message("  %u of %u cases differ; %llu walks over cached rows\n", bad, cases,
		      (unsigned long long)fast);
	assert_int_equal(bad, 0);
	assert_true(fast > cases / 2); /* most were not handed to libdw's walk */
	recording__free(rec);
}

/* Registers that are not a PC and SP for the arch are refused; no maps: the PC alone. */
static void test_unwind__bad_input(void **state)
{
	struct recording *rec = recording__new();
	struct mt_rec_ustack u = { .pid = 1, .arch = EM_X86_64, .nregs = 16 };
	struct unwinder *uw = unwinder__new(rec, NULL);
	uint64_t ips[8];
	uint32_t nr = 7;

	assert_non_null(uw);
	assert_int_equal(unwinder__unwind(uw, &u, ips, 8, &nr), -EINVAL);
	assert_int_equal(nr, 0);
	u.nregs = 17;
	u.arch = 3; /* EM_386 */
	assert_int_equal(unwinder__unwind(uw, &u, ips, 8, &nr), -EINVAL);
	u.arch = EM_X86_64;
	u.regs[16] = 0x401000;
	assert_int_equal(unwinder__unwind(uw, &u, ips, 8, &nr), 0);
	assert_int_equal(nr, 2);
	assert_int_equal(ips[0], 0x401000);
	assert_true(ips[1] == MT_IP_UNKNOWN);
	unwinder__free(uw);
	unwinder__free(NULL);
	recording__free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unwind__known_chain),
		cmocka_unit_test(test_unwind__corrupt_return_address),
		cmocka_unit_test(test_unwind__short_copy),
		cmocka_unit_test(test_unwind__ends_at_loader_entry),
		cmocka_unit_test(test_unwind__bad_input),
		cmocka_unit_test(test_unwind__fast_walk_is_libdws),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
