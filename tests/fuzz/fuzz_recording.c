// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the recording reader: any byte sequence must give a
 * recording or a clean error. Built and run for a few seconds by
 * tests/cli/test_record.sh when clang's libFuzzer is installed:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *       tests/fuzz/fuzz_recording.c src/recording.c -o fuzz_recording
 *   ./fuzz_recording -max_total_time=5 CORPUS_DIR
 */
#include <stddef.h>
#include <stdint.h>
#include "recording.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct recording *rec = recording__parse(data, size, err, sizeof(err));

	if (rec) {
		size_t n;
		const struct mt_rec_sample *s = recording__samples(rec, &n);

		/* what the report relies on, for whatever was accepted */
		for (size_t i = 0; i < n; i++)
			if (s[i].event >= MT_EV_NR || s[i].leaf_nr > MT_LEAF_WORDS)
				__builtin_trap();
		for (size_t i = 0; i < n; i++)
			recording__stack(rec, s[i].stack_id);
		{
			const struct mt_rec_ustack *u = recording__ustacks(rec, &n);
			volatile uint8_t sink = 0;

			for (int list = 0; list < 2; list++) {
				u = list ? recording__peak_ustacks(rec, &n)
					 : recording__ustacks(rec, &n);
				for (size_t i = 0; i < n; i++) {
					if (u[i].nregs > MT_UNWIND_MAX_REGS ||
					    u[i].stack_len > MT_USTACK_MAX)
						__builtin_trap();
					if (u[i].stack_len)
						sink ^= u[i].stack[u[i].stack_len - 1];
				}
			}
			(void)sink;
		}
		{
			/* the peak view's records (MT_FREC_PEAK): never negative */
			const struct mt_rec_peak *pk = recording__peaks(rec, &n);

			for (size_t i = 0; i < n; i++)
				if (pk[i].bytes < 0 || pk[i].blocks < 0)
					__builtin_trap();
		}
		recording__free(rec);
	}
	return 0;
}
