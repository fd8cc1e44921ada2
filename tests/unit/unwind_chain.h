/* SPDX-License-Identifier: GPL-2.0 */
/* The -O2 -fomit-frame-pointer call chain of tests/unit/unwind_chain.c. */
#ifndef MEMTRACE_TEST_UNWIND_CHAIN_H
#define MEMTRACE_TEST_UNWIND_CHAIN_H

#include <stdint.h>

struct uw_capture {
	uint64_t regs[33];  /* DWARF order, as struct mt_rec_ustack */
	uint32_t nregs;	    /* 17 (x86-64), 33 (arm64), 0 where capture is not implemented */
	uint32_t arch;	    /* EM_X86_64 or EM_AARCH64 */
	uint64_t stack_end; /* copy up to here (the top of [stack]) */
	uint32_t cap;	    /* room in stack */
	uint8_t *stack;
	uint64_t stack_addr;
	uint32_t stack_len;
};

/* a -> b -> c -> d -> e -> f -> g -> h -> take (static, captures) */
int uw_chain_a(struct uw_capture *c, int x);
int uw_chain_b(struct uw_capture *c, int x);
int uw_chain_c(struct uw_capture *c, int x);
int uw_chain_d(struct uw_capture *c, int x);
int uw_chain_e(struct uw_capture *c, int x);
int uw_chain_f(struct uw_capture *c, int x);
int uw_chain_g(struct uw_capture *c, int x);
int uw_chain_h(struct uw_capture *c, int x);

#endif
