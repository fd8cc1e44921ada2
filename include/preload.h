/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ABI between the allocator interposer (src/preload/memtrace_preload.c,
 * LD_PRELOADed into `record --malloc -- CMD`) and its reader in memtrace
 * (src/preload.c). Everything the library writes is untrusted input to
 * root: the reader copies it out of the shared ring before it looks at it
 * and checks every length.
 *
 * Registration: MT_PRELOAD_ENV_FD names an AF_UNIX SOCK_SEQPACKET socket
 * ("FD:INODE", the inode so that an fd the program reused is never
 * written to). Each process image (at its start, and a forked child at its
 * first allocation) makes a sealed memfd (struct mt_preload_ctl, then
 * ring_bytes of ring) and sends a struct mt_preload_hello with the memfd
 * (SCM_RIGHTS); the kernel adds its PID (SCM_CREDENTIALS). It then waits
 * on ctl.state (a futex) until memtrace has noted the image's exec
 * generation: accepted (1) or refused (2, the library passes calls through
 * uncounted). Before it accepts, memtrace allocates the ring's pages in the
 * memfd (fallocate); the library then has the kernel fill its page table
 * (MADV_POPULATE_READ), so the traced program never faults on the ring
 * and the ring stays out of its fault view.
 *
 * Ring: the library appends records at head, 8-byte aligned, never across
 * the end (a MT_PREC_PAD record fills the rest); memtrace consumes from
 * tail and bumps ctl.drained (a futex) after each drain, which a producer
 * that found the ring full waits on. No event is dropped: a full ring
 * makes the program wait.
 */
#ifndef MEMTRACE_PRELOAD_H
#define MEMTRACE_PRELOAD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MT_PRELOAD_ENV_FD "MEMTRACE_PRELOAD_FD"
#define MT_PRELOAD_LIB "libmemtrace-preload.so"
#define MT_PRELOAD_MAGIC 0x4c50544dU /* "MTPL" */
#define MT_PRELOAD_VERSION 1U
#define MT_PRELOAD_CTL_BYTES 4096U
#define MT_PRELOAD_RING_BYTES (8U << 20) /* the only ring size memtrace accepts */
#define MT_PRELOAD_MAX_STACK 65536U	 /* = MT_MAX_STACK_BYTES */

/* The registration message, with the memfd. */
struct mt_preload_hello {
	__u32 magic;
	__u32 version;
	__u64 ring_bytes;
	__u32 flags; /* MT_PRELOAD_HELLO_* */
	__u32 pad;
};
_Static_assert(sizeof(struct mt_preload_hello) == 24, "mt_preload_hello ABI");

#define MT_PRELOAD_HELLO_FORK 1	    /* a forked child's image (no exec of its own) */
#define MT_PRELOAD_HELLO_SHADOWED 2 /* the program's own malloc comes first: ours is not called */

enum mt_preload_state {
	MT_PRELOAD_WAIT = 0,
	MT_PRELOAD_ACCEPTED = 1,
	MT_PRELOAD_REFUSED = 2,
};

/* The first MT_PRELOAD_CTL_BYTES of the memfd; the ring follows. */
struct mt_preload_ctl {
	__u32 magic;
	__u32 version;
	__u64 ring_bytes;
	/* written by memtrace, read by the library */
	__u32 state;	    /* enum mt_preload_state, a futex */
	__u32 drained;	    /* bumped after each drain, a futex */
	__u64 sample_bytes; /* mean bytes allocated between two captures; 0: no captures */
	__u32 stack_bytes;  /* user stack copied per capture */
	__u32 pad0;
	__u64 tail;	    /* bytes consumed */
	__u8 pad1[64 - 48]; /* head on a cache line of its own */
	/* written by the library */
	__u64 head;    /* bytes published (store-release after the records) */
	__u32 waiting; /* a producer waits on drained */
	__u32 pad2;
};
_Static_assert(sizeof(struct mt_preload_ctl) == 80, "mt_preload_ctl ABI");

enum mt_prec_type {
	MT_PREC_ALLOC = 1,   /* ptr, size: a block handed out */
	MT_PREC_FREE = 2,    /* ptr: a block given back (written before the real free) */
	MT_PREC_PAD = 3,     /* the rest of the ring up to its end is unused */
	MT_PREC_CAPTURE = 4, /* an ALLOC with a struct mt_preload_capture and stack after */
	MT_PREC_MUNMAP = 5,  /* ptr: munmap of it; a block only if an mmap record made one */
};

/* A record; len (bytes, a multiple of 8, header included) covers what follows. */
struct mt_preload_rec {
	__u32 type; /* enum mt_prec_type */
	__u32 len;
	__u64 ptr;
	__u64 size;
};
_Static_assert(sizeof(struct mt_preload_rec) == 24, "mt_preload_rec ABI");

/*
 * The allocator's entry state at a sampled allocation, as a uprobe on it
 * would see it: ip is the allocator's own address, sp points at the return
 * address. The other registers are not known (0). stack_len bytes of the
 * stack from sp follow, padded to 8.
 */
struct mt_preload_capture {
	__u64 ip;
	__u64 sp;
	__u64 bp;
	__u32 arch; /* ELF e_machine: 62 x86_64 */
	__u32 stack_len;
};
_Static_assert(sizeof(struct mt_preload_capture) == 32, "mt_preload_capture ABI");

#endif /* MEMTRACE_PRELOAD_H */
