// SPDX-License-Identifier: GPL-2.0
/*
 * The profile model on recordings with known answers: a sampled bucket's
 * exact bytes shared over its captures in proportion to their weights
 * (the chains unwound from tests/unit/unwind_chain.c, built without frame
 * pointers), a bucket without captures kept as "[no stack: not sampled]",
 * totals that never lose a byte, and the two frame-pointer defects of
 * issue 9: a leaf's caller borrowed by every event of a key, and return
 * addresses read from data.
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
#include <sys/mman.h>
#include "profile.h"
#include "recording.h"
#include "self_capture.h"
#include "unwind_chain.h"

#define PID 777

static uint64_t stack_top;

static struct recording *self_recording(void)
{
	struct recording *rec = recording__new();
	struct mt_rec_proc proc = { .pid = PID, .comm = "selftest", .exe = "/x" };

	assert_non_null(rec);
	assert_int_equal(recording__add_proc(rec, &proc), 0);
	assert_int_equal(self_capture__add_maps(rec, PID, &stack_top), 0);
	return rec;
}

static uint8_t copy_buf[MT_USTACK_MAX];

__attribute__((noinline)) int long_path(struct uw_capture *c);
__attribute__((noinline)) int long_path(struct uw_capture *c)
{
	return uw_chain_a(c, 1) + 1;
}

__attribute__((noinline)) int short_path(struct uw_capture *c);
__attribute__((noinline)) int short_path(struct uw_capture *c)
{
	return uw_chain_e(c, 2) + 2;
}

static void add_capture(struct recording *rec, int (*path)(struct uw_capture *), int64_t bytes,
			uint32_t event, struct uw_capture *out)
{
	struct uw_capture c = { .stack_end = stack_top,
				.cap = sizeof(copy_buf),
				.stack = copy_buf };
	struct mt_rec_ustack u = { .pid = PID,
				   .event = event,
				   .class = MT_CLASS_ANON,
				   .arch = EM_X86_64,
				   .nregs = 17,
				   .count = bytes / 4096,
				   .bytes = bytes };

	path(&c);
	if (c.arch != EM_X86_64)
		skip(); /* the leaf cases below are x86-64's (return address on the stack) */
	memcpy(u.regs, c.regs, sizeof(c.regs));
	u.stack_addr = c.stack_addr;
	u.stack_len = c.stack_len;
	u.stack = c.stack;
	assert_int_equal(recording__add_ustack(rec, &u), 0);
	if (out)
		*out = c;
}

static bool has_frame(const struct mt_pstack *ps, const char *func)
{
	for (uint32_t i = 0; i < ps->nframes; i++)
		if (ps->frames[i].func && strcmp(ps->frames[i].func, func) == 0)
			return true;
	return false;
}

static const struct profile_opts all_events = { .events = MT_EVMASK(MT_EV_FAULT) |
							  MT_EVMASK(MT_EV_MMAP) |
							  MT_EVMASK(MT_EV_BRK) };

/*
 * One fault bucket of 10,000,000 bytes in the aggregate, three captures:
 * two of the long chain (1 and 2 units of weight: one stack) and one of
 * the short chain (1 unit). The long chain gets 3/4, the short one 1/4,
 * exactly, and an mmap bucket without captures keeps its bytes.
 */
static void test_profile__sampled_shares(void **state)
{
	struct recording *rec = self_recording();
	struct mt_rec_sample agg = { .pid = PID,
				     .stack_id = -ENODATA,
				     .event = MT_EV_FAULT,
				     .class = MT_CLASS_ANON,
				     .count = 2441,
				     .bytes = 10000000 };
	struct symbolizer *sym;
	struct profile *prof;
	int64_t long_b = 0, short_b = 0, lost_b = 0, sum = 0;
	uint64_t cnt = 0, nfault = 0;

	add_capture(rec, long_path, 4096, MT_EV_FAULT, NULL);
	add_capture(rec, short_path, 4096, MT_EV_FAULT, NULL);
	{
		/* the same capture again, twice the weight: unwound once, one stack */
		size_t n;
		struct mt_rec_ustack again = recording__ustacks(rec, &n)[0];

		again.bytes = 8192;
		assert_int_equal(recording__add_ustack(rec, &again), 0);
	}
	/* a capture of another bucket (mmap) must not take fault bytes */
	add_capture(rec, short_path, 1 << 20, MT_EV_BRK, NULL);
	assert_int_equal(recording__add_sample(rec, &agg), 0);
	agg.event = MT_EV_MMAP;
	agg.bytes = 123456789;
	agg.count = 3;
	assert_int_equal(recording__add_sample(rec, &agg), 0);

	sym = symbolizer__new(rec);
	prof = profile__build(rec, sym, &all_events);
	assert_non_null(prof);
	for (size_t i = 0; i < prof->n; i++) {
		const struct mt_pstack *ps = &prof->stacks[i];

		if (ps->event == MT_EV_FAULT) {
			sum += ps->bytes;
			cnt += ps->count;
			nfault++;
			assert_true(ps->unwound);
			if (has_frame(ps, "long_path"))
				long_b += ps->bytes;
			else if (has_frame(ps, "short_path"))
				short_b += ps->bytes;
			else
				fail_msg("a fault stack through neither path");
			assert_true(has_frame(ps, "uw_chain_e"));
		} else if (ps->event == MT_EV_MMAP) {
			assert_int_equal(ps->nframes, 1);
			assert_string_equal(ps->frames[0].func, "[no stack: not sampled]");
			lost_b += ps->bytes;
		}
	}
	print_message("long %lld short %lld (expected 7500000 and 2500000)\n", (long long)long_b,
		      (long long)short_b);
	assert_int_equal(long_b, 7500000);
	assert_int_equal(short_b, 2500000);
	assert_int_equal(sum, 10000000);
	assert_int_equal(cnt, 2441);
	assert_int_equal(lost_b, 123456789);
	assert_int_equal(prof->unsampled_bytes[MT_EV_MMAP], 123456789);
	assert_int_equal(prof->total_bytes[MT_EV_FAULT], 10000000);
	assert_int_equal(prof->captures, 3);
	assert_int_equal(nfault, 2);
	assert_int_equal(prof->unwind.unwound, 2);
	assert_int_equal(prof->unwind.cache_hits, 1);
	profile__free(prof);
	symbolizer__free(sym);
	recording__free(rec);
}

/* Shares round so that they add up to the key's figures exactly. */
static void test_profile__shares_add_up(void **state)
{
	struct recording *rec = self_recording();
	struct mt_rec_sample agg = { .pid = PID,
				     .stack_id = -ENODATA,
				     .event = MT_EV_FAULT,
				     .class = MT_CLASS_ANON,
				     .count = 1001,
				     .bytes = 1000003 };
	struct symbolizer *sym;
	struct profile *prof;
	int64_t sum = 0;
	uint64_t cnt = 0;

	for (int i = 0; i < 3; i++)
		add_capture(rec, i == 1 ? short_path : long_path, 4096, MT_EV_FAULT, NULL);
	assert_int_equal(recording__add_sample(rec, &agg), 0);
	sym = symbolizer__new(rec);
	prof = profile__build(rec, sym, &all_events);
	assert_non_null(prof);
	for (size_t i = 0; i < prof->n; i++) {
		sum += prof->stacks[i].bytes;
		cnt += prof->stacks[i].count;
	}
	assert_int_equal(sum, 1000003);
	assert_int_equal(cnt, 1001);
	profile__free(prof);
	symbolizer__free(sym);
	recording__free(rec);
}

/*
 * A frame-pointer stack that skipped the caller of a frameless leaf (take
 * sets up no frame pointer): the leaf fix recovers uw_chain_h from the
 * words copied at the key's first event. For a key of one event that is
 * its caller; for a key of many events it may be another event's, so it
 * is shown as unknown.
 */
static void test_profile__leaf_caller_not_borrowed(void **state)
{
	struct recording *rec = self_recording();
	struct uw_capture c;
	struct mt_rec_sample s = { .pid = PID,
				   .stack_id = 1,
				   .event = MT_EV_FAULT,
				   .class = MT_CLASS_ANON,
				   .count = 1,
				   .bytes = 4096,
				   .leaf_nr = MT_LEAF_WORDS };
	uint64_t ips[2], other[2], garbage[3];
	struct symbolizer *sym;
	struct unwinder *uw;
	struct profile *prof;
	const struct mt_rec_ustack *u;
	uint64_t chain[16];
	uint32_t nr;
	size_t n;

	add_capture(rec, long_path, 4096, MT_EV_MMAP, &c);
	u = recording__ustacks(rec, &n);
	uw = unwinder__new(rec, NULL);
	assert_int_equal(unwinder__unwind(uw, &u[0], chain, 16, &nr), 0);
	unwinder__free(uw);
	assert_true(nr > 3);
	/* the kernel's walk: the leaf, then (h skipped) the return into g */
	ips[0] = chain[0];
	ips[1] = chain[2];
	assert_int_equal(recording__add_stack(rec, 1, ips, 2), 0);
	s.leaf_ip = chain[0];
	s.leaf_sp = c.regs[7];
	memcpy(s.leaf_words, c.stack, sizeof(s.leaf_words));
	assert_int_equal(recording__add_sample(rec, &s), 0);
	s.stack_id = 2; /* the same, as a key that stands for 5 events */
	s.count = 5;
	assert_int_equal(recording__add_stack(rec, 2, ips, 2), 0);
	assert_int_equal(recording__add_sample(rec, &s), 0);
	/*
	 * five events whose next frame returns from a call to uw_chain_g, not
	 * to uw_chain_h (an indirect call, or another caller): the caller read
	 * at the first event need not be the others'
	 */
	other[0] = chain[0];
	other[1] = chain[3];
	s.stack_id = 4;
	assert_int_equal(recording__add_stack(rec, 4, other, 2), 0);
	assert_int_equal(recording__add_sample(rec, &s), 0);
	/* garbage: "unsigned" and a data address read as return addresses */
	garbage[0] = chain[0];
	garbage[1] = 0x64656e6769736e75ULL;
	garbage[2] = chain[3];
	assert_int_equal(recording__add_stack(rec, 3, garbage, 3), 0);
	s.stack_id = 3;
	s.leaf_nr = 0;
	assert_int_equal(recording__add_sample(rec, &s), 0);

	sym = symbolizer__new(rec);
	prof = profile__build(rec, sym, &all_events);
	assert_non_null(prof);
	assert_int_equal(prof->n, 4);
	/* one event: its own caller */
	assert_int_equal(prof->stacks[0].nframes, 3);
	assert_string_equal(prof->stacks[0].frames[0].func, "take");
	assert_string_equal(prof->stacks[0].frames[1].func, "uw_chain_h");
	assert_string_equal(prof->stacks[0].frames[2].func, "uw_chain_g");
	assert_true(prof->stacks[0].leaf_fixed);
	/* five events through a direct call into uw_chain_h: all of them went through it */
	assert_int_equal(prof->stacks[1].nframes, 3);
	assert_string_equal(prof->stacks[1].frames[1].func, "uw_chain_h");
	assert_string_equal(prof->stacks[1].frames[2].func, "uw_chain_g");
	assert_true(prof->stacks[1].leaf_fixed);
	/* five events with nothing to vouch for it: unknown, never the first event's */
	assert_int_equal(prof->stacks[2].nframes, 3);
	assert_string_equal(prof->stacks[2].frames[1].func, "[unknown]");
	assert_string_equal(prof->stacks[2].frames[2].func, "uw_chain_f");
	assert_false(prof->stacks[2].leaf_fixed);
	assert_int_equal(prof->leaf_unknown, 1);
	/* garbage ends the chain in one unknown frame, with nothing after it */
	assert_int_equal(prof->stacks[3].nframes, 2);
	assert_string_equal(prof->stacks[3].frames[1].func, "[unknown]");
	assert_int_equal(prof->garbage_frames, 1);
	profile__free(prof);
	symbolizer__free(sym);
	recording__free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile__sampled_shares),
		cmocka_unit_test(test_profile__shares_add_up),
		cmocka_unit_test(test_profile__leaf_caller_not_borrowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
