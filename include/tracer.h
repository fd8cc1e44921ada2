/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ABI between bpf/tracer.bpf.c and src/tracer.c: per-process memory
 * counters kept in the kernel in a table of slots (an mmap-able array) that
 * the loader reads from memory, without a syscall per entry. A hash maps
 * each tgid to its slot; it is used when a process is first seen, forks,
 * execs or is reaped, never on the page-fault or rss_stat hot paths, which
 * go through per-CPU caches of (tgid, slot).
 * Fixed-width types only, sizes pinned: both compilers must agree.
 */
#ifndef MEMTRACE_TRACER_H
#define MEMTRACE_TRACER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MT_COMM_LEN 16
#define MT_DEFAULT_MAX_PROCS 16384
#define MT_MAX_FILTER_PIDS 1024

/* mt_proc_stats.flags */
#define MT_PROC_EXITED (1U << 0)   /* thread group is dead; loader reaps it */
#define MT_PROC_RSS_SEEN (1U << 1) /* rss_* hold a kernel reading */
#define MT_PROC_EXECED (1U << 2)   /* comm changed by exec since creation */

/*
 * Indices of the kernel's own mm counters (enum NR_MM_COUNTERS in
 * include/linux/mm_types_task.h); stable since 4.x, shmem since 4.5.
 */
enum mt_rss_member {
	MT_RSS_FILE = 0,
	MT_RSS_ANON = 1,
	MT_RSS_SWAP = 2,
	MT_RSS_SHMEM = 3,
	MT_RSS_NR = 4,
};

/*
 * One traced process, one slot of the table. Counters count from the moment
 * the entry was created (tracing start, or the process's fork); rss_pages
 * mirrors the kernel's mm counters as of the latest rss_stat event, in pages.
 *
 * Reading a slot while the kernel writes it (the loader maps the table):
 * - every field is an aligned 64- or 32-bit word stored whole, so each
 *   counter read is a value the kernel stored, never half of one. Counters
 *   of one slot may come from consecutive events (file pages from one
 *   rss_stat, anon from the next): the same as a batched map read, which
 *   copies values without a lock, always did;
 * - what names the process (tgid, start_ns, ppid, comm) changes only when a
 *   slot is filled, emptied or taken over by a reused PID, or comm at exec:
 *   those writers make gen odd before and even after (atomic adds, full
 *   barriers), and readers retry a copy during which gen was odd or moved.
 *   So figures are never shown under another process's name;
 * - tgid == 0: a free slot (or one being filled: tgid is published last);
 * - changes moves (a plain increment, after the fields it covers) on every
 *   write of the slot: a reader that saw the same value at its last copy
 *   can skip the slot. Where stores may become visible out of order, a
 *   reader copies a slot once more after the last change it saw.
 */
struct mt_proc_stats {
	__u64 start_ns;		    /* group leader's start_boottime: tells PID reuse apart */
	__u64 exit_ns;		    /* bpf_ktime_get_boot_ns() at group exit, or 0 */
	__u64 rss_pages[MT_RSS_NR]; /* file, anon, swap entries, shmem; in pages */
	__u64 rss_peak_pages;	    /* max of file+anon+shmem seen by rss_stat */
	__u64 faults;		    /* user page faults taken by the process's threads */
	__u64 thp_faults;	    /* faults that mapped a whole PMD (2 MiB on x86) at once */
	__u64 mmap_calls;	    /* successful mmap() */
	__u64 mmap_bytes;	    /* length asked of successful mmap() */
	__u64 munmap_calls;	    /* successful munmap() */
	__u64 munmap_bytes;	    /* length given to successful munmap() */
	__u64 mremap_calls;	    /* successful mremap() */
	__u64 mremap_grow_bytes;    /* new_len - old_len where it grew */
	__u64 mremap_shrink_bytes;  /* old_len - new_len where it shrank */
	__u64 brk_calls;	    /* brk() calls that moved the break */
	__s64 brk_bytes;	    /* net growth of the break, may be negative */
	__u32 flags;		    /* MT_PROC_* */
	__u32 ppid;		    /* parent tgid at creation */
	__u32 tgid;		    /* owner of the slot; 0 = free */
	__u32 gen;		    /* odd while the slot's identity is rewritten, see above */
	char comm[MT_COMM_LEN];
	__u32 changes; /* moves on every write of the slot, see above; wraps */
	__u32 pad;
};
_Static_assert(sizeof(struct mt_proc_stats) == 184, "mt_proc_stats ABI");

/*
 * Page faults not yet added to their process's entry, one slot per CPU.
 * A fault only bumps its CPU's slot while the same process keeps faulting
 * there (no hash lookup on the hot path); the next fault of another
 * process on that CPU, or the process's exit there, adds the pending count
 * to the entry (a flush). Readers add pending counts themselves, and since
 * a flush may fall between their copy of the entry and their read of the
 * pending counts (the fault of any process on that CPU, the reader's own
 * included), they take the two as one reading only when the entry's faults
 * did not move across the read of the pending counts.
 */
struct mt_fault_slot {
	__u64 seq;     /* odd while a flush or a change of owner is under way */
	__u64 pending; /* faults of tgid not yet in its entry */
	__u32 tgid;    /* 0 = empty */
	__u32 slot;    /* tgid's slot in the table when pending was taken */
};
_Static_assert(sizeof(struct mt_fault_slot) == 24, "mt_fault_slot ABI");
/* the kernel copies a per-CPU value word by word, in order: seq is read before pending */
_Static_assert(__builtin_offsetof(struct mt_fault_slot, seq) == 0, "mt_fault_slot seq first");

/*
 * Per-CPU cache of the last rss_stat owner's slot. Valid only while the
 * slot's tgid still equals tgid: a reaped slot has tgid 0, a reused one
 * another tgid (a slot that went back to the same tgid is that tgid's slot
 * in the hash too).
 */
struct mt_slot_ref {
	__u32 tgid;
	__u32 slot;
};
_Static_assert(sizeof(struct mt_slot_ref) == 8, "mt_slot_ref ABI");

/*
 * Exited processes whose last figures the loader has read, reaped in the
 * kernel by reap_run (BPF_PROG_TEST_RUN, never attached): one call frees a
 * batch of slots, where the loader would need a hash lookup, a delete and
 * a queue push per process. The loader fills reap_batch[0, reap_nr) in the
 * mapped .bss, with the slot it read the process in (no hash lookup then),
 * or MT_REAP_ANY_SLOT; reap_run writes err back: 0 reaped (slot = the slot freed),
 * -ENOENT no entry any more, -EBUSY the slot holds another process now (it
 * was taken over at fork, or gen moved since the loader's read).
 */
#define MT_REAP_BATCH 128
#define MT_REAP_ANY_SLOT 0xffffffffU

struct mt_reap {
	__u32 tgid; /* host tgid */
	__u32 gen;  /* the slot's gen in the loader's read that saw it exited */
	__s32 err;  /* out */
	__u32 slot; /* in: where the loader read it, or MT_REAP_ANY_SLOT; out: the slot freed */
};
_Static_assert(sizeof(struct mt_reap) == 16, "mt_reap ABI");

/* Per-CPU loss and health counters, index into the drops map. */
enum mt_counter {
	MT_DROP_PROCS_FULL = 0,	 /* procs map full: a process went untraced */
	MT_DROP_BRK_UNSEEN,	 /* brk calls uncounted: the process's break was not known yet */
	MT_DROP_REUSED_UNREAPED, /* a PID was reused before the loader read its exit */
	MT_LOST_PROCS,		 /* processes that went untraced, each counted once (procs full);
				    MT_DROP_PROCS_FULL counts their events */
	/*
	 * Counted by the loader, not the kernel: faults pending on a CPU whose
	 * flush stayed under way through 1,000 reads, left out of that reading
	 * (they may be in their entry already: at most that many are missing)
	 */
	MT_FAULTS_LEFT_OUT,
	MT_CNT_NR,
};

/* Filter modes, set in rodata before load. */
#define MT_FILTER_PID (1U << 0)	   /* only tgids present in the pids map */
#define MT_FILTER_COMM (1U << 1)   /* only processes whose comm equals filter_comm */
#define MT_FILTER_CGROUP (1U << 2) /* only tasks under the cgroup in cgroups[0] */
#define MT_FOLLOW_FORKS (1U << 3)  /* children of traced processes are traced */
#define MT_TRACK_TREE (1U << 4)	   /* keep the sum of resident pages of all entries, and its peak */

#endif /* MEMTRACE_TRACER_H */
