// SPDX-License-Identifier: GPL-2.0
/*
 * The --malloc capture log and the peak view's profile: random streams of
 * allocations and frees over two process images, captured at random as
 * the uprobe path makes them (a capture before its block is counted, a
 * release after its free), against a brute force that follows the exact
 * heaps and notes which captured blocks were live the first time each heap
 * reached its highest; then a recording with a peak shared over real
 * captures (tests/unit/unwind_chain.c's chains, built without frame
 * pointers).
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
#include "mpeak.h"
#include "profile.h"
#include "recording.h"
#include "self_capture.h"
#include "unwind_chain.h"

#define NIMG 2
#define MAXB 4096

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct sim {
	struct mpeak *m;
	int64_t live[NIMG], peak[NIMG], live_all, peak_all, blocks[NIMG], peak_blocks[NIMG];
	int64_t size[MAXB];
	int img[MAXB];
	bool alive[MAXB], captured[MAXB];
	bool at_peak[MAXB], at_all[MAXB]; /* the brute force's answer */
	size_t n;
};

static void snapshot(struct sim *s, int img)
{
	for (size_t b = 0; b < s->n; b++) {
		if (img >= 0 && s->img[b] == img)
			s->at_peak[b] = s->alive[b] && s->captured[b];
		if (img < 0)
			s->at_all[b] = s->alive[b] && s->captured[b];
	}
}

static void sim_alloc(struct sim *s, int img, int64_t size, bool captured)
{
	size_t b = s->n++;

	s->size[b] = size;
	s->img[b] = img;
	s->captured[b] = captured;
	if (captured) {
		struct mt_rec_ustack u = { .pid = 100 + img,
					   .event = MT_EV_MALLOC,
					   .stack_addr = b + 1, /* which block, in the recording */
					   .bytes = size,
					   .count = 1 };

		/* at the allocator's entry: its block is not counted yet */
		assert_int_equal(mpeak__capture(s->m, b + 1, &u, s->peak[img], s->peak_all), 0);
	}
	s->alive[b] = true;
	s->live[img] += size;
	s->blocks[img]++;
	s->live_all += size;
	if (s->live[img] > s->peak[img]) {
		s->peak[img] = s->live[img];
		s->peak_blocks[img] = s->blocks[img];
		snapshot(s, img);
	}
	if (s->live_all > s->peak_all) {
		s->peak_all = s->live_all;
		snapshot(s, -1);
	}
}

static void sim_free(struct sim *s, size_t b)
{
	s->alive[b] = false;
	s->live[s->img[b]] -= s->size[b];
	s->blocks[s->img[b]]--;
	s->live_all -= s->size[b];
	if (s->captured[b])
		assert_true(mpeak__release(s->m, b + 1, s->peak[s->img[b]], s->peak_all));
}

/* The flags the log wrote for block b, or -1 when it wrote nothing of it; *live: which list. */
static int stored_flags(const struct recording *rec, size_t b, bool *live)
{
	size_t n;
	const struct mt_rec_ustack *u = recording__ustacks(rec, &n);

	for (size_t i = 0; i < n; i++)
		if (u[i].stack_addr == b + 1) {
			*live = true;
			return u[i].flags;
		}
	u = recording__peak_ustacks(rec, &n);
	for (size_t i = 0; i < n; i++)
		if (u[i].stack_addr == b + 1) {
			*live = false;
			return u[i].flags;
		}
	return -1;
}

static void run_stream(int nops, int grow_pct, int capture_pct)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct recording *rec = recording__new();
	uint64_t refused = 0;
	size_t nlive = 0, npeaks;
	const struct mt_rec_peak *pk;

	assert_non_null(s);
	assert_non_null(rec);
	s->m = mpeak__new();
	assert_non_null(s->m);
	for (int op = 0; op < nops && s->n < MAXB; op++) {
		size_t live[MAXB], nl = 0;

		for (size_t b = 0; b < s->n; b++)
			if (s->alive[b])
				live[nl++] = b;
		if (nl && (int)(rng() % 100) >= grow_pct)
			sim_free(s, live[rng() % nl]);
		else
			sim_alloc(s, rng() % NIMG, 1 + rng() % 1000,
				  (int)(rng() % 100) < capture_pct);
	}
	for (int img = 0; img < NIMG; img++) {
		struct mt_rec_peak p = { .pid = 100 + img,
					 .bytes = s->peak[img],
					 .blocks = s->peak_blocks[img],
					 .end_bytes = s->live[img] };

		assert_int_equal(mpeak__set_peak(s->m, &p), 0);
	}
	{
		struct mt_rec_peak p = { .flags = MT_PEAK_ALL, .bytes = s->peak_all };

		assert_int_equal(mpeak__set_peak(s->m, &p), 0);
	}
	/* memory: freed captures are kept only while live at a current peak */
	for (size_t b = 0; b < s->n; b++)
		nlive += s->captured[b] && s->alive[b];
	assert_int_equal(mpeak__live(s->m), nlive);
	assert_int_equal(mpeak__store(s->m, rec, &refused), 0);
	assert_int_equal(refused, 0);
	for (size_t b = 0; b < s->n; b++) {
		bool live = false;
		int f = stored_flags(rec, b, &live);
		int want = (s->at_peak[b] ? MT_USTACK_AT_PEAK : 0) |
			   (s->at_all[b] ? MT_USTACK_AT_ALL_PEAK : 0);

		if (!s->captured[b]) {
			assert_int_equal(f, -1);
			continue;
		}
		if (s->alive[b]) { /* every live capture stays, for the end's view */
			assert_true(live);
			assert_int_equal(f, want);
		} else if (want) {
			assert_false(live);
			assert_int_equal(f, want);
		} else {
			assert_int_equal(f, -1); /* freed and at no peak: gone */
		}
	}
	pk = recording__peaks(rec, &npeaks);
	assert_int_equal(npeaks, NIMG + 1);
	for (size_t i = 0; i < npeaks; i++)
		assert_int_equal(pk[i].bytes, pk[i].flags & MT_PEAK_ALL ? s->peak_all
									: s->peak[pk[i].pid - 100]);
	mpeak__free(s->m);
	recording__free(rec);
	free(s);
}

/* Growth, churn, shrink: every mix of the two, every capture rate. */
static void test_mpeak__matches_brute_force(void **state)
{
	static const int grow[] = { 50, 55, 65, 90 }, capt[] = { 5, 50, 100 };

	for (int round = 0; round < 40; round++)
		for (size_t g = 0; g < 4; g++)
			for (size_t c = 0; c < 3; c++)
				run_stream(200 + rng() % 1500, grow[g], capt[c]);
}

/*
 * The heap peaked after the last event (uncaptured allocations): the
 * final peak from the exact counters says so, and the captures live then
 * are the ones live at the end.
 */
static void test_mpeak__peak_after_last_event(void **state)
{
	struct mpeak *m = mpeak__new();
	struct recording *rec = recording__new();
	struct mt_rec_ustack u = { .pid = 7, .event = MT_EV_MALLOC, .bytes = 100, .count = 1 };
	struct mt_rec_peak p = { .pid = 7, .bytes = 5000, .blocks = 3 };
	const struct mt_rec_ustack *out;
	uint64_t refused = 0;
	size_t n;

	assert_int_equal(mpeak__capture(m, 1, &u, 0, 0), 0);
	assert_int_equal(mpeak__capture(m, 2, &u, 100, 100), 0);
	assert_int_equal(mpeak__capture(m, 1, &u, 100, 100), -EEXIST);
	assert_true(mpeak__release(m, 2, 200, 200));
	assert_false(mpeak__release(m, 2, 200, 200)); /* not live: lost or released twice */
	assert_int_equal(mpeak__set_peak(m, &p), 0);
	assert_int_equal(mpeak__store(m, rec, &refused), 0);
	out = recording__ustacks(rec, &n);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].flags, MT_USTACK_AT_PEAK);
	recording__peak_ustacks(rec, &n);
	assert_int_equal(n, 0); /* 2 was freed before the peak */
	/* no overall peak was given: no _ALL_PEAK flag, no record */
	recording__peaks(rec, &n);
	assert_int_equal(n, 1);
	mpeak__free(m);
	recording__free(rec);
}

/* A peak early, then churn: only the captures live at the peak are kept after their free. */
static void test_mpeak__churn_after_peak_is_not_kept(void **state)
{
	struct mpeak *m = mpeak__new();
	struct mt_rec_ustack u = { .pid = 7, .event = MT_EV_MALLOC, .bytes = 1000, .count = 1 };
	uint64_t id = 1;

	for (int i = 0; i < 10; i++) /* the peak: 10 blocks of 1000 */
		assert_int_equal(mpeak__capture(m, id++, &u, i * 1000, i * 1000), 0);
	for (uint64_t i = 1; i <= 10; i++)
		assert_true(mpeak__release(m, i, 10000, 10000));
	u.bytes = 10;
	for (int i = 0; i < 100000; i++) { /* churn far below it */
		assert_int_equal(mpeak__capture(m, id, &u, 10000, 10000), 0);
		assert_true(mpeak__release(m, id++, 10000, 10000));
	}
	assert_int_equal(mpeak__held(m), 10);
	assert_int_equal(mpeak__live(m), 0);
	assert_int_equal(mpeak__released(m), 100010);
	mpeak__free(m);
}

/* ---- the profile of a peak ---- */

#define PID 777

static uint8_t copy_buf[MT_USTACK_MAX];
static uint64_t stack_top;

__attribute__((noinline)) int peak_long(struct uw_capture *c);
__attribute__((noinline)) int peak_long(struct uw_capture *c)
{
	return uw_chain_a(c, 1) + 1;
}

__attribute__((noinline)) int peak_short(struct uw_capture *c);
__attribute__((noinline)) int peak_short(struct uw_capture *c)
{
	return uw_chain_e(c, 2) + 2;
}

static void add_capture(struct recording *rec, int (*path)(struct uw_capture *), int64_t bytes,
			uint32_t flags, bool at_end)
{
	struct uw_capture c = { .stack_end = stack_top,
				.cap = sizeof(copy_buf),
				.stack = copy_buf };
	struct mt_rec_ustack u = { .pid = PID,
				   .event = MT_EV_MALLOC,
				   .arch = EM_X86_64,
				   .nregs = 17,
				   .count = 1,
				   .bytes = bytes,
				   .flags = flags };

	path(&c);
	if (c.arch != EM_X86_64)
		skip();
	memcpy(u.regs, c.regs, sizeof(c.regs));
	u.stack_addr = c.stack_addr;
	u.stack_len = c.stack_len;
	u.stack = c.stack;
	assert_int_equal(
	    at_end ? recording__add_ustack(rec, &u) : recording__add_peak_ustack(rec, &u), 0);
}

static bool has_frame(const struct mt_pstack *ps, const char *func)
{
	for (uint32_t i = 0; i < ps->nframes; i++)
		if (ps->frames[i].func && strcmp(ps->frames[i].func, func) == 0)
			return true;
	return false;
}

/*
 * The peak (1,000,003 bytes in 40 blocks) held three captures: peak_long's
 * 3 units (one still live at the end, one freed since) and peak_short's 1
 * (freed since); the end (300 bytes) holds one capture of each, one of
 * them at the peak. The peak's shares: 3/4 and 1/4 of the exact peak,
 * adding up to it; the end's view is the end's captures alone.
 */
static void test_mpeak__profile_at_peak(void **state)
{
	struct recording *rec = recording__new();
	struct mt_rec_proc proc = { .pid = PID, .comm = "peaktest", .exe = "/x" };
	struct mt_rec_sample end = {
		.pid = PID, .stack_id = -ENODATA, .event = MT_EV_MALLOC, .count = 2, .bytes = 300
	};
	struct mt_rec_peak pk = { .pid = PID, .bytes = 1000003, .blocks = 40, .end_bytes = 300 };
	const struct profile_opts po = { .events = MT_EVMASK(MT_EV_MALLOC) };
	int64_t lb = 0, sb = 0, sum = 0, end_long = 0, end_short = 0;
	struct symbolizer *sym;
	struct profile *prof;
	uint64_t cnt = 0;

	assert_non_null(rec);
	assert_int_equal(recording__add_proc(rec, &proc), 0);
	assert_int_equal(self_capture__add_maps(rec, PID, &stack_top), 0);
	add_capture(rec, peak_long, 2000, MT_USTACK_AT_PEAK, true);
	add_capture(rec, peak_short, 100, 0, true); /* allocated after the peak */
	add_capture(rec, peak_long, 1000, MT_USTACK_AT_PEAK, false);
	add_capture(rec, peak_short, 1000, MT_USTACK_AT_PEAK, false);
	assert_int_equal(recording__add_sample(rec, &end), 0);
	assert_int_equal(recording__add_peak(rec, &pk), 0);
	pk.flags = 0x80;
	assert_int_equal(recording__add_peak(rec, &pk), -EINVAL);
	sym = symbolizer__new(rec);

	prof = profile__build_peak(rec, sym, &po, false);
	assert_non_null(prof);
	for (size_t i = 0; i < prof->n; i++) {
		const struct mt_pstack *ps = &prof->stacks[i];

		sum += ps->bytes;
		cnt += ps->count;
		if (has_frame(ps, "peak_long"))
			lb += ps->bytes;
		else if (has_frame(ps, "peak_short"))
			sb += ps->bytes;
		else
			fail_msg("a peak stack through neither path");
	}
	print_message("at the peak: long %lld short %lld (expected 750002 and 250001)\n",
		      (long long)lb, (long long)sb);
	assert_int_equal(sum, 1000003);
	assert_int_equal(cnt, 40);
	assert_true(lb == 750002 || lb == 750003);
	assert_int_equal(lb + sb, 1000003);
	assert_int_equal(prof->captures, 3);
	profile__free(prof);

	/* the end's view: its two captures only, by their weights 2000:100 */
	prof = profile__build(rec, sym, &po);
	assert_non_null(prof);
	for (size_t i = 0; i < prof->n; i++) {
		if (has_frame(&prof->stacks[i], "peak_long"))
			end_long += prof->stacks[i].bytes;
		else
			end_short += prof->stacks[i].bytes;
	}
	assert_int_equal(end_long + end_short, 300);
	assert_int_equal(end_long, 285); /* 300 * 2000 / 2100, rounded down */
	assert_int_equal(prof->captures, 2);
	profile__free(prof);

	/* no overall peak in the recording: an empty profile, not another moment's */
	prof = profile__build_peak(rec, sym, &po, true);
	assert_non_null(prof);
	assert_int_equal(prof->n, 0);
	profile__free(prof);
	symbolizer__free(sym);
	recording__free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mpeak__matches_brute_force),
		cmocka_unit_test(test_mpeak__peak_after_last_event),
		cmocka_unit_test(test_mpeak__churn_after_peak_is_not_kept),
		cmocka_unit_test(test_mpeak__profile_at_peak),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
