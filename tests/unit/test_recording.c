// SPDX-License-Identifier: GPL-2.0
/*
 * The recording file: round trip, refusal to overwrite, and a reader that
 * survives every truncation and a deterministic stream of mutations (the
 * fuzz target, run briefly on every test run).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "recording.h"

static char tmpdir[] = "/tmp/mt-test-recording-XXXXXX";

static struct recording *sample_recording(void)
{
	struct recording *rec = recording__new();
	struct mt_rec_meta meta = { .start_ns = 1,
				    .duration_ns = 2000000000ULL,
				    .events = 7,
				    .sample_every = 1,
				    .ncounters = MT_SC_NR,
				    .cmdline = "growth --x" };
	struct mt_rec_proc proc = {
		.pid = 42, .gen = 1, .ppid = 1, .comm = "growth", .exe = "/bin/growth"
	};
	/* a user's image: its uid goes in an MT_FREC_OWNER record of its own */
	struct mt_rec_proc jit = {
		.pid = 43, .gen = 2, .ppid = 42, .comm = "node", .uid = 65534, .has_uid = 1
	};
	struct mt_rec_map map = { .start = 0x1000,
				  .end = 0x5000,
				  .pgoff = 0x1000,
				  .pid = 42,
				  .gen = 1,
				  .prot = 5,
				  .build_id_len = 3,
				  .build_id = { 1, 2, 3 },
				  .path = "/bin/growth" };
	uint64_t ips[3] = { 0x1234, 0x2345, 0x3456 };
	struct mt_rec_sample s = { .pid = 42,
				   .stack_id = 7,
				   .gen = 1,
				   .event = MT_EV_FAULT,
				   .class = MT_CLASS_ANON,
				   .count = 16384,
				   .bytes = 64 << 20,
				   .leaf_ip = 0x1234,
				   .leaf_sp = 0x7ff0,
				   .leaf_nr = 2,
				   .leaf_words = { 0x2000, 0x3000 } };

	uint8_t stack[64];
	struct mt_rec_ustack u = { .pid = 42,
				   .gen = 1,
				   .event = MT_EV_FAULT,
				   .class = MT_CLASS_ANON,
				   .arch = 62 /* EM_X86_64 */,
				   .nregs = 17,
				   .count = 3,
				   .bytes = 12288,
				   .stack_addr = 0x7ffc0000,
				   .stack_len = sizeof(stack),
				   .flags = MT_USTACK_KERNEL_FAULT,
				   .stack = stack };

	assert_non_null(rec);
	for (size_t i = 0; i < sizeof(stack); i++)
		stack[i] = i * 7;
	for (int i = 0; i < 17; i++)
		u.regs[i] = 0x1000 + i;
	meta.counters[MT_SC_STACK_COLLISION] = 3;
	assert_int_equal(recording__set_meta(rec, &meta), 0);
	assert_int_equal(recording__add_proc(rec, &proc), 0);
	assert_int_equal(recording__add_proc(rec, &jit), 0);
	assert_int_equal(recording__add_map(rec, &map), 0);
	assert_int_equal(recording__add_stack(rec, 9, ips, 2), 0);
	assert_int_equal(recording__add_stack(rec, 7, ips, 3), 0);
	assert_int_equal(recording__add_sample(rec, &s), 0);
	s.stack_id = -17;
	s.event = MT_EV_MMAP;
	assert_int_equal(recording__add_sample(rec, &s), 0);
	assert_int_equal(recording__add_ustack(rec, &u), 0);
	u.stack_len = 0;
	u.stack = NULL;
	u.event = MT_EV_MMAP;
	assert_int_equal(recording__add_ustack(rec, &u), 0);
	{
		/* --malloc's peak: a record and a capture live only then */
		struct mt_rec_peak pk = { .pid = 42,
					  .gen = 1,
					  .bytes = 33554432,
					  .blocks = 512,
					  .ts_ns = 5,
					  .end_bytes = 1 << 20 };

		assert_int_equal(recording__add_peak(rec, &pk), 0);
		pk.flags = MT_PEAK_ALL | MT_PEAK_RACED;
		assert_int_equal(recording__add_peak(rec, &pk), 0);
		u.event = MT_EV_MALLOC;
		u.flags = MT_USTACK_AT_PEAK | MT_USTACK_AT_ALL_PEAK;
		u.stack_len = 8;
		u.stack = stack;
		assert_int_equal(recording__add_peak_ustack(rec, &u), 0);
	}
	return rec;
}

static char *write_sample(const char *name, size_t *len)
{
	struct recording *rec = sample_recording();
	char *path = NULL;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	assert_int_equal(recording__write(rec, path, true), 0);
	recording__free(rec);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fclose(f);
	return path;
}

static void *slurp(const char *path, size_t len)
{
	void *buf = malloc(len);
	FILE *f = fopen(path, "rb");

	assert_non_null(buf);
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, len, f), len);
	fclose(f);
	return buf;
}

static void test_recording__roundtrip(void **state)
{
	char err[256] = "";
	size_t len, n;
	char *path = write_sample("rt.data", &len);
	struct recording *rec = recording__read(path, err, sizeof(err));
	const struct mt_rec_sample *s;
	const struct mt_rec_map *m;
	const struct mt_rec_stack *st;
	const struct mt_rec_ustack *u;

	assert_non_null(rec);
	assert_string_equal(recording__meta(rec)->cmdline, "growth --x");
	assert_int_equal(recording__meta(rec)->counters[MT_SC_STACK_COLLISION], 3);
	m = recording__maps(rec, &n);
	assert_int_equal(n, 1);
	assert_string_equal(m[0].path, "/bin/growth");
	assert_null(m[0].cache_path);
	assert_int_equal(m[0].build_id_len, 3);
	assert_int_equal(m[0].build_id[2], 3);
	s = recording__samples(rec, &n);
	assert_int_equal(n, 2);
	assert_int_equal(s[0].bytes, 64 << 20);
	assert_int_equal(s[1].stack_id, -17);
	assert_int_equal(s[0].leaf_words[1], 0x3000);
	/* stacks come back sorted and found by id */
	st = recording__stack(rec, 7);
	assert_non_null(st);
	assert_int_equal(st->nr, 3);
	assert_int_equal(st->ips[2], 0x3456);
	assert_null(recording__stack(rec, 8));
	assert_string_equal(recording__proc(rec, 42, 1)->comm, "growth");
	assert_false(recording__proc(rec, 42, 1)->has_uid); /* never read: unknown, not root */
	assert_true(recording__proc(rec, 43, 2)->has_uid);
	assert_int_equal(recording__proc(rec, 43, 2)->uid, 65534);
	u = recording__ustacks(rec, &n);
	assert_int_equal(n, 2);
	assert_int_equal(u[0].pid, 42);
	assert_int_equal(u[0].arch, 62);
	assert_int_equal(u[0].nregs, 17);
	assert_int_equal(u[0].regs[16], 0x1010);
	assert_int_equal(u[0].regs[17], 0);
	assert_int_equal(u[0].bytes, 12288);
	assert_int_equal(u[0].count, 3);
	assert_int_equal(u[0].stack_addr, 0x7ffc0000);
	assert_int_equal(u[0].flags, MT_USTACK_KERNEL_FAULT);
	assert_int_equal(u[0].stack_len, 64);
	for (int i = 0; i < 64; i++)
		assert_int_equal(u[0].stack[i], (uint8_t)(i * 7));
	assert_int_equal(u[1].event, MT_EV_MMAP);
	assert_int_equal(u[1].stack_len, 0);
	{
		const struct mt_rec_peak *pk = recording__peaks(rec, &n);

		assert_int_equal(n, 2);
		assert_int_equal(pk[0].bytes, 33554432);
		assert_int_equal(pk[0].blocks, 512);
		assert_int_equal(pk[0].ts_ns, 5);
		assert_int_equal(pk[0].end_bytes, 1 << 20);
		assert_int_equal(pk[1].flags, MT_PEAK_ALL | MT_PEAK_RACED);
		/* a peak-only capture is not one of the end's */
		u = recording__peak_ustacks(rec, &n);
		assert_int_equal(n, 1);
		assert_int_equal(u[0].event, MT_EV_MALLOC);
		assert_int_equal(u[0].flags, MT_USTACK_AT_PEAK | MT_USTACK_AT_ALL_PEAK);
		assert_int_equal(u[0].stack_len, 8);
		assert_int_equal(u[0].stack[7], 49);
	}
	assert_true(recording__has_maps(rec, 42, 1));
	assert_false(recording__has_maps(rec, 42, 0));
	recording__free(rec);
	unlink(path);
	free(path);
}

static void test_recording__refuses_overwrite(void **state)
{
	size_t len;
	char *path = write_sample("ow.data", &len);
	struct recording *rec = sample_recording();

	assert_int_equal(recording__write(rec, path, false), -EEXIST);
	assert_int_equal(recording__write(rec, path, true), 0);
	recording__free(rec);
	unlink(path);
	free(path);
}

static void test_recording__every_truncation_fails_cleanly(void **state)
{
	size_t len;
	char *path = write_sample("tr.data", &len);
	uint8_t *buf = slurp(path, len);

	for (size_t cut = 0; cut < len; cut++) {
		char err[256] = "";
		struct recording *rec = recording__parse(buf, cut, err, sizeof(err));

		if (rec)
			fail_msg("a file cut at %zu of %zu bytes was accepted", cut, len);
		assert_int_equal(errno, EINVAL);
		assert_true(strlen(err) > 0);
	}
	free(buf);
	unlink(path);
	free(path);
}

static void test_recording__bad_header(void **state)
{
	size_t len;
	char *path = write_sample("hd.data", &len), err[256];
	uint8_t *buf = slurp(path, len);
	struct recording *rec;

	buf[0] = 'X';
	rec = recording__parse(buf, len, err, sizeof(err));
	assert_null(rec);
	assert_non_null(strstr(err, "magic"));
	buf[0] = 'M';
	buf[8] = 99; /* version */
	rec = recording__parse(buf, len, err, sizeof(err));
	assert_null(rec);
	assert_non_null(strstr(err, "version 99"));
	free(buf);
	unlink(path);
	free(path);
}

/* Offset of the first user-stack record's payload in a written sample. */
static size_t find_ustack(const uint8_t *buf, size_t len)
{
	size_t off = 16;

	while (off + 8 <= len) {
		uint32_t type, rlen;

		memcpy(&type, buf + off, 4);
		memcpy(&rlen, buf + off + 4, 4);
		if (type == MT_FREC_USTACK)
			return off + 8;
		off += 8 + rlen;
	}
	fail_msg("no user-stack record in the sample");
	return 0;
}

static void expect_rejected(const uint8_t *buf, size_t len, const char *what)
{
	char err[256] = "";
	struct recording *rec = recording__parse(buf, len, err, sizeof(err));

	if (rec)
		fail_msg("a user-stack record with %s was accepted", what);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "user-stack"));
}

/* Each length or range field of a user-stack record is checked before use. */
static void test_recording__ustack_corrupt(void **state)
{
	size_t len, at;
	char *path = write_sample("us.data", &len);
	uint8_t *orig = slurp(path, len), *buf = malloc(len);
	uint32_t v;
	struct mt_rec_ustack u = { .nregs = 34 };

	assert_non_null(buf);
	at = find_ustack(orig, len);
	/* nregs (offset 20) beyond MT_UNWIND_MAX_REGS */
	memcpy(buf, orig, len);
	v = MT_UNWIND_MAX_REGS + 1;
	memcpy(buf + at + 20, &v, 4);
	expect_rejected(buf, len, "34 registers");
	/* stack_len (offset 312) larger than the bytes that follow */
	memcpy(buf, orig, len);
	v = 65;
	memcpy(buf + at + 312, &v, 4);
	expect_rejected(buf, len, "a stack_len past its record");
	/* stack_len smaller than the bytes that follow */
	v = 63;
	memcpy(buf + at + 312, &v, 4);
	expect_rejected(buf, len, "a stack_len short of its record");
	/* event (offset 8) and class (offset 12) out of range */
	memcpy(buf, orig, len);
	v = MT_EV_NR;
	memcpy(buf + at + 8, &v, 4);
	expect_rejected(buf, len, "an unknown event");
	memcpy(buf, orig, len);
	v = MT_CLASS_NR;
	memcpy(buf + at + 12, &v, 4);
	expect_rejected(buf, len, "an unknown class");
	/* a stack address range that wraps around (stack_addr at offset 304) */
	memcpy(buf, orig, len);
	memset(buf + at + 304, 0xff, 8);
	expect_rejected(buf, len, "a wrapping stack address");
	/* the adder refuses the same */
	{
		struct recording *rec = recording__new();

		assert_int_equal(recording__add_ustack(rec, &u), -EINVAL);
		u.nregs = 17;
		u.stack_len = MT_USTACK_MAX + 1;
		assert_int_equal(recording__add_ustack(rec, &u), -EINVAL);
		recording__free(rec);
	}
	free(orig);
	free(buf);
	unlink(path);
	free(path);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * The fuzz target: mutated files (byte flips, length fields set to extremes,
 * cuts) must give a recording or a clean error, never a crash or a leak
 * (run under ASan/valgrind to see the latter).
 */
static void test_recording__mutations_never_crash(void **state)
{
	size_t len;
	char *path = write_sample("fz.data", &len);
	uint8_t *orig = slurp(path, len), *buf = malloc(len);
	int accepted = 0, rejected = 0;

	assert_non_null(buf);
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = len;
		char err[256] = "";
		struct recording *rec;
		int flips = 1 + rng() % 4;

		memcpy(buf, orig, len);
		for (int i = 0; i < flips; i++) {
			size_t at = rng() % len;

			switch (rng() % 3) {
			case 0:
				buf[at] ^= 1 << (rng() % 8);
				break;
			case 1:
				buf[at] = 0xff;
				break;
			default:
				buf[at] = rng();
			}
		}
		if (rng() % 4 == 0)
			n = rng() % len;
		rec = recording__parse(buf, n, err, sizeof(err));
		if (rec) {
			size_t ns;
			const struct mt_rec_sample *s = recording__samples(rec, &ns);

			/* invariants the report relies on hold for whatever was accepted */
			const struct mt_rec_ustack *u;

			for (size_t i = 0; i < ns; i++) {
				assert_true(s[i].event < MT_EV_NR);
				assert_true(s[i].leaf_nr <= MT_LEAF_WORDS);
			}
			for (int list = 0; list < 2; list++) {
				u = list ? recording__peak_ustacks(rec, &ns)
					 : recording__ustacks(rec, &ns);
				for (size_t i = 0; i < ns; i++) {
					assert_true(u[i].nregs <= MT_UNWIND_MAX_REGS);
					assert_true(u[i].stack_len <= MT_USTACK_MAX);
					/* the last byte is readable (ASan/valgrind see an overrun)
					 */
					if (u[i].stack_len)
						rng_state ^= u[i].stack[u[i].stack_len - 1] == 0;
				}
			}
			{
				const struct mt_rec_peak *pk = recording__peaks(rec, &ns);

				for (size_t i = 0; i < ns; i++)
					assert_true(pk[i].bytes >= 0 && pk[i].blocks >= 0);
			}
			accepted++;
			recording__free(rec);
		} else {
			assert_true(strlen(err) > 0);
			rejected++;
		}
	}
	print_message("mutations: %d accepted, %d rejected\n", accepted, rejected);
	assert_true(rejected > 0);
	free(orig);
	free(buf);
	unlink(path);
	free(path);
}

static void test_recording__parse_events(void **state)
{
	uint32_t mask = 0;

	assert_int_equal(mt_parse_events("fault,mmap", &mask), 0);
	assert_int_equal(mask, MT_EVMASK(MT_EV_FAULT) | MT_EVMASK(MT_EV_MMAP));
	assert_int_equal(mt_parse_events("brk", &mask), 0);
	assert_int_equal(mask, MT_EVMASK(MT_EV_BRK));
	assert_int_equal(mt_parse_events("", &mask), -EINVAL);
	assert_int_equal(mt_parse_events("fault,", &mask), -EINVAL);
	assert_int_equal(mt_parse_events("faults", &mask), -EINVAL);
	assert_int_equal(mt_parse_events("malloc", &mask), -EINVAL); /* --malloc turns it on */
	assert_string_equal(mt_event_name(MT_EV_MMAP), "mmap");
	assert_null(mt_event_name(MT_EV_NR));
	assert_string_equal(mt_class_name(MT_CLASS_SHMEM), "shmem");
}

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recording__roundtrip),
		cmocka_unit_test(test_recording__refuses_overwrite),
		cmocka_unit_test(test_recording__every_truncation_fails_cleanly),
		cmocka_unit_test(test_recording__bad_header),
		cmocka_unit_test(test_recording__ustack_corrupt),
		cmocka_unit_test(test_recording__mutations_never_crash),
		cmocka_unit_test(test_recording__parse_events),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
