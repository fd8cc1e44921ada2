/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ABI between bpf/stacks.bpf.c and src/stacks.c: growth per
 * (process, exec generation, user stack, event, class), aggregated in the
 * kernel, plus a small ring of process lifecycle notes that tell the loader
 * when to read /proc/PID/maps. Fixed-width types only, sizes pinned.
 */
#ifndef MEMTRACE_STACKS_H
#define MEMTRACE_STACKS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* PERF_MAX_STACK_DEPTH: the most a stack-trace map entry can hold */
#define MT_STACK_DEPTH 127
/*
 * Words copied from the user stack pointer at the first event of a key:
 * enough for a leaf that pushed up to 15 registers before faulting, so user
 * space can find the leaf's return address from its CFI.
 */
#define MT_LEAF_WORDS 16
#define MT_DEFAULT_MAX_STACKS 16384
#define MT_DEFAULT_MAX_KEYS 65536
#define MT_DEFAULT_MAX_ALLOCS 262144
#define MT_DEFAULT_MAX_TRACKED 8192

#define MT_DEFAULT_STACK_BYTES 8192	   /* --stack-size: user stack copied per capture */
#define MT_MAX_STACK_BYTES 65536	   /* = MT_USTACK_MAX of the recording */
#define MT_DEFAULT_SAMPLE_BYTES (64 << 10) /* --sample-bytes: mean malloc bytes per capture */
/*
 * Faults: the sampling period (bytes) while under the capture rate, and
 * the rate (captures per second per CPU) past which the period doubles,
 * measured over windows of MT_RATE_WINDOW_NS (see fault_sampled).
 */
#define MT_DEFAULT_FAULT_PERIOD (16 << 10)
#define MT_DEFAULT_CAPTURE_RATE 20000
#define MT_RATE_WINDOW_NS (1ULL << 24) /* 16.8 ms */
#define MT_MAX_FAULT_PERIOD (1ULL << 30)
#define MT_DEFAULT_USTACK_RING (32 << 20) /* captures in flight to user space, bytes */

/* --unwind: where call stacks come from (auto is dwarf here; report falls back per frame) */
enum mt_unwind {
	MT_UNWIND_FP = 0,    /* the kernel's frame-pointer walk, into the stacks map */
	MT_UNWIND_DWARF = 1, /* register + stack captures, unwound with CFI by report */
};

/*
 * Aggregate key stack of the dwarf mode: this bucket's call stacks are in
 * the captures of the same (tgid, gen, event, class).
 */
#define MT_STACK_NODATA ((__u64)-61) /* -ENODATA */
/* Harvest only: weight of keys that found the aggregate map full (tgid 0). */
#define MT_STACK_AGG_FULL ((__u64)-28) /* -ENOSPC */

#define MT_PAGE_BYTES 4096ULL
#define MT_THP_BYTES (2ULL << 20)

enum mt_stack_event {
	MT_EV_FAULT = 0,  /* user page fault: bytes of the page brought in */
	MT_EV_MMAP = 1,	  /* successful mmap: page-aligned length */
	MT_EV_BRK = 2,	  /* brk that grew the break: bytes it grew */
	MT_EV_MALLOC = 3, /* --malloc: bytes still allocated (can go negative) */
	MT_EV_NR,
};

/* --events bits */
#define MT_EVMASK(ev) (1U << (ev))

/*
 * Class of the mapping an event grew, judged from the VMA (faults) or the
 * mmap flags: no file behind it is anon; a tmpfs/shm inode (memfd, SysV
 * shm, MAP_SHARED|MAP_ANONYMOUS) is shmem; anything else is file, even when
 * a write to a private file mapping really makes an anon copy.
 */
enum mt_class {
	MT_CLASS_NONE = 0,
	MT_CLASS_ANON = 1,
	MT_CLASS_FILE = 2,
	MT_CLASS_SHMEM = 3,
	MT_CLASS_NR,
};

/*
 * Aggregation key. stack is the 64-bit hash of the user stack, the key of
 * the stacks map; when no stack could be taken it is a negative errno cast
 * to __u64 (-EEXIST: another stack has this hash, -ENOMEM: stacks map
 * full, -EFAULT: no user stack) and the weight still counts, under a
 * "[no stack]" entry. Hashes never fall in that range.
 */
struct mt_stack_key {
	__u64 stack;
	__u32 tgid;
	__u16 gen;  /* exec generation of tgid, from the tracked map */
	__u8 event; /* enum mt_stack_event */
	__u8 class; /* enum mt_class */
};
_Static_assert(sizeof(struct mt_stack_key) == 16, "mt_stack_key ABI");

#define MT_STACK_IS_ERR(stack) ((__u64)(stack) >= (__u64)-4095)

/* Value of the stacks map: user addresses innermost first, zero-filled after the last. */
struct mt_stack {
	__u64 ips[MT_STACK_DEPTH];
};
_Static_assert(sizeof(struct mt_stack) == 1016, "mt_stack ABI");

struct mt_stack_val {
	__u64 count;   /* events, scaled by --sample */
	__s64 bytes;   /* growth in bytes, scaled by --sample; malloc: outstanding */
	__u64 leaf_ip; /* user IP at the first event of this key */
	__u64 leaf_sp; /* user SP at that event */
	__u64 leaf_words[MT_LEAF_WORDS]; /* *(u64 *)leaf_sp..., 0 where unreadable */
	__u32 leaf_nr;			 /* words actually read */
	__u32 pad;
};
_Static_assert(sizeof(struct mt_stack_val) == 168, "mt_stack_val ABI");

/* Traced processes, keyed by tgid; seeded by the loader, extended by fork. */
struct mt_tracked {
	__u64 brk;   /* the break as the last brk left it (bytes, an address); 0 = not known */
	__u32 gen;   /* bumped at every exec */
	__u32 flags; /* reserved */
};
_Static_assert(sizeof(struct mt_tracked) == 16, "mt_tracked ABI");

/* Lifecycle notes, through the "notes" ring buffer. */
enum mt_note_type {
	MT_NOTE_FORK = 1, /* new traced process: tgid, parent in ppid */
	MT_NOTE_EXEC = 2, /* tgid now runs a new image, generation gen */
	MT_NOTE_MAPS = 3, /* an executable mapping appeared: re-read maps */
	MT_NOTE_EXIT = 4, /* last thread of tgid exited */
	MT_NOTE_VMA = 5,  /* an executable mapping, seen by the kernel (struct mt_vma_note) */
};

struct mt_note {
	__u64 ts_ns; /* bpf_ktime_get_boot_ns() */
	__u32 type;  /* enum mt_note_type */
	__u32 tgid;
	__u32 ppid;
	__u32 gen;
};
_Static_assert(sizeof(struct mt_note) == 24, "mt_note ABI");

/*
 * An executable mapping as the kernel saw it at exec (the program and its
 * interpreter) or at an mmap with PROT_EXEC: what symbolization needs when
 * the process is gone before /proc/PID/maps could be read. name is the
 * path exec was given (program, interpreter) or the file's own name
 * (libraries): user space finds the file from it and (dev, ino).
 */
#define MT_VMA_NAME_LEN 256

struct mt_vma_note {
	struct mt_note hdr; /* type MT_NOTE_VMA, tgid, gen */
	__u64 start;
	__u64 end;
	__u64 pgoff; /* file offset of start, bytes */
	__u64 ino;
	__u32 dev;  /* the kernel's dev_t: major << 20 | minor */
	__u32 kind; /* MT_VMA_PROGRAM, MT_VMA_INTERP, MT_VMA_MMAP */
	char name[MT_VMA_NAME_LEN];
};
_Static_assert(sizeof(struct mt_vma_note) == 320, "mt_vma_note ABI");

enum mt_vma_kind {
	MT_VMA_PROGRAM = 0, /* name: the path given to execve */
	MT_VMA_INTERP = 1,  /* name: the ELF interpreter's path */
	MT_VMA_MMAP = 2,    /* name: the file's base name */
};

/* --malloc: one live allocation, keyed by (tgid << 32 ^ ...) in the map. */
struct mt_alloc_key {
	__u64 addr;
	__u32 tgid;
	__u32 pad;
};
_Static_assert(sizeof(struct mt_alloc_key) == 16, "mt_alloc_key ABI");

struct mt_alloc {
	__u64 size;
	struct mt_stack_key key; /* where its bytes were counted */
	__u64 capture;		 /* dwarf: id of this block's capture (mt_ustack_event), 0 none */
};
_Static_assert(sizeof(struct mt_alloc) == 32, "mt_alloc ABI");

/*
 * One user-stack capture through the "ustacks" ring: the user registers at
 * the event (DWARF numbering of arch, see struct mt_rec_ustack) and the
 * stack from the user SP up, at most --stack-size and never past the end
 * of the stack's VMA. The ring record holds stack_bytes bytes of stack
 * after the header; stack_len of them are valid.
 */
#define MT_USTACK_REGS 33
struct mt_ustack_event {
	__u64 count;	  /* events this capture stands for (the sampling interval) */
	__s64 bytes;	  /* their bytes */
	__u64 stack_addr; /* user SP: the address of stack[0] */
	__u64 regs[MT_USTACK_REGS];
	__u32 tgid;
	__u32 gen;
	__u32 event; /* enum mt_stack_event */
	__u32 class; /* enum mt_class */
	__u32 arch;  /* ELF e_machine: 62 x86_64, 183 aarch64 */
	__u32 nregs;
	__u32 stack_len; /* valid bytes of stack */
	__u32 flags;	 /* MT_USTACK_EV_* */
	__u64 id;	 /* --malloc captures: nonzero, unique in the run; others 0 */
	/*
	 * --malloc captures and releases: the highest outstanding bytes of the
	 * image (tgid, gen) and of every traced process together so far, read
	 * when the event is made (a capture: before its own block is counted).
	 * When one is higher than the previous event said, the heap peaked in
	 * between: user space keeps the captures live at that moment (src/mpeak.c).
	 */
	__s64 image_peak;
	__s64 all_peak;
	__u8 stack[];
};
_Static_assert(sizeof(struct mt_ustack_event) == 344, "mt_ustack_event ABI");

/* a kernel-mode fault on user memory: regs are the user registers at syscall entry */
#define MT_USTACK_EV_KERNEL_FAULT 1
/*
 * --malloc: the block captured as id was freed (or its allocation failed):
 * that capture no longer stands for outstanding bytes. Header only, no
 * registers or stack.
 */
#define MT_USTACK_EV_RELEASE 2

/*
 * --malloc: outstanding bytes and blocks of one process image (the mpeak
 * map, keyed by tgid << 32 | gen) or of every traced process (mpeakall),
 * and their highest value so far with its time. Exact: every counted
 * allocation and free updates it with atomics; races lost on the peak
 * past a few retries are counted in races (the peak may then be short).
 */
struct mt_mpeak {
	__s64 live_bytes;
	__s64 live_blocks;
	__s64 peak_bytes;
	__s64 peak_blocks; /* live_blocks when peak_bytes was reached */
	__u64 peak_ns;	   /* bpf_ktime_get_ns() then (CLOCK_MONOTONIC) */
	__u64 races;
};
_Static_assert(sizeof(struct mt_mpeak) == 48, "mt_mpeak ABI");

/* Per-CPU counters, index into the stcnt map. */
enum mt_stack_counter {
	MT_SC_EVENTS = 0,      /* events seen from traced processes */
	MT_SC_SAMPLED,	       /* events a stack was taken for */
	MT_SC_STACK_COLLISION, /* two different stacks with one 64-bit hash: charged to -EEXIST */
	MT_SC_STACK_FULL,      /* stacks map full: a new stack went unrecorded */
	MT_SC_STACK_ERR,       /* bpf_get_stack failed (-EFAULT: no user stack) */
	MT_SC_KEYS_FULL,       /* aggregation map full: weight lost */
	MT_SC_NOTES_FULL,      /* notes ring buffer full: a lifecycle note lost */
	MT_SC_TRACKED_FULL,    /* tracked map full: a child went untraced */
	MT_SC_VMA_BUSY,	       /* VMA lookup failed: fault classed anon, 4 KiB */
	MT_SC_INFLIGHT_FULL, /* calls uncounted: in-flight malloc map full, brk of an unknown break
			      */
	MT_SC_ALLOCS_FULL,   /* --malloc live allocation map full */
	MT_SC_FREE_UNKNOWN,  /* free() of an address not seen allocated */
	MT_SC_USTACKS,	     /* user-stack captures sent (dwarf) */
	MT_SC_USTACK_LOST,   /* captures lost: ring full (their bytes stay in the aggregate) */
	MT_SC_USTACK_LOST_BYTES, /* the bytes those lost captures stood for */
	MT_SC_KFAULTS, /* kernel-mode faults on user memory (read() into a fresh buffer) */
	MT_SC_NR,
};

#endif /* MEMTRACE_STACKS_H */
