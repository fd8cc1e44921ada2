// SPDX-License-Identifier: GPL-2.0
/*
 * Writes a recording of N user-stack captures taken from this very
 * process, for measuring how fast `memtrace report` unwinds and
 * symbolizes (bench/bench_report.sh). Built -O2 -fomit-frame-pointer like
 * Debian's binaries, so only CFI walks it. Every capture has different
 * stack bytes (a counter lives in the frames), so the unwinder's cache
 * cannot answer any of them: the worst case. Chains are 12 to 27 frames
 * deep and run through 16 different paths; one in four is an mmap of
 * 64 KiB, the others faults of 4 KiB, each kind in its own bucket.
 *
 *   ustack_synth OUT.data [N [STACK_BYTES]]    (x86-64 only)
 */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "recording.h"
#include "self_capture.h"

static uint8_t stack_copy[MT_USTACK_MAX];
static uint64_t stack_top, copy_bytes = 8192;
static struct recording *rec;
static uint64_t serial;

/* Every fourth capture is of an mmap of 64 KiB, the others of a 4 KiB fault. */
static __attribute__((noinline)) int capture(uint64_t salt)
{
#ifdef __x86_64__
	bool mmap_ev = salt % 4 == 0;
	struct mt_rec_ustack u = { .pid = (uint32_t)getpid(),
				   .event = mmap_ev ? MT_EV_MMAP : MT_EV_FAULT,
				   .class = MT_CLASS_ANON,
				   .arch = EM_X86_64,
				   .nregs = 17,
				   .count = 1,
				   .bytes = mmap_ev ? 65536 : 4096 };
	volatile uint64_t mark = salt; /* makes every capture's bytes differ */

	self_capture__regs(u.regs);
	u.stack_addr = SELF_CAPTURE_SP(u.regs);
	u.stack_len = self_capture__copy(stack_copy, u.stack_addr, stack_top, copy_bytes);
	u.stack = stack_copy;
	if (recording__add_ustack(rec, &u)) {
		fprintf(stderr, "ustack_synth: out of memory\n");
		exit(1);
	}
	return (int)(mark & 1);
#else
	(void)salt;
	fprintf(stderr, "ustack_synth: captures are written for x86-64 only\n");
	exit(1);
#endif
}

/* Two recursions that alternate by the bits of path: 16 shapes of chain. */
static __attribute__((noinline)) int walk_b(int depth, unsigned path);

static __attribute__((noinline)) int walk_a(int depth, unsigned path)
{
	volatile int pad[4] = { depth };

	if (!depth)
		return capture(++serial) + pad[0];
	return ((path >> (depth & 3)) & 1 ? walk_b(depth - 1, path) : walk_a(depth - 1, path)) +
	       pad[0];
}

static __attribute__((noinline)) int walk_b(int depth, unsigned path)
{
	volatile int pad[9] = { depth };

	if (!depth)
		return capture(++serial) ^ pad[0];
	return ((path >> (depth & 3)) & 1 ? walk_a(depth - 1, path) : walk_b(depth - 1, path)) ^
	       pad[0];
}

static void self_maps(uint32_t pid)
{
	int err = self_capture__add_maps(rec, pid, &stack_top);

	if (err) {
		fprintf(stderr, "ustack_synth: cannot record /proc/self/maps: %s\n",
			strerror(-err));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct mt_rec_meta meta = { .events = MT_EVMASK(MT_EV_FAULT) | MT_EVMASK(MT_EV_MMAP),
				    .sample_every = 1,
				    .cmdline = "bench/ustack_synth" };
	struct mt_rec_proc proc = { .pid = (uint32_t)getpid(), .comm = "ustack_synth" };
	struct mt_rec_sample agg = { .pid = (uint32_t)getpid(),
				     .stack_id = -ENODATA,
				     .event = MT_EV_FAULT,
				     .class = MT_CLASS_ANON };
	unsigned long n = 100000;
	char *end;
	int err;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: ustack_synth OUT.data [N [STACK_BYTES]]\n");
		return 2;
	}
	if (argc > 2) {
		n = strtoul(argv[2], &end, 10);
		if (*end || !n || n > 10000000) {
			fprintf(stderr, "ustack_synth: invalid N '%s': 1 to 10000000\n", argv[2]);
			return 2;
		}
	}
	if (argc > 3) {
		copy_bytes = strtoul(argv[3], &end, 10);
		if (*end || copy_bytes < 64 || copy_bytes > MT_USTACK_MAX) {
			fprintf(stderr, "ustack_synth: invalid STACK_BYTES '%s': 64 to %u\n",
				argv[3], MT_USTACK_MAX);
			return 2;
		}
	}
	rec = recording__new();
	if (!rec)
		return 1;
	self_maps(proc.pid);
	proc.exe = "/proc/self/exe";
	recording__set_meta(rec, &meta);
	recording__add_proc(rec, &proc);
	for (unsigned long i = 0; i < n; i++)
		walk_a(10 + (int)(i % 16), (unsigned)(i / 16) % 16);
	/* serial runs 1..n: n / 4 of them are mmap captures */
	agg.count = n - n / 4;
	agg.bytes = (int64_t)agg.count * 4096;
	recording__add_sample(rec, &agg);
	agg.event = MT_EV_MMAP;
	agg.count = n / 4;
	agg.bytes = (int64_t)agg.count * 65536;
	if (agg.count)
		recording__add_sample(rec, &agg);
	err = recording__write(rec, argv[1], true);
	if (err) {
		fprintf(stderr, "ustack_synth: cannot write %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	recording__free(rec);
	return 0;
}
