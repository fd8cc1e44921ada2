/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Captures of this very process, as the BPF side takes them at an event,
 * for tests and benches that unwind a known chain without a kernel:
 * tests/unit/unwind_chain.c (test_unwind, test_profile) and
 * bench/ustack_synth.c. self_capture__add_maps() records this process's
 * code mappings as record does; self_capture__regs() (inlined into the
 * function whose frame is captured) takes the registers in DWARF order;
 * self_capture__copy() copies the stack from the SP up.
 */
#ifndef MEMTRACE_TEST_SELF_CAPTURE_H
#define MEMTRACE_TEST_SELF_CAPTURE_H

#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "recording.h"

/*
 * Adds the executable mappings of /proc/self/maps to rec as pid's (gen 0),
 * with their protections as record writes them, and sets *stack_top to
 * the end of [stack]. 0, or -errno (no [stack]: -ENOENT).
 */
static inline int self_capture__add_maps(struct recording *rec, uint32_t pid, uint64_t *stack_top)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char *line = NULL;
	size_t cap = 0;
	int err = 0;

	if (!f)
		return -errno;
	*stack_top = 0;
	while (!err && getline(&line, &cap, f) > 0) {
		unsigned long long start, end, off;
		char perms[8];
		int pathoff = 0;
		struct mt_rec_map map = {};

		if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %*u %n", &start, &end, perms, &off,
			   &pathoff) < 4)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strstr(line, "[stack]"))
			*stack_top = end;
		if (perms[2] != 'x')
			continue;
		map.start = start;
		map.end = end;
		map.pgoff = off;
		map.pid = pid;
		map.prot = PROT_READ | PROT_EXEC;
		map.path = pathoff ? line + pathoff : "";
		err = recording__add_map(rec, &map);
	}
	free(line);
	fclose(f);
	if (!err && !*stack_top)
		err = -ENOENT;
	return err;
}

#ifdef __x86_64__
#define SELF_CAPTURE_NREGS 17

/* Registers in x86-64 DWARF order (struct mt_rec_ustack); rip is right after the lea. */
static inline __attribute__((always_inline)) void self_capture__regs(uint64_t *r)
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
#define SELF_CAPTURE_SP(r) ((r)[7])
#define SELF_CAPTURE_ARCH EM_X86_64
#elif defined(__aarch64__)
#define SELF_CAPTURE_NREGS 33

/* x0..x30, sp, pc in arm64 DWARF order; pc is the adr's own address. */
static inline __attribute__((always_inline)) void self_capture__regs(uint64_t *r)
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
#define SELF_CAPTURE_SP(r) ((r)[31])
#define SELF_CAPTURE_ARCH EM_AARCH64
#else
#define SELF_CAPTURE_NREGS 0 /* captures are written for x86-64 and arm64 only */
#endif

/*
 * Copies min(len, stack_top - sp) bytes of the live stack from sp into to
 * and returns how many, as the kernel would: byte by byte and
 * uninstrumented, since under ASan the frames above hold poisoned
 * redzones that are part of what a capture must contain.
 */
static __attribute__((noinline, no_sanitize("address"), unused)) uint64_t
self_capture__copy(uint8_t *to, uint64_t sp, uint64_t stack_top, uint64_t len)
{
	const volatile uint8_t *p = (const volatile uint8_t *)(uintptr_t)sp;

	if (stack_top <= sp)
		return 0;
	if (len > stack_top - sp)
		len = stack_top - sp;
	for (uint64_t i = 0; i < len; i++)
		to[i] = p[i];
	return len;
}

#endif /* MEMTRACE_TEST_SELF_CAPTURE_H */
