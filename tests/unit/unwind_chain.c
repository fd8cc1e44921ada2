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
#include "unwind_chain.h"

#ifdef __x86_64__
/* Registers in x86-64 DWARF order; rip is the address right after the lea. */
static inline __attribute__((always_inline)) void capture_regs(uint64_t *r)
{
	__asm__ volatile("movq %%rax, 0(%0)\n\t"
			 "movq %%rdx, 8(%0)\n\t"
			 "movq %%rcx, 16(%0)\n\t"
			 "movq %%rbx, 24(%0)\n\t"
			 "movq %%rsi, 32(%0)\n\t"
			 "movq %%rdi, 40(%0)\n\t"
			 "movq %%rbp, 48(%0)\n\t"
			 "movq %%rsp, 56(%0)\n\t"
			 "movq %%r8, 64(%0)\n\t"
			 "movq %%r9, 72(%0)\n\t"
			 "movq %%r10, 80(%0)\n\t"
			 "movq %%r11, 88(%0)\n\t"
			 "movq %%r12, 96(%0)\n\t"
			 "movq %%r13, 104(%0)\n\t"
			 "movq %%r14, 112(%0)\n\t"
			 "movq %%r15, 120(%0)\n\t"
			 "leaq 0(%%rip), %%rax\n\t"
			 "movq %%rax, 128(%0)\n\t"
			 :
			 : "r"(r)
			 : "rax", "memory");
}
#elif defined(__aarch64__)
/* x0..x30, sp, pc in arm64 DWARF order; pc is the adr's own address. */
static inline __attribute__((always_inline)) void capture_regs(uint64_t *r)
{
	__asm__ volatile("stp x0, x1, [%0, #0]\n\t"
			 "stp x2, x3, [%0, #16]\n\t"
			 "stp x4, x5, [%0, #32]\n\t"
			 "stp x6, x7, [%0, #48]\n\t"
			 "stp x8, x9, [%0, #64]\n\t"
			 "stp x10, x11, [%0, #80]\n\t"
			 "stp x12, x13, [%0, #96]\n\t"
			 "stp x14, x15, [%0, #112]\n\t"
			 "stp x16, x17, [%0, #128]\n\t"
			 "stp x18, x19, [%0, #144]\n\t"
			 "stp x20, x21, [%0, #160]\n\t"
			 "stp x22, x23, [%0, #176]\n\t"
			 "stp x24, x25, [%0, #192]\n\t"
			 "stp x26, x27, [%0, #208]\n\t"
			 "stp x28, x29, [%0, #224]\n\t"
			 "str x30, [%0, #240]\n\t"
			 "mov x9, sp\n\t"
			 "str x9, [%0, #248]\n\t"
			 "adr x9, .\n\t"
			 "str x9, [%0, #256]\n\t"
			 :
			 : "r"(r)
			 : "x9", "memory");
}
#endif

/*
 * The capture is of take's own frame (capture_regs is inlined): the CFI
 * at the captured rip describes the captured rsp, and the copy made by
 * memcpy only writes below it.
 */
/*
 * Copies the live stack as the kernel would: byte by byte and uninstrumented,
 * since under ASan the frames above hold poisoned redzones that are part of
 * what a capture must contain.
 */
static __attribute__((noinline, no_sanitize("address"))) void
copy_stack(uint8_t *to, uintptr_t from, uint64_t len)
{
	const volatile uint8_t *p = (const volatile uint8_t *)from;

	for (uint64_t i = 0; i < len; i++)
		to[i] = p[i];
}

static __attribute__((noinline)) int take(struct uw_capture *c)
{
#ifdef __x86_64__
	uint64_t sp, len;

	capture_regs(c->regs);
	sp = c->regs[7];
	len = c->stack_end > sp ? c->stack_end - sp : 0;
	if (len > c->cap)
		len = c->cap;
	copy_stack(c->stack, (uintptr_t)sp, len);
	c->stack_addr = sp;
	c->stack_len = len;
	c->nregs = 17;
	c->arch = EM_X86_64;
	return (int)(len & 7) + 1;
#elif defined(__aarch64__)
	uint64_t sp, len;

	capture_regs(c->regs);
	sp = c->regs[31];
	len = c->stack_end > sp ? c->stack_end - sp : 0;
	if (len > c->cap)
		len = c->cap;
	copy_stack(c->stack, (uintptr_t)sp, len);
	c->stack_addr = sp;
	c->stack_len = len;
	c->nregs = 33;
	c->arch = EM_AARCH64;
	return (int)(len & 7) + 1;
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
