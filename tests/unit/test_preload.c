// SPDX-License-Identifier: GPL-2.0
/*
 * The interposer's reader (include/preload_api.h) on records whose answer
 * is known: totals and peak after every step, captures and their
 * releases, each malformed record refused; then the real protocol in one
 * process, as the library speaks it: a sealed memfd sent over the socket
 * the child environment names, the answer in the ring, records drained
 * across the ring's end, and registrations that break the rules refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "preload.h"
#include "preload_api.h"

#define MAP_BYTES ((size_t)MT_PRELOAD_CTL_BYTES + MT_PRELOAD_RING_BYTES)

struct sink_log {
	uint64_t ids[16];
	struct mt_rec_ustack caps[16];
	uint8_t first_byte[16];
	size_t ncap;
	uint64_t released[16];
	size_t nrel;
	uint32_t traced_pid;
	uint64_t total_count;
	int64_t total_bytes;
};

static int log_gen(void *ctx, uint32_t pid, uint32_t *gen)
{
	const struct sink_log *l = ctx;

	if (pid != l->traced_pid)
		return -ESRCH;
	*gen = 7;
	return 0;
}

static int log_capture(void *ctx, uint64_t id, const struct mt_rec_ustack *u, int64_t peak,
		       int64_t all_peak)
{
	struct sink_log *l = ctx;

	assert_true(l->ncap < 16);
	l->ids[l->ncap] = id;
	l->caps[l->ncap] = *u;
	l->first_byte[l->ncap] = u->stack_len ? u->stack[0] : 0;
	l->caps[l->ncap++].stack = NULL; /* the reader's buffer: not ours to keep */
	return 0;
}

static void log_release(void *ctx, uint64_t id, int64_t peak, int64_t all_peak)
{
	struct sink_log *l = ctx;

	assert_true(l->nrel < 16);
	l->released[l->nrel++] = id;
}

static int log_total(void *ctx, const struct preload_books *b)
{
	struct sink_log *l = ctx;

	l->total_count += b->count;
	l->total_bytes += b->bytes;
	return 0;
}

static struct preload_reader *new_reader(struct sink_log *l)
{
	const struct preload_opts o = { .sample_bytes = 4096, .stack_bytes = 1024 };
	const struct preload_sink s = { l, log_gen, log_capture, log_release, log_total };
	struct preload_reader *r = preload_reader__new(&o, &s);

	assert_non_null(r);
	return r;
}

/* Appends one record to buf at *off; returns its bytes. */
static size_t put(uint8_t *buf, size_t *off, uint32_t type, uint64_t ptr, uint64_t size)
{
	struct mt_preload_rec rec = { .type = type, .len = sizeof(rec), .ptr = ptr, .size = size };

	memcpy(buf + *off, &rec, sizeof(rec));
	*off += sizeof(rec);
	return sizeof(rec);
}

static size_t put_capture(uint8_t *buf, size_t *off, uint64_t ptr, uint64_t size,
			  uint32_t stack_len)
{
	struct mt_preload_capture c = {
		.ip = 0x1000, .sp = 0x7ff0, .bp = 0x8000, .arch = 62, .stack_len = stack_len
	};
	struct mt_preload_rec rec = { .type = MT_PREC_CAPTURE,
				      .len = sizeof(rec) + sizeof(c) + ((stack_len + 7) & ~7U),
				      .ptr = ptr,
				      .size = size };

	memcpy(buf + *off, &rec, sizeof(rec));
	memcpy(buf + *off + sizeof(rec), &c, sizeof(c));
	memset(buf + *off + sizeof(rec) + sizeof(c), 0xab, stack_len);
	*off += rec.len;
	return rec.len;
}

static void expect_image(struct preload_reader *r, uint32_t pid, uint64_t count, int64_t bytes,
			 int64_t peak)
{
	struct preload_books b;

	assert_int_equal(preload_reader__image(r, pid, 7, &b), 0);
	assert_int_equal(b.count, count);
	assert_int_equal(b.bytes, bytes);
	assert_int_equal(b.peak_bytes, peak);
}

static void test_preload__totals_and_peak(void **state)
{
	struct sink_log l = { .traced_pid = 1 };
	struct preload_reader *r = new_reader(&l);
	uint8_t buf[512];
	size_t off = 0;
	struct preload_stats st;

	put(buf, &off, MT_PREC_ALLOC, 0x100, 100);
	put(buf, &off, MT_PREC_ALLOC, 0x200, 200);
	assert_int_equal(preload_reader__feed(r, 1, 7, buf, off, false), (long)off);
	expect_image(r, 1, 2, 300, 300);
	off = 0;
	put(buf, &off, MT_PREC_FREE, 0x100, 0);
	put(buf, &off, MT_PREC_FREE, 0x999, 0); /* never seen: counted, takes nothing */
	put(buf, &off, MT_PREC_ALLOC, 0x300, 50);
	assert_int_equal(preload_reader__feed(r, 1, 7, buf, off, false), (long)off);
	expect_image(r, 1, 2, 250, 300);
	off = 0;
	/* the same address again without its free: the older block is taken back */
	put(buf, &off, MT_PREC_ALLOC, 0x300, 70);
	assert_int_equal(preload_reader__feed(r, 1, 7, buf, off, false), (long)off);
	expect_image(r, 1, 2, 270, 300);
	off = 0;
	/* munmap: a block only when an mmap record made it, never an unknown free */
	put(buf, &off, MT_PREC_ALLOC, 0x10000, 8192);
	put(buf, &off, MT_PREC_MUNMAP, 0x20000, 0);
	assert_int_equal(preload_reader__feed(r, 1, 7, buf, off, false), (long)off);
	expect_image(r, 1, 3, 270 + 8192, 270 + 8192);
	off = 0;
	put(buf, &off, MT_PREC_MUNMAP, 0x10000, 0);
	assert_int_equal(preload_reader__feed(r, 1, 7, buf, off, false), (long)off);
	expect_image(r, 1, 2, 270, 270 + 8192);
	preload_reader__stats(r, &st);
	assert_int_equal(st.records, 9);
	assert_int_equal(st.unknown_frees, 1);
	assert_int_equal(preload_reader__harvest(r), 0);
	assert_int_equal(l.total_count, 2);
	assert_int_equal(l.total_bytes, 270);
	preload_reader__free(r);
}

static void test_preload__captures_and_releases(void **state)
{
	struct sink_log l = { .traced_pid = 1 };
	struct preload_reader *r = new_reader(&l);
	uint8_t buf[4096];
	size_t off = 0;

	put(buf, &off, MT_PREC_ALLOC, 0x100, 100);
	put(buf, &off, MT_PREC_ALLOC, 0x200, 200);
	put_capture(buf, &off, 0x300, 50, 20);
	assert_int_equal(preload_reader__feed(r, 1, 7, buf, off, false), (long)off);
	assert_int_equal(l.ncap, 1);
	assert_true(l.ids[0] >> 63); /* preload ids: bit 63 */
	/* the weight is the reader's own count since the last capture, this one included */
	assert_int_equal(l.caps[0].count, 3);
	assert_int_equal(l.caps[0].bytes, 350);
	assert_int_equal(l.caps[0].regs[16], 0x1000);
	assert_int_equal(l.caps[0].regs[7], 0x7ff0);
	assert_int_equal(l.caps[0].regs[6], 0x8000);
	assert_int_equal(l.caps[0].nregs, 17);
	assert_int_equal(l.caps[0].stack_addr, 0x7ff0);
	assert_int_equal(l.caps[0].stack_len, 20);
	assert_int_equal(l.first_byte[0], 0xab);
	assert_int_equal(l.caps[0].pid, 1);
	assert_int_equal(l.caps[0].gen, 7);
	off = 0;
	put(buf, &off, MT_PREC_FREE, 0x200, 0); /* not captured: no release */
	put(buf, &off, MT_PREC_FREE, 0x300, 0);
	assert_int_equal(preload_reader__feed(r, 1, 7, buf, off, false), (long)off);
	assert_int_equal(l.nrel, 1);
	assert_int_equal(l.released[0], l.ids[0]);
	expect_image(r, 1, 1, 100, 350);
	preload_reader__free(r);
}

static void expect_corrupt(const uint8_t *buf, size_t len, bool at_end)
{
	struct sink_log l = { .traced_pid = 1 };
	struct preload_reader *r = new_reader(&l);
	struct preload_stats st;
	uint8_t ok[64];
	size_t off = 0;

	assert_int_equal(preload_reader__feed(r, 1, 7, buf, len, at_end), -EBADMSG);
	/* read no further: even a good record is refused now */
	put(ok, &off, MT_PREC_ALLOC, 0x100, 1);
	assert_int_equal(preload_reader__feed(r, 1, 7, ok, off, false), -EBADMSG);
	preload_reader__stats(r, &st);
	assert_int_equal(st.corrupt, 1);
	preload_reader__free(r);
}

static void test_preload__malformed_refused(void **state)
{
	uint8_t buf[256];
	struct mt_preload_rec *rec = (struct mt_preload_rec *)buf;
	size_t off;

#define RESET() (memset(buf, 0, sizeof(buf)), off = 0)
	RESET();
	put(buf, &off, MT_PREC_ALLOC, 0x100, 1);
	rec->len = 20; /* not a multiple of 8 */
	expect_corrupt(buf, off, false);
	RESET();
	put(buf, &off, MT_PREC_ALLOC, 0x100, 1);
	rec->len = 48; /* past what was published */
	expect_corrupt(buf, off, false);
	RESET();
	put(buf, &off, 99, 0x100, 1); /* no such type */
	expect_corrupt(buf, off, false);
	RESET();
	put(buf, &off, MT_PREC_ALLOC, 0x100, 1ULL << 50); /* no allocation is that large */
	expect_corrupt(buf, off, false);
	RESET();
	put(buf, &off, MT_PREC_ALLOC, 0, 8); /* NULL is never handed out */
	expect_corrupt(buf, off, false);
	RESET();
	put_capture(buf, &off, 0x100, 8, 16);
	((struct mt_preload_capture *)(buf + sizeof(*rec)))->stack_len = 200; /* past the record */
	expect_corrupt(buf, off, false);
	RESET();
	put(buf, &off, MT_PREC_ALLOC, 0x100, 1);
	rec->len = sizeof(*rec) + 8; /* a capture record too short for its header */
	rec->type = MT_PREC_CAPTURE;
	off += 8;
	expect_corrupt(buf, off, false);
	RESET();
	put(buf, &off, MT_PREC_PAD, 0, 0); /* a pad before the ring's end */
	expect_corrupt(buf, off, false);
	RESET();
	put(buf, &off, MT_PREC_ALLOC, 0x100, 1);
	expect_corrupt(buf, off + 16, false); /* half a record, not at the end */
#undef RESET
}

static void test_preload__ring_end(void **state)
{
	struct sink_log l = { .traced_pid = 1 };
	struct preload_reader *r = new_reader(&l);
	uint8_t buf[128] = { 0 };
	size_t off = 0;

	put(buf, &off, MT_PREC_ALLOC, 0x100, 1);
	/* less than a header left before the end: skipped, as the producer skips it */
	assert_int_equal(preload_reader__feed(r, 1, 7, buf, off + 16, true), (long)off + 16);
	off = 0;
	put(buf, &off, MT_PREC_ALLOC, 0x200, 2);
	put(buf, &off, MT_PREC_PAD, 0, 0);
	((struct mt_preload_rec *)(buf + 24))->len = 48; /* the pad fills the rest */
	assert_int_equal(preload_reader__feed(r, 1, 7, buf, 72, true), 72);
	expect_image(r, 1, 2, 3, 3);
	preload_reader__free(r);
}

/* ---- the protocol, in one process ---- */

static int child_fd(struct preload_reader *r)
{
	char **env = preload_reader__child_env(r, "/x/" MT_PRELOAD_LIB, (char *[]){ "A=1", NULL });
	unsigned long fd = 0;

	assert_non_null(env);
	assert_string_equal(env[0], "LD_PRELOAD=/x/" MT_PRELOAD_LIB);
	assert_int_equal(strncmp(env[1], MT_PRELOAD_ENV_FD "=", strlen(MT_PRELOAD_ENV_FD) + 1), 0);
	assert_string_equal(env[2], "A=1");
	assert_null(env[3]);
	sscanf(env[1] + strlen(MT_PRELOAD_ENV_FD) + 1, "%lu", &fd);
	return (int)fd;
}

/* A ring as the library makes it; seals and size as asked. */
static int make_ring(off_t size, bool seal, struct mt_preload_ctl **ctl)
{
	int fd = memfd_create("test-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *map;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	if (seal)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
				 0);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	*ctl = map;
	return fd;
}

static void send_hello(int sock, int fd, uint32_t magic)
{
	struct mt_preload_hello h = { .magic = magic,
				      .version = MT_PRELOAD_VERSION,
				      .ring_bytes = MT_PRELOAD_RING_BYTES };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm = { 0 };
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cm.buf,
			      .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	assert_int_equal(sendmsg(sock, &msg, 0), sizeof(h));
}

/* The library's append: never across the ring's end. */
static void ring_put(struct mt_preload_ctl *ctl, uint64_t *head, uint32_t type, uint64_t ptr,
		     uint64_t size)
{
	uint8_t *ring = (uint8_t *)ctl + MT_PRELOAD_CTL_BYTES;
	uint64_t off = *head % MT_PRELOAD_RING_BYTES, left = MT_PRELOAD_RING_BYTES - off;
	struct mt_preload_rec rec = { .type = type, .len = sizeof(rec), .ptr = ptr, .size = size };

	if (left < sizeof(rec)) {
		*head += left;
		off = 0;
	}
	memcpy(ring + off, &rec, sizeof(rec));
	*head += sizeof(rec);
}

static void test_preload__protocol(void **state)
{
	struct sink_log l = { .traced_pid = (uint32_t)getpid() };
	struct preload_reader *r = new_reader(&l);
	int sock = child_fd(r), fd;
	struct mt_preload_ctl *ctl;
	struct preload_stats st;
	uint64_t head = 0, n = 0;

	fd = make_ring(MAP_BYTES, true, &ctl);
	ctl->magic = MT_PRELOAD_MAGIC;
	send_hello(sock, fd, MT_PRELOAD_MAGIC);
	close(fd);
	assert_int_equal(preload_reader__poll(r), 0);
	assert_int_equal(ctl->state, MT_PRELOAD_ACCEPTED);
	assert_int_equal(ctl->sample_bytes, 4096);
	assert_int_equal(ctl->stack_bytes, 1024);
	{
		/* a second ring for the same live image is refused */
		struct mt_preload_ctl *twin;
		int fd2 = make_ring(MAP_BYTES, true, &twin);

		send_hello(sock, fd2, MT_PRELOAD_MAGIC);
		close(fd2);
		assert_int_equal(preload_reader__poll(r), 0);
		assert_int_equal(twin->state, MT_PRELOAD_REFUSED);
		munmap(twin, MAP_BYTES);
	}
	/* twice around the ring: allocations, then their frees, drained as they come */
	for (int round = 0; round < 2; round++) {
		for (uint64_t i = 0; i < 250000; i++, n++) {
			ring_put(ctl, &head, MT_PREC_ALLOC, 0x1000 + n * 16, 16);
			if (head - ctl->tail > MT_PRELOAD_RING_BYTES / 2) {
				__atomic_store_n(&ctl->head, head, __ATOMIC_RELEASE);
				assert_int_equal(preload_reader__poll(r), 0);
				assert_int_equal(ctl->tail, head);
			}
		}
		__atomic_store_n(&ctl->head, head, __ATOMIC_RELEASE);
		assert_int_equal(preload_reader__poll(r), 0);
		expect_image(r, (uint32_t)getpid(), 250000, 250000 * 16, 250000 * 16);
		for (uint64_t i = 0; i < 250000; i++) {
			ring_put(ctl, &head, MT_PREC_FREE, 0x1000 + (n - 250000 + i) * 16, 0);
			if (head - ctl->tail > MT_PRELOAD_RING_BYTES / 2) {
				__atomic_store_n(&ctl->head, head, __ATOMIC_RELEASE);
				assert_int_equal(preload_reader__poll(r), 0);
			}
		}
		__atomic_store_n(&ctl->head, head, __ATOMIC_RELEASE);
		assert_int_equal(preload_reader__poll(r), 0);
		expect_image(r, (uint32_t)getpid(), 0, 0, 250000 * 16);
	}
	assert_true(head > 2 * MT_PRELOAD_RING_BYTES); /* it went around */
	preload_reader__stats(r, &st);
	assert_int_equal(st.records, 1000000);
	assert_int_equal(st.images, 1);
	assert_int_equal(st.exec_images, 1);
	assert_int_equal(st.corrupt, 0);
	/* a head the writer moved past what the ring can hold: read no further */
	__atomic_store_n(&ctl->head, head + MT_PRELOAD_RING_BYTES + 8, __ATOMIC_RELEASE);
	assert_int_equal(preload_reader__poll(r), 0);
	preload_reader__stats(r, &st);
	assert_int_equal(st.corrupt, 1);
	munmap(ctl, MAP_BYTES);
	preload_reader__free(r);
}

static void test_preload__bad_registrations(void **state)
{
	struct sink_log l = { .traced_pid = (uint32_t)getpid() };
	struct preload_reader *r = new_reader(&l);
	int sock = child_fd(r), fd;
	struct mt_preload_ctl *ctl;
	struct preload_stats st;

	/* not sealed: the writer could shrink it under our reads */
	fd = make_ring(MAP_BYTES, false, &ctl);
	send_hello(sock, fd, MT_PRELOAD_MAGIC);
	close(fd);
	assert_int_equal(preload_reader__poll(r), 0);
	assert_int_equal(ctl->state, MT_PRELOAD_WAIT); /* never mapped: no answer */
	munmap(ctl, MAP_BYTES);
	/* sealed, but not our size */
	fd = make_ring(MAP_BYTES / 2, true, &ctl);
	send_hello(sock, fd, MT_PRELOAD_MAGIC);
	close(fd);
	assert_int_equal(preload_reader__poll(r), 0);
	munmap(ctl, MAP_BYTES / 2);
	/* not the protocol: refused in the ring */
	fd = make_ring(MAP_BYTES, true, &ctl);
	send_hello(sock, fd, 0x12345678);
	close(fd);
	assert_int_equal(preload_reader__poll(r), 0);
	assert_int_equal(ctl->state, MT_PRELOAD_REFUSED);
	munmap(ctl, MAP_BYTES);
	/* a process that is not traced */
	l.traced_pid = 1;
	fd = make_ring(MAP_BYTES, true, &ctl);
	send_hello(sock, fd, MT_PRELOAD_MAGIC);
	close(fd);
	assert_int_equal(preload_reader__poll(r), 0);
	assert_int_equal(ctl->state, MT_PRELOAD_REFUSED);
	munmap(ctl, MAP_BYTES);
	/* a message of the wrong size, without an fd; a drain request */
	assert_int_equal(send(sock, "garbage!", 8, 0), 8);
	assert_int_equal(send(sock, "k", 1, 0), 1);
	assert_int_equal(preload_reader__poll(r), 0);
	preload_reader__stats(r, &st);
	assert_int_equal(st.refused, 5);
	assert_int_equal(st.kicks, 1);
	assert_int_equal(st.images, 0);
	preload_reader__free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preload__totals_and_peak),
		cmocka_unit_test(test_preload__captures_and_releases),
		cmocka_unit_test(test_preload__malformed_refused),
		cmocka_unit_test(test_preload__ring_end),
		cmocka_unit_test(test_preload__protocol),
		cmocka_unit_test(test_preload__bad_registrations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
