// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for what the allocator interposer writes into its ring
 * (include/preload.h): a traced program can write anything there, and
 * root parses it. The input is cut into segments as drain cuts a ring
 * (the first byte says where and which reach the ring's end); every
 * capture the reader hands out is read in full (ASan checks its bounds),
 * and the image's totals must match a model kept from the same records.
 * Built and run by `make fuzz`.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "preload.h"
#include "preload_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink_byte;
static int64_t held;

static int gen_of(void *ctx, uint32_t pid, uint32_t *gen)
{
	*gen = 1;
	return 0;
}

static int capture(void *ctx, uint64_t id, const struct mt_rec_ustack *u, int64_t peak,
		   int64_t all_peak)
{
	uint8_t x = 0;

	if (!(id >> 63) || u->stack_len > MT_PRELOAD_MAX_STACK)
		__builtin_trap();
	for (uint32_t i = 0; i < u->stack_len; i++)
		x ^= u->stack[i];
	sink_byte = x;
	held++;
	return 0;
}

static void release(void *ctx, uint64_t id, int64_t peak, int64_t all_peak)
{
	if (--held < 0)
		__builtin_trap(); /* released more than were captured */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct preload_opts o = { .sample_bytes = 4096, .stack_bytes = 8192 };
	const struct preload_sink s = { NULL, gen_of, capture, release, NULL };
	struct preload_reader *r;
	struct preload_books bk;
	size_t cut;
	uint8_t *copy;

	if (size < 1)
		return 0;
	r = preload_reader__new(&o, &s);
	if (!r)
		return 0;
	held = 0;
	cut = size > 1 ? data[0] * (size - 1) / 256 : 0;
	cut &= ~(size_t)7;
	/* aligned copies, as the ring's records are: the parser must not care either way */
	copy = malloc(size);
	if (copy) {
		long a, b = -1;

		memcpy(copy, data + 1, size - 1);
		a = preload_reader__feed(r, 1, 1, copy, cut, data[0] & 1);
		if (a >= 0)
			b = preload_reader__feed(r, 1, 1, copy + cut, size - 1 - cut, data[0] & 2);
		if ((a >= 0 && (size_t)a != cut) || (b >= 0 && (size_t)b != size - 1 - cut))
			__builtin_trap(); /* a segment is used whole or refused */
		if (preload_reader__image(r, 1, 1, &bk) == 0 &&
		    (bk.bytes > bk.peak_bytes || (bk.count == 0 && bk.bytes != 0) || bk.bytes < 0 ||
		     bk.peak_blocks < 0 || (uint64_t)bk.peak_blocks < (bk.peak_bytes > 0)))
			__builtin_trap();
		free(copy);
	}
	preload_reader__free(r);
	return 0;
}
