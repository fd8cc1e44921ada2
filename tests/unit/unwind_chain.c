// SPDX-License-Identifier: GPL-2.0
/*
 * A call chain with a known answer for tests/unit/test_unwind.c, built
 * -O2 -fomit-frame-pointer (see the Makefile) so that only CFI can walk
 * it: uw_chain_a -> b -> ... -> h, and h takes a user-stack capture of
 * itself as the BPF side would at an event: its registers in DWARF order
 * and the stack from its SP up.
 */
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "self_capture.h"
#include "unwind_chain.h"

/*
 * The capture is of take's own frame (self_capture__regs is inlined): the
 * CFI at the captured rip describes the captured rsp, and the copy only
 * writes below it.
 */
static __attribute__((noinline)) int take(struct uw_capture *c)
{
#if defined(__x86_64__) || defined(__aarch64__)
	self_capture__regs(c->regs);
	c->stack_addr = SELF_CAPTURE_SP(c->regs);
	c->stack_len = self_capture__copy(c->stack, c->stack_addr, c->stack_end, c->cap);
	c->nregs = SELF_CAPTURE_NREGS;
	c->arch = SELF_CAPTURE_ARCH;
	return (int)(c->stack_len & 7) + 1;
#else
	c->nregs = 0;
	return 1;
#endif
}

#define LINK(name, next, k)                                                                        \
	__attribute__((noinline)) int name(struct uw_capture *c, int x)                            \
	{                                                                                          \
		volatile int pad[(k) + 2];                                                         \
		int r;                                                                             \
		pad[0] = x;                                                                        \
		r = next(c, pad[0] * (k) + 1);                                                     \
		return r ^ (k) ^ pad[(k) + 1 - 1];                                                 \
	}

__attribute__((noinline)) int uw_chain_h(struct uw_capture *c, int x)
{
	volatile int pad[3];
	int r;

	pad[0] = x;
	r = take(c);
	return r + pad[0];
}

LINK(uw_chain_g, uw_chain_h, 7)
LINK(uw_chain_f, uw_chain_g, 6)
LINK(uw_chain_e, uw_chain_f, 5)
LINK(uw_chain_d, uw_chain_e, 4)
LINK(uw_chain_c, uw_chain_d, 3)
LINK(uw_chain_b, uw_chain_c, 2)
LINK(uw_chain_a, uw_chain_b, 1)
