// SPDX-License-Identifier: GPL-2.0
/*
 * Growth by user stack for `memtrace record`: page faults, mmap and brk
 * (and with --malloc, the C library's allocator) of the traced processes,
 * counted per (process, exec generation, stack, event, class) right here.
 * User space reads the aggregate once at the end and the notes ring as it
 * goes (to read /proc/PID/maps while the process still exists; the notes
 * also carry the executable mappings, for processes gone before that).
 *
 * Hot path (a fault): one tracked lookup, the per-CPU stack and VMA-class
 * caches (a stack walk and bpf_find_vma() only when they miss), one
 * aggregate lookup with atomic adds. The top of the user stack is copied
 * only when a key is first seen: it serves the leaf fix in user space,
 * which is the same for every event of a key since the key holds the
 * faulting IP and the frame-pointer chain above it.
 *
 * With --unwind dwarf (auto) a key holds no stack (MT_STACK_NODATA): byte-
 * sampled faults and every mmap/brk send a capture of the user registers
 * and stack instead (stacks_capture.bpf.h). The --malloc uprobes are in
 * stacks_malloc.bpf.h. This file stays a little over 800 lines: the fault,
 * syscall and lifecycle handlers share the caches and the VMA notes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include "maps.bpf.h"
#include "syscalls.bpf.h"
#include "stacks.h"

#define PF_KTHREAD 0x00200000
#define ENOMEM 12
#define E2BIG 7
#define EFAULT 14
#define MAX_ERRNO 4095
#define PROT_EXEC 0x4
#define MAP_SHARED 0x01
#define MAP_ANONYMOUS 0x20
#define MAP_FIXED 0x10
#define VM_HUGEPAGE 0x20000000UL
#define VM_NOHUGEPAGE 0x40000000UL
#define TMPFS_MAGIC 0x01021994

/* Set by the loader between open and load. */
const volatile __u32 event_mask =
    MT_EVMASK(MT_EV_FAULT) | MT_EVMASK(MT_EV_MMAP) | MT_EVMASK(MT_EV_BRK);
const volatile __u32 sample_every = 1; /* --sample N: one stack per N events */
const volatile __u32 follow_forks = 0; /* -- CMD: children are traced too */
const volatile __u32 thp_always = 0;   /* transparent_hugepage/enabled is [always] */
/*
 * nr_mmap, nr_munmap, nr_brk, nr_mremap: syscalls.bpf.h. Those that can
 * replace a mapping (all but brk, and these) end every CPU's VMA cache.
 */
const volatile __u32 nr_shmat = 0;
const volatile __u32 nr_shmdt = 0;
const volatile __u32 unwind_mode = MT_UNWIND_FP;	     /* enum mt_unwind */
const volatile __u32 stack_bytes = MT_DEFAULT_STACK_BYTES;   /* --stack-size */
const volatile __u64 sample_bytes = MT_DEFAULT_SAMPLE_BYTES; /* --malloc's mean (--sample-bytes) */
/* faults: the sampling period to start from and come back to (--sample-bytes) */
const volatile __u64 fault_period = MT_DEFAULT_FAULT_PERIOD;
const volatile __u32 window_captures = 0; /* --capture-rate per MT_RATE_WINDOW_NS; 0: none */

/* user addresses are below this on x86_64 (5-level paging included) and arm64 */
#define USER_LIMIT (1ULL << 56)
#define EM_X86_64 62
#define EM_AARCH64 183

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_DEFAULT_MAX_TRACKED);
	__type(key, __u32); /* tgid */
	__type(value, struct mt_tracked);
} tracked SEC(".maps");

/*
 * Stacks by 64-bit hash of their frames. A stack-trace map would hash into
 * as many buckets as it has entries and refuse a colliding stack (some
 * percent of stacks at a few hundred); a hash map keyed by the full 64-bit
 * hash does not collide in practice, and a collision is still detected.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_DEFAULT_MAX_STACKS); /* --max-stacks */
	__type(key, __u64);
	__type(value, struct mt_stack);
} stacks SEC(".maps");

/* bpf_get_stack() output: too big for the BPF stack */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_stack);
} stackbuf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_DEFAULT_MAX_KEYS);
	__type(key, struct mt_stack_key);
	__type(value, struct mt_stack_val);
} agg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} notes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MT_SC_NR);
	__type(key, __u32);
	__type(value, __u64);
} stcnt SEC(".maps");

/* User-stack captures (dwarf mode); sized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ustacks SEC(".maps");

/*
 * Byte sampling of --malloc allocations for captures, per CPU: a countdown
 * drawn from an exponential distribution (so no periodic pattern can alias
 * with it), and the events and bytes seen since the last capture, which
 * that capture then stands for.
 */
struct smp_state {
	__s64 countdown;
	__u64 count;
	__s64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct smp_state);
} smpstate SEC(".maps");

/*
 * Sampling of faults for captures, per CPU (fault_sampled): the period in
 * force, and the captures of the rate window that began at win_ns.
 */
struct flt_state {
	__u64 period; /* bytes; 0 = fault_period, not started */
	__u64 win_ns; /* bpf_ktime_get_ns() */
	__u64 caps;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flt_state);
} fltstate SEC(".maps");

/* Weight of events that found the aggregate map full, by event * MT_CLASS_NR + class. */
struct agg_over {
	__u64 count;
	__s64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, (MT_EV_NR * MT_CLASS_NR));
	__type(key, __u32);
	__type(value, struct agg_over);
} aggover SEC(".maps");

/* Events seen per kind on this CPU, for --sample. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MT_EV_NR);
	__type(key, __u32);
	__type(value, __u64);
} sampctr SEC(".maps");

static __always_inline void count(__u32 which)
{
	mt_percpu_inc(&stcnt, which);
}

static __always_inline struct mt_tracked *current_tracked(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&tracked, &tgid);
}

/* Whether this event of kind ev takes a stack under --sample. */
static __always_inline bool sample_hit(__u32 ev)
{
	__u64 *seen;

	count(MT_SC_EVENTS);
	if (sample_every <= 1)
		return true;
	seen = bpf_map_lookup_elem(&sampctr, &ev);
	if (!seen)
		return false;
	return (*seen)++ % sample_every == 0;
}

static __always_inline __u64 hash_mix(__u64 h, __u64 v)
{
	h = (h ^ v) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

/* The current user stack's hash, stored in the stacks map; or (__u64)-errno. */
static __always_inline __u64 take_stack(void *ctx)
{
	struct mt_stack *buf, *old;
	__u64 h = 0xcbf29ce484222325ULL;
	__u32 zero = 0, nr;
	long n, err;

	buf = bpf_map_lookup_elem(&stackbuf, &zero);
	if (!buf)
		return (__u64)-ENOMEM;
	/* zero-fills past the last frame: the stored value ends at the first 0 */
	n = bpf_get_stack(ctx, buf->ips, sizeof(buf->ips), BPF_F_USER_STACK);
	if (n <= 0) {
		count(MT_SC_STACK_ERR);
		return (__u64)-EFAULT;
	}
	nr = n / 8;
	for (__u32 i = 0; i < MT_STACK_DEPTH; i++) {
		if (i >= nr)
			break;
		h = hash_mix(h, buf->ips[i]);
	}
	h = hash_mix(h, nr);
	if (MT_STACK_IS_ERR(h) || !h)
		h ^= 1ULL << 62;

	old = bpf_map_lookup_elem(&stacks, &h);
	if (old) {
		/* one word is enough to tell all but a deliberate collision apart */
		if (old->ips[0] != buf->ips[0] ||
		    (nr < MT_STACK_DEPTH && old->ips[nr & 127] != 0)) {
			count(MT_SC_STACK_COLLISION);
			return (__u64)-EEXIST;
		}
		return h;
	}
	err = bpf_map_update_elem(&stacks, &h, buf, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		count(MT_SC_STACK_FULL);
		return (__u64)-ENOMEM;
	}
	return h;
}

/*
 * A fault loop takes every fault at the same instruction with the same
 * stack and frame pointer: the walk would find the same stack again. The
 * last id is reused while the thread's ip, sp, bp and the two frame records
 * above bp (saved bp and return address, and the caller's return address)
 * are unchanged. When bp points nowhere readable (code built without frame
 * pointers), reading it costs a nested fault of its own, as it does the
 * kernel's walk, which then ends at the first frame: the id is reused while
 * ip, sp and bp are unchanged and no traced process has changed a mapping
 * (vma_epoch), without reading bp again.
 */
struct stk_cache {
	__u64 ip, sp, bp, w0, w1, w2, epoch;
	__u64 stack;
	__u32 tid;
	__u32 bp_unreadable;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stk_cache);
} stkcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vma_epoch SEC(".maps");

static __always_inline __u64 stack_id(void *ctx, struct pt_regs *regs)
{
	__u32 zero = 0, tid = (__u32)bpf_get_current_pid_tgid();
	struct stk_cache *c = regs ? bpf_map_lookup_elem(&stkcache, &zero) : NULL;
	__u64 *epoch = bpf_map_lookup_elem(&vma_epoch, &zero);
	__u64 ip, sp, bp, w[2] = {}, w2 = 0, now;
	bool same, unreadable;
	__u64 id;

	if (!c || !epoch)
		return take_stack(ctx);
	now = *epoch;
	ip = PT_REGS_IP_CORE(regs);
	sp = PT_REGS_SP_CORE(regs);
	bp = PT_REGS_FP_CORE(regs);
	same = c->tid == tid && !MT_STACK_IS_ERR(c->stack) && c->ip == ip && c->sp == sp &&
	       c->bp == bp;
	if (same && c->bp_unreadable && c->epoch == now)
		return c->stack;
	unreadable = bpf_probe_read_user(w, sizeof(w), (void *)bp) != 0;
	/* an unreadable next record ends the kernel's walk there too: 0 stands for it */
	if (!unreadable && bpf_probe_read_user(&w2, sizeof(w2), (void *)(w[0] + 8)))
		w2 = 0;
	if (same && !unreadable && !c->bp_unreadable && c->w0 == w[0] && c->w1 == w[1] &&
	    c->w2 == w2)
		return c->stack;
	id = take_stack(ctx);
	c->tid = tid;
	c->stack = id;
	c->ip = ip;
	c->sp = sp;
	c->bp = bp;
	c->w0 = w[0];
	c->w1 = w[1];
	c->w2 = w2;
	c->epoch = now;
	c->bp_unreadable = unreadable;
	return id;
}

static const struct mt_stack_val zero_val;

/* The user IP, SP and the words at SP, on a key's first event (the leaf fix in user space). */
static __always_inline void save_leaf(struct mt_stack_val *val, struct pt_regs *regs)
{
	__u64 sp = PT_REGS_SP_CORE(regs);

	val->leaf_ip = PT_REGS_IP_CORE(regs);
	val->leaf_sp = sp;
	/* the whole window first; one word at a time near the stack top */
	if (!bpf_probe_read_user(val->leaf_words, sizeof(val->leaf_words), (void *)sp)) {
		val->leaf_nr = MT_LEAF_WORDS;
		return;
	}
	for (int i = 0; i < MT_LEAF_WORDS; i++) {
		if (bpf_probe_read_user(&val->leaf_words[i], 8, (void *)(sp + i * 8)))
			break;
		val->leaf_nr = i + 1;
	}
}

/*
 * Adds weight to the key for the current stack. regs are the user
 * registers at the event, for the leaf words on a key's first event.
 */
static __always_inline struct mt_stack_val *account(void *ctx, struct pt_regs *regs, __u32 gen,
						    __u8 ev, __u8 class, __s64 bytes, __u64 n)
{
	struct mt_stack_key key = {};
	struct mt_stack_val *val;
	bool created;

	if (unwind_mode == MT_UNWIND_DWARF && ev != MT_EV_MALLOC)
		key.stack = MT_STACK_NODATA; /* the call stacks are in the captures */
	else
		key.stack = ev == MT_EV_FAULT ? stack_id(ctx, regs) : take_stack(ctx);
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	key.gen = gen;
	key.event = ev;
	key.class = class;

	val = mt_lookup_or_init(&agg, &key, &zero_val, &created);
	if (!val) {
		__u32 slot = (__u32)ev * MT_CLASS_NR + class;
		struct agg_over *over = bpf_map_lookup_elem(&aggover, &slot);

		/* no bucket of its own, but the bytes stay in the totals */
		count(MT_SC_KEYS_FULL);
		if (over) {
			over->count += n;
			over->bytes += bytes;
		}
		return NULL;
	}
	if (created && regs)
		save_leaf(val, regs);
	__sync_fetch_and_add(&val->count, n);
	__sync_fetch_and_add(&val->bytes, bytes);
	return val;
}

struct vma_info {
	__u64 address;
	__u64 start, end;
	__u8 class;
	__u8 thp;
};

/*
 * bpf_find_vma() from a fault costs microseconds (the mmap lock, and an
 * irq_work to drop it with interrupts off), more than the fault itself. The
 * class of the last VMA seen on this CPU is reused while the fault lands in
 * the same mm and range and no traced process has mapped, unmapped or
 * remapped anything since (vma_epoch).
 */
struct vma_cache {
	__u64 mm;
	__u64 start, end;
	__u64 epoch;
	__u8 class;
	__u8 thp;
	__u8 valid;
	__u8 pad[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vma_cache);
} vmacache SEC(".maps");

static long vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_info *info = data;
	struct file *file = BPF_CORE_READ(vma, vm_file);
	unsigned long flags = BPF_CORE_READ(vma, vm_flags);
	__u64 start = BPF_CORE_READ(vma, vm_start), end = BPF_CORE_READ(vma, vm_end);
	__u64 block = info->address & ~(MT_THP_BYTES - 1);

	info->start = start;
	info->end = end;

	if (!file) {
		info->class = MT_CLASS_ANON;
		/*
		 * A THP fault needs an aligned 2 MiB block inside an eligible
		 * VMA; whether the kernel then got a huge page is not visible
		 * here, so this is the policy's answer (see report docs).
		 */
		if (((flags & VM_HUGEPAGE) || (thp_always && !(flags & VM_NOHUGEPAGE))) &&
		    block >= start && block + MT_THP_BYTES <= end)
			info->thp = 1;
		return 0;
	}
	if (BPF_CORE_READ(file, f_inode, i_sb, s_magic) == TMPFS_MAGIC)
		info->class = MT_CLASS_SHMEM;
	else
		info->class = MT_CLASS_FILE;
	return 0;
}

#include "stacks_peak.bpf.h"
#include "stacks_capture.bpf.h"

/*
 * A page fault of the current task at address. uregs are the user
 * registers: the fault's own for a user-mode fault, the syscall entry's
 * (bpf_task_pt_regs) for a kernel-mode fault on user memory (flags).
 */
static __always_inline int fault_body(void *ctx, unsigned long address, struct pt_regs *uregs,
				      __u32 flags)
{
	struct vma_info info = { .address = address, .class = MT_CLASS_ANON };
	struct mt_tracked *t = current_tracked();
	__u64 weight = MT_PAGE_BYTES, mm, *epoch, n;
	struct task_struct *task;
	struct vma_cache *vc;
	__u32 zero = 0;
	__s64 bytes;

	if (!t)
		return 0;
	if (!t->brk)
		t->brk = mt_current_brk(); /* a process tracked by PID: its break, once */
	if (!(event_mask & MT_EVMASK(MT_EV_FAULT)))
		return 0;
	if (!sample_hit(MT_EV_FAULT))
		return 0;
	count(MT_SC_SAMPLED);
	if (flags & MT_USTACK_EV_KERNEL_FAULT)
		count(MT_SC_KFAULTS);
	task = bpf_get_current_task_btf();
	mm = (__u64)task->mm;
	vc = bpf_map_lookup_elem(&vmacache, &zero);
	epoch = bpf_map_lookup_elem(&vma_epoch, &zero);
	if (vc && epoch && vc->valid && vc->mm == mm && vc->epoch == *epoch &&
	    address >= vc->start && address < vc->end) {
		info.class = vc->class;
		info.thp = vc->thp;
	} else if (bpf_find_vma(task, address, vma_cb, &info, 0)) {
		count(MT_SC_VMA_BUSY);
	} else if (vc && epoch) {
		vc->mm = mm;
		vc->start = info.start;
		vc->end = info.end;
		vc->epoch = *epoch;
		vc->class = info.class;
		/* THP eligibility depends on the 2 MiB block: cache only the 4 KiB answer */
		vc->thp = 0;
		vc->valid = !info.thp;
	}
	if (info.thp)
		weight = MT_THP_BYTES;
	account(ctx, uregs, t->gen, MT_EV_FAULT, info.class, weight * sample_every, sample_every);
	if (unwind_mode == MT_UNWIND_DWARF &&
	    fault_sampled(weight * sample_every, sample_every, &n, &bytes))
		capture(uregs, flags, t->gen, MT_EV_FAULT, info.class, n, bytes, 0);
	return 0;
}

static __always_inline int on_fault(void *ctx, unsigned long address, struct pt_regs *uregs,
				    __u32 flags)
{
	set_busy(1);
	fault_body(ctx, address, uregs, flags);
	set_busy(0);
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(stk_fault, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return on_fault(ctx, address, regs, 0);
}

/* where BTF lacks the tracepoint: same arguments, raw */
SEC("raw_tp/page_fault_user")
int BPF_PROG(stk_fault_raw, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return on_fault(ctx, address, regs, 0);
}

/*
 * The kernel faulting on user memory for the task (read() into a fresh
 * buffer, recv()): growth of the process, charged to the user call site of
 * the syscall. Kernel addresses (vmalloc faults) are not the process's.
 */
static __always_inline int on_kernel_fault(void *ctx, unsigned long address)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 zero = 0, *busy = bpf_map_lookup_elem(&inprog, &zero);

	if (address >= USER_LIMIT)
		return 0;
	/*
	 * Our own reads of user memory (bpf_probe_read_user, bpf_get_stack's
	 * walk) fault with page faults disabled and bring nothing in: not
	 * growth. The kernel's own nofault copies (read() into a fresh buffer
	 * on 6.x: a nofault copy, then a fault-in through GUP, which takes no
	 * exception) stand for the page the fault-in then brings in.
	 */
	if (!busy || *busy)
		return 0;
	return on_fault(ctx, address, (struct pt_regs *)bpf_task_pt_regs(task),
			MT_USTACK_EV_KERNEL_FAULT);
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(stk_kfault, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return on_kernel_fault(ctx, address);
}

SEC("raw_tp/page_fault_kernel")
int BPF_PROG(stk_kfault_raw, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return on_kernel_fault(ctx, address);
}

/*
 * The last rung: a software page-fault perf event on every CPU, where the
 * exceptions tracepoints do not exist (every arch but x86). It sees the
 * faults of both modes; regs are the faulting context's.
 */
SEC("perf_event")
int stk_fault_perf(struct bpf_perf_event_data *ctx)
{
	/*
	 * ctx is the kernel's bpf_perf_event_data_kern: only direct loads of
	 * ctx->regs are rewritten to the faulting registers, a probe read
	 * through &ctx->regs reads the stack beside ctx. The helpers below
	 * take the kernel's own pointer (arm64's user_pt_regs begins pt_regs).
	 */
	struct pt_regs *regs =
	    (struct pt_regs *)BPF_CORE_READ((struct bpf_perf_event_data_kern *)ctx, regs);
	__u64 address = ctx->addr;
	bool user;

	if (address >= USER_LIMIT)
		return 0;
#if defined(__TARGET_ARCH_x86)
	user = (BPF_CORE_READ(regs, cs) & 3) == 3;
#elif defined(__TARGET_ARCH_arm64)
	user = (BPF_CORE_READ(regs, pstate) & 0xf) == 0; /* EL0t */
#else
	user = true;
#endif
	if (!user)
		return on_kernel_fault(ctx, address);
	return on_fault(ctx, address, regs, 0);
}

static __always_inline void note(__u32 type, __u32 tgid, __u32 ppid, __u32 gen)
{
	struct mt_note *n = bpf_ringbuf_reserve(&notes, sizeof(*n), 0);

	if (!n) {
		count(MT_SC_NOTES_FULL);
		return;
	}
	n->ts_ns = bpf_ktime_get_boot_ns();
	n->type = type;
	n->tgid = tgid;
	n->ppid = ppid;
	n->gen = gen;
	bpf_ringbuf_submit(n, 0);
}

/* The executable mapping at an address, for an MT_NOTE_VMA. */
struct vma_rec {
	__u64 start, end, pgoff, ino, file;
	__u32 dev;
	__u32 found;
};

static long vma_rec_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_rec *r = data;
	struct file *file = BPF_CORE_READ(vma, vm_file);

	if (!file)
		return 0;
	r->start = BPF_CORE_READ(vma, vm_start);
	r->end = BPF_CORE_READ(vma, vm_end);
	r->pgoff = BPF_CORE_READ(vma, vm_pgoff) << 12;
	r->ino = BPF_CORE_READ(file, f_inode, i_ino);
	r->dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	r->file = (__u64)file;
	r->found = 1;
	return 0;
}

/*
 * Reports the file mapping at addr of the current process, so that a
 * process gone before user space read its maps still symbolizes. name is
 * a kernel string (exec's paths), or NULL for the file's own name.
 */
static __always_inline void note_vma(__u64 addr, __u32 kind, const char *name, __u32 gen)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct vma_rec r = {};
	struct mt_vma_note *n;

	if (bpf_find_vma(task, addr, vma_rec_cb, &r, 0) || !r.found)
		return;
	n = bpf_ringbuf_reserve(&notes, sizeof(*n), 0);
	if (!n) {
		count(MT_SC_NOTES_FULL);
		return;
	}
	n->hdr.ts_ns = bpf_ktime_get_boot_ns();
	n->hdr.type = MT_NOTE_VMA;
	n->hdr.tgid = bpf_get_current_pid_tgid() >> 32;
	n->hdr.ppid = 0;
	n->hdr.gen = gen;
	n->start = r.start;
	n->end = r.end;
	n->pgoff = r.pgoff;
	n->ino = r.ino;
	n->dev = r.dev;
	n->kind = kind;
	n->name[0] = '\0';
	if (!name) {
		struct file *file = (struct file *)r.file;

		name = (const char *)BPF_CORE_READ(file, f_path.dentry, d_name.name);
	}
	bpf_probe_read_kernel_str(n->name, sizeof(n->name), name);
	bpf_ringbuf_submit(n, 0);
}

/*
 * Mapping, unmapping and remapping end every CPU's VMA cache (vma_epoch);
 * what can move the end of a stack's VMA (unmapping, remapping, a fixed
 * mapping) ends the stack captures' too. At the exit, once the change is
 * made: a fault between an entry's bump and the change could cache the old
 * VMA again under the new epoch.
 */
static __always_inline void vma_changed(struct pt_regs *regs, long nr)
{
	__u32 zero = 0;
	__u64 *epoch;

	if (nr == nr_brk)
		return;
	epoch = bpf_map_lookup_elem(&vma_epoch, &zero);
	if (epoch)
		__sync_fetch_and_add(epoch, 1);
	if (nr == nr_munmap || nr == nr_mremap || nr == nr_shmdt ||
	    (nr == nr_mmap && (PT_REGS_PARM4_CORE_SYSCALL(regs) & MAP_FIXED))) {
		epoch = bpf_map_lookup_elem(&stk_epoch, &zero);
		if (epoch)
			__sync_fetch_and_add(epoch, 1);
	}
}

static __always_inline int sys_exit_body(void *ctx, struct pt_regs *regs, long nr, long ret)
{
	struct mt_syscall_args in;
	struct mt_tracked *t;
	__u64 old_brk, brk;
	__u8 class;

	t = current_tracked();
	if (!t)
		return 0;
	vma_changed(regs, nr);
	if (nr == nr_brk) {
		/* every brk moves the record of the break, refused or not (see syscalls.bpf.h) */
		mt_brk_move(&t->brk, &old_brk, &brk);
		if (!old_brk && (__u64)ret == PT_REGS_PARM1_CORE_SYSCALL(regs))
			count(MT_SC_INFLIGHT_FULL);
	}
	if (ret < 0 && ret >= -MAX_ERRNO)
		return 0;

	if (nr == nr_mmap) {
		mt_syscall_args(regs, nr, &in);
		if (in.prot & PROT_EXEC) {
			note(MT_NOTE_MAPS, bpf_get_current_pid_tgid() >> 32, 0, t->gen);
			note_vma(ret, MT_VMA_MMAP, NULL, t->gen);
		}
		if (!(event_mask & MT_EVMASK(MT_EV_MMAP)) || !sample_hit(MT_EV_MMAP))
			return 0;
		count(MT_SC_SAMPLED);
		if (!(in.flags & MAP_ANONYMOUS))
			class = MT_CLASS_FILE;
		else if (in.flags & MAP_SHARED)
			class = MT_CLASS_SHMEM;
		else
			class = MT_CLASS_ANON;
		account(ctx, regs, t->gen, MT_EV_MMAP, class, mt_page_align(in.len) * sample_every,
			sample_every);
		if (unwind_mode == MT_UNWIND_DWARF)
			capture(regs, 0, t->gen, MT_EV_MMAP, class, sample_every,
				mt_page_align(in.len) * sample_every, 0);
	} else if (nr == nr_brk && old_brk && brk > old_brk) {
		if (!(event_mask & MT_EVMASK(MT_EV_BRK)) || !sample_hit(MT_EV_BRK))
			return 0;
		count(MT_SC_SAMPLED);
		account(ctx, regs, t->gen, MT_EV_BRK, MT_CLASS_ANON, (brk - old_brk) * sample_every,
			sample_every);
		if (unwind_mode == MT_UNWIND_DWARF)
			capture(regs, 0, t->gen, MT_EV_BRK, MT_CLASS_ANON, sample_every,
				(brk - old_brk) * sample_every, 0);
	}
	return 0;
}

/*
 * nr: the syscall's number, or -1 where the architecture does not say;
 * every syscall on the machine passes here, and nothing else runs for it
 * (no sys_enter program), so others leave first.
 */
static __always_inline int on_sys_exit(void *ctx, struct pt_regs *regs, long nr, long ret)
{
	if (!mt_syscall_counted(nr) && nr != nr_shmat && nr != nr_shmdt)
		return 0;
	set_busy(1);
	sys_exit_body(ctx, regs, nr, ret);
	set_busy(0);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(stk_sys_exit, struct pt_regs *regs, long ret)
{
	return on_sys_exit(ctx, regs, syscall_nr_btf(regs), ret);
}

/* where BTF lacks the tracepoint: same arguments, raw */
SEC("raw_tp/sys_exit")
int BPF_PROG(stk_sysexit_raw, struct pt_regs *regs, long ret)
{
	return on_sys_exit(ctx, regs, syscall_nr_raw(regs), ret);
}

/*
 * The tracepoint rung: the kernel's syscalls:sys_exit_* events through perf
 * events (the loader finds their ids), so that no other syscall runs a
 * program; the user's registers from the task (see syscalls.bpf.h).
 */
static __always_inline int on_tp_exit(struct mt_sys_exit_tp *ctx, long nr)
{
	set_busy(1);
	sys_exit_body(ctx, mt_user_regs(), nr, ctx->ret);
	set_busy(0);
	return 0;
}

SEC("tracepoint")
int stk_mmap_tp(struct mt_sys_exit_tp *ctx)
{
	return on_tp_exit(ctx, nr_mmap);
}

SEC("tracepoint")
int stk_munmap_tp(struct mt_sys_exit_tp *ctx)
{
	return on_tp_exit(ctx, nr_munmap);
}

SEC("tracepoint")
int stk_mremap_tp(struct mt_sys_exit_tp *ctx)
{
	return on_tp_exit(ctx, nr_mremap);
}

SEC("tracepoint")
int stk_brk_tp(struct mt_sys_exit_tp *ctx)
{
	return on_tp_exit(ctx, nr_brk);
}

SEC("tracepoint")
int stk_shmat_tp(struct mt_sys_exit_tp *ctx)
{
	return on_tp_exit(ctx, nr_shmat);
}

SEC("tracepoint")
int stk_shmdt_tp(struct mt_sys_exit_tp *ctx)
{
	return on_tp_exit(ctx, nr_shmdt);
}

static __always_inline int on_fork(void *ctx, struct task_struct *parent, struct task_struct *child)
{
	__u32 child_tgid = BPF_CORE_READ(child, tgid);
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	struct mt_tracked init = { .brk = BPF_CORE_READ(child, mm, brk) };

	if (!follow_forks || BPF_CORE_READ(child, pid) != child_tgid)
		return 0; /* a thread belongs to a process already traced or not */
	if (BPF_CORE_READ(child, flags) & PF_KTHREAD)
		return 0;
	if (!bpf_map_lookup_elem(&tracked, &parent_tgid))
		return 0;
	if (bpf_map_update_elem(&tracked, &child_tgid, &init, BPF_ANY)) {
		count(MT_SC_TRACKED_FULL);
		return 0;
	}
	note(MT_NOTE_FORK, child_tgid, parent_tgid, 0);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(stk_fork, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(ctx, parent, child);
}

/* where BTF lacks the tracepoint: same arguments, raw */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(stk_fork_raw, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(ctx, parent, child);
}

static __always_inline int on_exec(void *ctx, struct task_struct *task, pid_t old_pid,
				   struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct mt_tracked *t = bpf_map_lookup_elem(&tracked, &tgid);

	struct task_struct *cur = bpf_get_current_task_btf();
	__u64 code = BPF_CORE_READ(cur, mm, start_code),
	      code_end = BPF_CORE_READ(cur, mm, end_code);
	struct pt_regs *regs;
	__u64 ip;

	if (!t)
		return 0;
	t->gen++;
	t->brk = BPF_CORE_READ(task, mm, brk); /* the new image's break */
	note(MT_NOTE_EXEC, tgid, 0, t->gen);
	/* the program's text, and the interpreter's: the new image starts there */
	note_vma(code, MT_VMA_PROGRAM, BPF_CORE_READ(bprm, filename), t->gen);
	regs = (struct pt_regs *)bpf_task_pt_regs(cur);
	ip = PT_REGS_IP_CORE(regs);
	if (ip < code || ip >= code_end)
		note_vma(ip, MT_VMA_INTERP, BPF_CORE_READ(bprm, interp), t->gen);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(stk_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return on_exec(ctx, task, old_pid, bprm);
}

/* where BTF lacks the tracepoint: same arguments, raw */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(stk_exec_raw, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return on_exec(ctx, task, old_pid, bprm);
}

static __always_inline int on_exit(void *ctx, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct mt_tracked *t;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* other threads live on */
	t = bpf_map_lookup_elem(&tracked, &tgid);
	if (!t)
		return 0;
	note(MT_NOTE_EXIT, tgid, 0, t->gen);
	bpf_map_delete_elem(&tracked, &tgid);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(stk_exit, struct task_struct *task)
{
	return on_exit(ctx, task);
}

/* where BTF lacks the tracepoint: same arguments, raw */
SEC("raw_tp/sched_process_exit")
int BPF_PROG(stk_exit_raw, struct task_struct *task)
{
	return on_exit(ctx, task);
}

#include "stacks_malloc.bpf.h"

char LICENSE[] SEC("license") = "GPL";
