// SPDX-License-Identifier: GPL-2.0
/*
 * Per-process memory counters: page faults, mmap/munmap/brk/mremap that
 * succeeded, and the kernel's own RSS counters from rss_stat. Everything is
 * aggregated here, in a table of slots that user space maps and reads from
 * memory (see include/tracer.h for the read protocol).
 *
 * Hot paths (page faults, rss_stat) look nothing up in a hash: a per-CPU
 * cache gives the slot, checked against the slot's own tgid. The tgid ->
 * slot hash is used on first sight, fork, exec, exit and syscall exit.
 * This file is over 800 lines: every program here writes the same slot
 * table under one protocol (gen, change count, pending faults), which one
 * file keeps in view; the syscall arguments are in syscalls.bpf.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "tracer.h"
#include "core_fixes.bpf.h"
#include "maps.bpf.h"
#include "syscalls.bpf.h"

#define PF_EXITING 0x00000004
#define PF_KTHREAD 0x00200000
#define MAX_ERRNO 4095
#define EEXIST 17
#define ENOENT 2
#define EBUSY 16
#define ENOSPC 28

/* Set by the loader between open and load. */
const volatile __u32 filter_flags = 0;
const volatile char filter_comm[MT_COMM_LEN] = {};
/* nr_mmap, nr_munmap, nr_brk, nr_mremap: syscalls.bpf.h */
/*
 * An own-context rise of at least this many pages in one rss_stat event is a
 * THP fault (0 = do not count): see proc_store_rss().
 */
const volatile __u32 thp_threshold_pages = 0;
/* Slots in proc_table (its max_entries), set by the loader. */
const volatile __u32 max_slots = MT_DEFAULT_MAX_PROCS;

/*
 * Slots never handed out start here; freed ones go to free_slots. The
 * loader scans slots below min(next_slot, max_slots).
 */
__u64 next_slot = 0;

/*
 * MT_TRACK_TREE: resident pages summed over every traced process, and the
 * highest that sum reached, so that `run` catches a spike shorter than a poll.
 * The loader adds seeded processes and subtracts reaped ones.
 */
__u64 tree_rss_pages = 0;
__u64 tree_peak_pages = 0;

/* The per-process table, one slot per traced process, mapped by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MT_DEFAULT_MAX_PROCS); /* --max-procs */
	__type(key, __u32);			   /* slot */
	__type(value, struct mt_proc_stats);
} proc_table SEC(".maps");

/* tgid -> slot: first sight, fork, exec, exit, syscall exit, reap. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_DEFAULT_MAX_PROCS); /* --max-procs */
	__type(key, __u32);			   /* tgid */
	__type(value, __u32);			   /* slot */
} proc_slots SEC(".maps");

/*
 * By slot: the process's break as its last brk left it, so that a brk's
 * exit knows how far it moved (syscalls.bpf.h); 0 = not known yet (a
 * process the loader seeded), filled in by brk_iter at the start or learnt
 * at its next mmap, munmap, mremap or fault switch. Set wherever a slot
 * gets its process.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MT_DEFAULT_MAX_PROCS); /* --max-procs */
	__type(key, __u32);			   /* slot */
	__type(value, __u64);			   /* the break, bytes (an address) */
} proc_brk SEC(".maps");

static __always_inline void brk_seed(__u32 slot, __u64 brk)
{
	__u64 *seen = bpf_map_lookup_elem(&proc_brk, &slot);

	if (seen)
		*seen = brk;
}

/* A seeded process's break, from its own context, once. */
static __always_inline void brk_learn(__u32 slot)
{
	__u64 *seen = bpf_map_lookup_elem(&proc_brk, &slot);

	if (seen && !*seen)
		*seen = mt_current_brk();
}

/*
 * Run once by the loader after it seeded the processes that exist at the
 * start, before any hook is attached: each one's break, exactly, read from
 * its mm (that break is in no /proc file). Never overwrites a known one.
 */
SEC("iter/task")
int brk_iter(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	__u32 tgid, *slot;
	__u64 *seen, brk;

	if (!task || BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	slot = bpf_map_lookup_elem(&proc_slots, &tgid);
	if (!slot)
		return 0;
	seen = bpf_map_lookup_elem(&proc_brk, slot);
	brk = BPF_CORE_READ(task, mm, brk);
	if (seen && brk)
		__sync_val_compare_and_swap(seen, 0, brk);
	return 0;
}

/* Slots the loader reaped, ready for reuse. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, MT_DEFAULT_MAX_PROCS); /* --max-procs */
	__type(value, __u32);
} free_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_fault_slot);
} fault_slots SEC(".maps");

/* The last rss_stat owner's slot, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_slot_ref);
} rss_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MT_CNT_NR);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* --cgroup: the cgroup whose descendants are traced, set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroups SEC(".maps");

static __always_inline void count_loss(__u32 which)
{
	mt_percpu_inc(&counters, which);
}

/*
 * Processes the full procs map turned away, by tgid and start time, so that
 * MT_LOST_PROCS counts processes (each once) where MT_DROP_PROCS_FULL counts
 * every event they had. LRU: past its size a process may be counted twice.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} lost_procs SEC(".maps");

static __always_inline void count_lost_proc(__u32 tgid, __u64 start_ns)
{
	__u64 *seen = bpf_map_lookup_elem(&lost_procs, &tgid);

	count_loss(MT_DROP_PROCS_FULL);
	if (seen && *seen == start_ns)
		return;
	bpf_map_update_elem(&lost_procs, &tgid, &start_ns, BPF_ANY);
	count_loss(MT_LOST_PROCS);
}

static __always_inline bool comm_matches(const char *comm)
{
	for (int i = 0; i < MT_COMM_LEN; i++) {
		if (comm[i] != filter_comm[i])
			return false;
		if (!comm[i])
			return true;
	}
	return true;
}

/*
 * Whether the current process should be traced on first sight. PID filters
 * never match here: their entries are seeded by the loader (and by fork
 * when following children).
 */
static __always_inline bool current_wanted(struct task_struct *task)
{
	__u32 flags = BPF_CORE_READ(task, flags);

	if (flags & (PF_KTHREAD | PF_EXITING))
		return false;
	if (filter_flags & MT_FILTER_PID)
		return false;
	if (filter_flags & MT_FILTER_COMM) {
		char comm[MT_COMM_LEN];

		bpf_get_current_comm(comm, sizeof(comm));
		if (!comm_matches(comm))
			return false;
	}
	if ((filter_flags & MT_FILTER_CGROUP) && bpf_current_task_under_cgroup(&cgroups, 0) != 1)
		return false;
	return true;
}

/* A process's slot and entry through the hash; NULL when untraced. */
static __always_inline struct mt_proc_stats *proc_lookup(__u32 tgid, __u32 *slotp)
{
	__u32 *found = bpf_map_lookup_elem(&proc_slots, &tgid);
	__u32 slot;

	if (!found)
		return NULL;
	slot = *found;
	if (slotp)
		*slotp = slot;
	return bpf_map_lookup_elem(&proc_table, &slot);
}

/*
 * Tell readers the slot was written (see tracer.h): after the fields, a
 * plain increment. Two CPUs racing may lose one increment, but the value
 * still moves past what a reader saw before both; the reader's second copy
 * after the last change it saw picks up the later stores.
 */
static __always_inline void proc_changed(struct mt_proc_stats *proc)
{
	proc->changes++;
}

/* Begin and end a change of what names a slot's process (see tracer.h). */
static __always_inline void ident_write_begin(struct mt_proc_stats *proc)
{
	__sync_fetch_and_add(&proc->gen, 1);
}

static __always_inline void ident_write_end(struct mt_proc_stats *proc)
{
	__sync_fetch_and_add(&proc->gen, 1);
}

/*
 * A fresh entry for a process born at start_ns, named after named's comm.
 * Every counter is written: a slot may come back from the loader, or be
 * taken over by a reused PID.
 */
static __always_inline void proc_fill(struct mt_proc_stats *proc, __u64 start_ns, __u32 ppid,
				      struct task_struct *named)
{
	proc->start_ns = start_ns;
	proc->exit_ns = 0;
	for (int i = 0; i < MT_RSS_NR; i++)
		proc->rss_pages[i] = 0;
	proc->rss_peak_pages = 0;
	proc->faults = 0;
	proc->thp_faults = 0;
	proc->mmap_calls = 0;
	proc->mmap_bytes = 0;
	proc->munmap_calls = 0;
	proc->munmap_bytes = 0;
	proc->mremap_calls = 0;
	proc->mremap_grow_bytes = 0;
	proc->mremap_shrink_bytes = 0;
	proc->brk_calls = 0;
	proc->brk_bytes = 0;
	proc->flags = 0;
	proc->ppid = ppid;
	BPF_CORE_READ_STR_INTO(&proc->comm, named, comm);
	proc_changed(proc);
}

/* A free slot: a reaped one, else one never used; -ENOSPC when the table is full. */
static __always_inline int slot_alloc(__u32 *slot)
{
	__u64 next;

	if (bpf_map_pop_elem(&free_slots, slot) == 0)
		return 0;
	if (next_slot >= max_slots)
		return -ENOSPC;
	next = __sync_fetch_and_add(&next_slot, 1);
	if (next >= max_slots)
		return -ENOSPC;
	*slot = next;
	return 0;
}

/*
 * A new entry for tgid in a free slot, published (tgid set) only once the
 * hash points at it, so that readers never see two slots of one tgid. When
 * another CPU created it first, that entry is used and the slot goes back.
 */
static __always_inline struct mt_proc_stats *
proc_new(__u32 tgid, __u64 start_ns, __u32 ppid, struct task_struct *named, __u64 brk, __u32 *slotp)
{
	struct mt_proc_stats *proc;
	__u32 slot;
	long err;

	if (slot_alloc(&slot)) {
		count_lost_proc(tgid, start_ns);
		return NULL;
	}
	proc = bpf_map_lookup_elem(&proc_table, &slot);
	if (!proc)
		return NULL; /* slot_alloc() hands out slots below max_slots only */
	ident_write_begin(proc);
	proc_fill(proc, start_ns, ppid, named);
	brk_seed(slot, brk);
	err = bpf_map_update_elem(&proc_slots, &tgid, &slot, BPF_NOEXIST);
	if (!err)
		proc->tgid = tgid;
	ident_write_end(proc);
	if (!err) {
		*slotp = slot;
		return proc;
	}
	bpf_map_push_elem(&free_slots, &slot, 0); /* room: the queue holds every slot */
	if (err != -EEXIST) {
		count_lost_proc(tgid, start_ns);
		return NULL;
	}
	return proc_lookup(tgid, slotp);
}

static __always_inline struct mt_proc_stats *proc_create(__u32 tgid, struct task_struct *task,
							 __u32 *slotp)
{
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);

	/* task is current: entries are created in their own context (or at fork) */
	return proc_new(tgid, task_start_ns(leader), BPF_CORE_READ(task, real_parent, tgid), leader,
			BPF_CORE_READ(task, mm, brk), slotp);
}

/* The current process's entry; created on first sight when the filters allow. */
static __always_inline struct mt_proc_stats *current_proc(__u32 *slotp)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mt_proc_stats *proc = proc_lookup(tgid, slotp);
	struct task_struct *task;

	if (proc)
		return proc;
	task = bpf_get_current_task_btf();
	if (!current_wanted(task))
		return NULL;
	return proc_create(tgid, task, slotp);
}

/*
 * own: the event fires in the owner's context (its own fault, not reclaim or
 * a remote fork). The counter read is the per-CPU counter's folded count: a
 * small fault (or a 16-page fault-around) moves it by at most a batch
 * (max(32, 2 * nr_cpus) pages) plus 16, while a PMD-mapped (THP) fault moves
 * it by a huge page (512) plus or minus a batch of this CPU's unfolded delta.
 */
static __always_inline void proc_store_rss(struct mt_proc_stats *proc, __u64 file, __u64 anon,
					   __u64 swap, __u64 shmem, bool own)
{
	__u64 resident = file + anon + shmem;
	__u64 old = proc->rss_pages[MT_RSS_FILE] + proc->rss_pages[MT_RSS_ANON] +
		    proc->rss_pages[MT_RSS_SHMEM];

	if (own && thp_threshold_pages && resident >= old + thp_threshold_pages &&
	    (proc->flags & MT_PROC_RSS_SEEN))
		__sync_fetch_and_add(&proc->thp_faults, 1);
	if (filter_flags & MT_TRACK_TREE) {
		__u64 total = __sync_add_and_fetch(&tree_rss_pages, resident - old);

		if ((__s64)total > (__s64)tree_peak_pages)
			tree_peak_pages = total;
	}
	proc->rss_pages[MT_RSS_FILE] = file;
	proc->rss_pages[MT_RSS_ANON] = anon;
	proc->rss_pages[MT_RSS_SWAP] = swap;
	proc->rss_pages[MT_RSS_SHMEM] = shmem;
	/* racy max: concurrent writers store readings of the same counters */
	if (resident > proc->rss_peak_pages)
		proc->rss_peak_pages = resident;
	if (!(proc->flags & MT_PROC_RSS_SEEN))
		proc->flags |= MT_PROC_RSS_SEEN;
	proc_changed(proc);
}

static __always_inline struct mt_fault_slot *this_cpu_fault_slot(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&fault_slots, &zero); /* inlined: no hash */
}

/*
 * Begin and end a flush or a change of owner of a CPU's slot: the add to the
 * entry and the emptying of the slot are two stores, and a reader that saw
 * the first but not the second would count those faults twice.
 */
static __always_inline void fault_slot_write_begin(struct mt_fault_slot *fs)
{
	__sync_fetch_and_add(&fs->seq, 1);
}

static __always_inline void fault_slot_write_end(struct mt_fault_slot *fs)
{
	__sync_fetch_and_add(&fs->seq, 1);
}

/*
 * Hand the pending faults to their process and empty the CPU's slot; a
 * table slot reaped or reused meanwhile no longer carries the tgid. Called
 * between fault_slot_write_begin() and _end().
 */
static __always_inline void fault_slot_flush(struct mt_fault_slot *fs)
{
	struct mt_proc_stats *proc;
	__u32 slot = fs->slot;

	if (fs->pending && fs->tgid) {
		proc = bpf_map_lookup_elem(&proc_table, &slot);
		if (proc && proc->tgid == fs->tgid) {
			__sync_fetch_and_add(&proc->faults, fs->pending);
			proc_changed(proc);
		}
	}
	fs->pending = 0;
	fs->tgid = 0;
}

/*
 * The hot path: a process faulting page after page on one CPU costs a
 * per-CPU increment. Only when the CPU switches to another process's faults
 * are the pending ones handed over and the newcomer looked up (and created
 * on first sight when the filters allow).
 */
static __always_inline void count_fault(void)
{
	struct mt_fault_slot *fs = this_cpu_fault_slot();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 slot;

	if (!fs)
		return;
	if (fs->tgid == tgid) {
		fs->pending++;
		return;
	}
	fault_slot_write_begin(fs);
	fault_slot_flush(fs);
	if (current_proc(&slot)) {
		brk_learn(slot);
		fs->tgid = tgid;
		fs->slot = slot;
		fs->pending = 1;
	}
	fault_slot_write_end(fs);
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	count_fault();
	return 0;
}

/* Where exceptions:page_fault_user is missing (non-x86): a per-CPU software
 * page-fault perf event with a sample period of 1 carries the same count. */
SEC("perf_event")
int fault_perf(struct bpf_perf_event_data *ctx)
{
	if (bpf_get_current_pid_tgid() >> 32)
		count_fault();
	return 0;
}

/*
 * rss_stat fires in whatever context changed the counter (the process
 * itself, reclaim, exit, a remote fork or ptrace), so the event belongs to
 * the mm's owner, never to the current task. Entries are created only in
 * the process's own context, where the filters can be judged.
 */
static __always_inline struct mt_proc_stats *rss_owner_lookup(__u32 tgid, struct task_struct *task,
							      __u32 *slotp)
{
	struct mt_proc_stats *proc = proc_lookup(tgid, slotp);

	if (proc)
		return proc;
	if ((bpf_get_current_pid_tgid() >> 32) != tgid || !current_wanted(task))
		return NULL;
	return proc_create(tgid, task, slotp);
}

/*
 * The owner's entry: a per-CPU array lookup and a compare while the same
 * process's counters keep changing on this CPU (a fault loop), the hash
 * only when the owner changes.
 */
static __always_inline struct mt_proc_stats *rss_owner_proc(__u32 tgid, struct task_struct *task)
{
	struct mt_slot_ref *ref;
	struct mt_proc_stats *proc;
	__u32 zero = 0, slot;

	ref = bpf_map_lookup_elem(&rss_cache, &zero);
	if (!ref)
		return NULL;
	if (ref->tgid == tgid) {
		slot = ref->slot;
		proc = bpf_map_lookup_elem(&proc_table, &slot);
		if (proc && proc->tgid == tgid)
			return proc;
	}
	proc = rss_owner_lookup(tgid, task, &slot);
	if (proc) {
		ref->tgid = tgid;
		ref->slot = slot;
	}
	return proc;
}

SEC("tp_btf/rss_stat")
int BPF_PROG(rss_stat_btf, struct mm_struct *mm, int member)
{
	struct task_struct *owner = mm_owner_btf(mm);
	struct task_struct *task = bpf_get_current_task_btf();
	struct mt_proc_stats *proc;
	__u32 tgid;

	/*
	 * The owner must be using this mm: while fork copies page tables, the
	 * child (the new mm's owner) still carries its parent's tgid, and at
	 * exit or exec the owner has already let go of the mm being torn down.
	 * Those events would otherwise write another mm's counters into the
	 * entry; the entry keeps its last figures instead.
	 */
	if (owner && owner->mm == mm)
		tgid = owner->tgid;
	else if (!owner && task->mm == mm)
		tgid = bpf_get_current_pid_tgid() >> 32;
	else
		return 0;
	proc = rss_owner_proc(tgid, task);
	if (!proc)
		return 0;
	proc_store_rss(proc, MM_RSS_READ_BTF(mm, MT_RSS_FILE), MM_RSS_READ_BTF(mm, MT_RSS_ANON),
		       MM_RSS_READ_BTF(mm, MT_RSS_SWAP), MM_RSS_READ_BTF(mm, MT_RSS_SHMEM),
		       task->mm == mm);
	return 0;
}

/* Fallback where BTF tracepoints cannot attach: same logic through probe reads. */
SEC("raw_tp/rss_stat")
int BPF_PROG(rss_stat_raw, struct mm_struct *mm, int member)
{
	struct task_struct *owner = mm_owner(mm);
	struct task_struct *task = bpf_get_current_task_btf();
	struct mt_proc_stats *proc;
	__u32 tgid;

	if (owner && BPF_CORE_READ(owner, mm) == mm) /* see rss_stat_btf */
		tgid = BPF_CORE_READ(owner, tgid);
	else if (!owner && BPF_CORE_READ(task, mm) == mm)
		tgid = bpf_get_current_pid_tgid() >> 32;
	else
		return 0;
	proc = rss_owner_proc(tgid, task);
	if (!proc)
		return 0;
	proc_store_rss(proc, mm_rss_read(mm, MT_RSS_FILE), mm_rss_read(mm, MT_RSS_ANON),
		       mm_rss_read(mm, MT_RSS_SWAP), mm_rss_read(mm, MT_RSS_SHMEM),
		       BPF_CORE_READ(task, mm) == mm);
	return 0;
}

static __always_inline __u64 page_align(__u64 len)
{
	return mt_page_align(len);
}

/* Adds one mmap, munmap or mremap that succeeded to its process; len: the length asked for. */
static __always_inline void account_syscall(struct mt_proc_stats *proc, __u32 nr, __u64 len,
					    __u64 new_len)
{
	if (nr == nr_mmap) {
		__sync_fetch_and_add(&proc->mmap_calls, 1);
		__sync_fetch_and_add(&proc->mmap_bytes, page_align(len));
	} else if (nr == nr_munmap) {
		__sync_fetch_and_add(&proc->munmap_calls, 1);
		__sync_fetch_and_add(&proc->munmap_bytes, page_align(len));
	} else if (nr == nr_mremap) {
		__u64 old_len = page_align(len);

		new_len = page_align(new_len);
		__sync_fetch_and_add(&proc->mremap_calls, 1);
		if (new_len > old_len)
			__sync_fetch_and_add(&proc->mremap_grow_bytes, new_len - old_len);
		else
			__sync_fetch_and_add(&proc->mremap_shrink_bytes, old_len - new_len);
	}
	proc_changed(proc);
}

/*
 * A brk of the process in slot returned ret: the move from the last break.
 * When that is not known, a refused call (the result is not what it asked
 * for, as the brk(0) query) still moved nothing; one that succeeded goes
 * uncounted, counted as a loss.
 */
static __always_inline void account_brk(struct mt_proc_stats *proc, __u32 slot,
					struct pt_regs *regs, long ret)
{
	__u64 *seen = bpf_map_lookup_elem(&proc_brk, &slot);
	__u64 old, now;

	if (!seen)
		return;
	mt_brk_move(seen, &old, &now);
	if (!old) {
		if ((__u64)ret == PT_REGS_PARM1_CORE_SYSCALL(regs))
			count_loss(MT_DROP_BRK_UNSEEN);
		return;
	}
	if (now != old) {
		__sync_fetch_and_add(&proc->brk_calls, 1);
		__sync_fetch_and_add(&proc->brk_bytes, (__s64)(now - old));
		proc_changed(proc);
	}
}

/*
 * A counted call (nr) returned ret: what it asked for is in the user's
 * registers. Entries are created on first sight, as for a fault.
 */
static __always_inline int on_counted_exit(struct pt_regs *regs, long nr, long ret)
{
	struct mt_syscall_args args;
	struct mt_proc_stats *proc;
	__u32 slot;

	if (ret < 0 && ret >= -MAX_ERRNO)
		return 0;
	proc = current_proc(&slot);
	if (!proc)
		return 0;
	if (nr == nr_brk) {
		account_brk(proc, slot, regs, ret);
		return 0;
	}
	brk_learn(slot);
	mt_syscall_args(regs, nr, &args);
	account_syscall(proc, nr, args.len, args.new_len);
	return 0;
}

/*
 * Every syscall of the machine passes here, and nothing else runs for it:
 * one that is not counted leaves after its number is read and compared.
 * nr < 0 where the architecture does not say (then nothing is counted).
 */
static __always_inline int on_sys_exit(struct pt_regs *regs, long nr, long ret)
{
	if (!mt_syscall_counted(nr))
		return 0;
	return on_counted_exit(regs, nr, ret);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_btf, struct pt_regs *regs, long ret)
{
	return on_sys_exit(regs, syscall_nr_btf(regs), ret);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(sys_exit_raw, struct pt_regs *regs, long ret)
{
	return on_sys_exit(regs, syscall_nr_raw(regs), ret);
}

/*
 * The fexit rung: on the syscalls' own entry points (the loader names the
 * arch's wrapper, __x64_sys_mmap or __arm64_sys_mmap, found in BTF), so
 * that no other syscall pays anything. The wrapper's argument is the
 * user's registers, its return value the syscall's result.
 */
SEC("fexit")
int BPF_PROG(mmap_fexit, struct pt_regs *regs, long ret)
{
	return on_counted_exit(regs, nr_mmap, ret);
}

SEC("fexit")
int BPF_PROG(munmap_fexit, struct pt_regs *regs, long ret)
{
	return on_counted_exit(regs, nr_munmap, ret);
}

SEC("fexit")
int BPF_PROG(mremap_fexit, struct pt_regs *regs, long ret)
{
	return on_counted_exit(regs, nr_mremap, ret);
}

SEC("fexit")
int BPF_PROG(brk_fexit, struct pt_regs *regs, long ret)
{
	return on_counted_exit(regs, nr_brk, ret);
}

/*
 * The tracepoint rung: the kernel's per-syscall events (syscalls:sys_exit_*),
 * attached through perf events by the loader, which finds their ids. The
 * kernel tests a bitmap of enabled syscalls before any work, so no other
 * syscall runs a program, as on the fexit rung; the four counted ones pay
 * the perf dispatch instead of a trampoline.
 */
SEC("tracepoint")
int mmap_tp(struct mt_sys_exit_tp *ctx)
{
	return on_counted_exit(mt_user_regs(), nr_mmap, ctx->ret);
}

SEC("tracepoint")
int munmap_tp(struct mt_sys_exit_tp *ctx)
{
	return on_counted_exit(mt_user_regs(), nr_munmap, ctx->ret);
}

SEC("tracepoint")
int mremap_tp(struct mt_sys_exit_tp *ctx)
{
	return on_counted_exit(mt_user_regs(), nr_mremap, ctx->ret);
}

SEC("tracepoint")
int brk_tp(struct mt_sys_exit_tp *ctx)
{
	return on_counted_exit(mt_user_regs(), nr_brk, ctx->ret);
}

/*
 * A new process (not a thread) gets an entry of its own from its first
 * moment when everything is traced, when its comm matches, or when its
 * parent is traced and children are followed.
 */
static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child)
{
	__u32 child_tgid = BPF_CORE_READ(child, tgid);
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	struct mt_proc_stats *old;
	bool wanted;
	__u32 slot;

	if (BPF_CORE_READ(child, pid) != child_tgid)
		return 0; /* a thread: its process is already there or not */
	if (BPF_CORE_READ(child, flags) & PF_KTHREAD)
		return 0;

	if ((filter_flags & MT_FOLLOW_FORKS) && proc_lookup(parent_tgid, NULL))
		wanted = true;
	else
		wanted = current_wanted(parent);
	if (!wanted)
		return 0;

	old = proc_lookup(child_tgid, &slot);
	if (old && !(old->flags & MT_PROC_EXITED))
		return 0;
	if (old) {
		/* the old process's last figures were never read: it takes the slot over */
		count_loss(MT_DROP_REUSED_UNREAPED);
		ident_write_begin(old);
		proc_fill(old, task_start_ns(child), parent_tgid, child);
		brk_seed(slot, BPF_CORE_READ(child, mm, brk));
		ident_write_end(old);
		return 0;
	}
	proc_new(child_tgid, task_start_ns(child), parent_tgid, child,
		 BPF_CORE_READ(child, mm, brk), &slot);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(fork_raw, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child);
}

static __always_inline int on_exec(struct task_struct *task, pid_t old_pid)
{
	__u32 tgid = BPF_CORE_READ(task, tgid), slot;
	struct mt_proc_stats *proc = proc_lookup(tgid, &slot);

	if (!proc) {
		/* a comm filter may start matching at exec */
		if (!current_wanted(task))
			return 0;
		proc = proc_create(tgid, task, &slot);
		if (!proc)
			return 0;
	}
	ident_write_begin(proc);
	BPF_CORE_READ_STR_INTO(&proc->comm, task, comm);
	proc->flags |= MT_PROC_EXECED;
	brk_seed(slot, BPF_CORE_READ(task, mm, brk)); /* the new image's break */
	proc_changed(proc);
	ident_write_end(proc);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return on_exec(task, old_pid);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(exec_raw, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return on_exec(task, old_pid);
}

/* Marks the process exited when its last thread goes; the loader reports
 * the final figures once and then deletes the entry. */
static __always_inline int on_exit(struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct mt_fault_slot *slot;
	struct mt_proc_stats *proc;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	proc = proc_lookup(tgid, NULL);
	if (!proc || (proc->flags & MT_PROC_EXITED))
		return 0;
	/* its pending faults on this CPU go in now: a reused PID must not inherit them */
	slot = this_cpu_fault_slot();
	if (slot && slot->tgid == tgid) {
		fault_slot_write_begin(slot);
		fault_slot_flush(slot);
		fault_slot_write_end(slot);
	}
	proc->exit_ns = bpf_ktime_get_boot_ns();
	proc->flags |= MT_PROC_EXITED;
	proc_changed(proc);
	/* the entry keeps its final figures for the report; the tree sum lets go */
	if (filter_flags & MT_TRACK_TREE)
		__sync_fetch_and_sub(&tree_rss_pages, proc->rss_pages[MT_RSS_FILE] +
							  proc->rss_pages[MT_RSS_ANON] +
							  proc->rss_pages[MT_RSS_SHMEM]);
	return 0;
}

/* Filled by the loader for reap_run, see tracer.h. */
struct mt_reap reap_batch[MT_REAP_BATCH] = {};
__u32 reap_nr = 0;

/*
 * One exited process's slot back to the free queue: the same steps as the
 * loader's tracer__reap(), here for a whole batch in one call. The hash
 * entry goes first so that nothing new finds the slot; if fork took the
 * slot over meanwhile (gen moved), the entry goes back and the slot stays.
 */
static long reap_one(__u32 i, void *ctx)
{
	struct mt_proc_stats *proc;
	struct mt_reap *r;
	__u32 tgid, slot;

	if (i >= MT_REAP_BATCH)
		return 1;
	r = &reap_batch[i];
	tgid = r->tgid;
	slot = r->slot;
	/* a slot names tgid only while the hash points at it (see proc_new) */
	if (slot < max_slots) {
		proc = bpf_map_lookup_elem(&proc_table, &slot);
		if (proc && proc->tgid != tgid)
			proc = NULL;
	} else {
		proc = proc_lookup(tgid, &slot);
	}
	if (!proc) {
		r->err = -ENOENT;
		return 0;
	}
	if (proc->gen != r->gen || !(proc->flags & MT_PROC_EXITED)) {
		r->err = -EBUSY;
		return 0;
	}
	if (bpf_map_delete_elem(&proc_slots, &tgid)) {
		r->err = -ENOENT;
		return 0;
	}
	if (proc->gen != r->gen) {
		bpf_map_update_elem(&proc_slots, &tgid, &slot, BPF_NOEXIST);
		r->err = -EBUSY;
		return 0;
	}
	ident_write_begin(proc);
	proc->tgid = 0;
	__builtin_memset(proc, 0, offsetof(struct mt_proc_stats, tgid));
	__builtin_memset(proc->comm, 0, sizeof(proc->comm));
	proc_changed(proc);
	ident_write_end(proc);
	bpf_map_push_elem(&free_slots, &slot, 0); /* room: the queue holds every slot */
	r->slot = slot;
	r->err = 0;
	return 0;
}

SEC("raw_tp")
int reap_run(void *ctx)
{
	bpf_loop(reap_nr < MT_REAP_BATCH ? reap_nr : MT_REAP_BATCH, reap_one, NULL, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit_btf, struct task_struct *task)
{
	return on_exit(task);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(exit_raw, struct task_struct *task)
{
	return on_exit(task);
}

char LICENSE[] SEC("license") = "GPL";
