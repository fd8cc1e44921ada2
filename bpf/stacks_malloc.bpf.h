/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The --malloc uprobes of bpf/stacks.bpf.c. Included once, by stacks.bpf.c,
 * after account() and its maps: a part of that object in its own file.
 */
#ifndef MEMTRACE_STACKS_MALLOC_BPF_H
#define MEMTRACE_STACKS_MALLOC_BPF_H

/*
 * --malloc: the stack is taken at the allocator's entry (its caller comes
 * back through the leaf fix: the return address is the top word) and the
 * bytes are counted when it returns a pointer; free takes them back.
 *
 * --unwind dwarf: the bytes go to the (tgid, gen, malloc) bucket under
 * -ENODATA, exact, frees included; allocations are captured (registers and
 * stack at the allocator's entry) at a mean of one per --sample-bytes
 * allocated, each standing for the bytes allocated since the previous one
 * on its CPU. report shares the bucket's outstanding bytes by those.
 *
 * The uprobes are attached per traced process (src/stacks.c), so others
 * never trap; a call from an untraced process that reaches a program
 * anyway (a thread of another process sharing the mm, a fork not yet
 * untracked) is counted in mstat and ignored first thing.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 /* MSTAT_NR */);
	__type(key, __u32);
	__type(value, __u64);
} mstat SEC(".maps");

/* Capture ids of --malloc: 0 means none */
__u64 malloc_capture_seq = 0;

/* Index of mstat: per-CPU counts of the allocator programs (not in the recording's counters). */
enum { MSTAT_FILTERED = 0, MSTAT_RELEASE_LOST = 1, MSTAT_NR };

/*
 * The capture id was freed: tell user space, which drops that capture. A
 * full ring loses the release, counted: the capture then still stands for
 * its bytes (report shares the exact total by the captures left).
 */
static __always_inline void release_capture(__u64 id, __u32 gen)
{
	struct mt_ustack_event *e;
	__u32 lost = MSTAT_RELEASE_LOST;
	__u64 *n;

	if (!id)
		return;
	e = bpf_ringbuf_reserve(&ustacks, sizeof(*e), 0);
	if (!e) {
		n = bpf_map_lookup_elem(&mstat, &lost);
		if (n)
			*n += 1;
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	e->gen = gen;
	e->event = MT_EV_MALLOC;
	e->flags = MT_USTACK_EV_RELEASE;
	e->id = id;
	mpeak_fill(&e->image_peak, &e->all_peak, e->tgid, gen);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* The traced process of the current task, or NULL after counting the call as filtered. */
static __always_inline struct mt_tracked *malloc_tracked(void)
{
	struct mt_tracked *t = current_tracked();
	__u32 filtered = MSTAT_FILTERED;
	__u64 *n;

	if (t)
		return t;
	n = bpf_map_lookup_elem(&mstat, &filtered);
	if (n)
		*n += 1;
	return NULL;
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32); /* tid */
	__type(value, struct mt_alloc);
} allocflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_DEFAULT_MAX_ALLOCS);
	__type(key, struct mt_alloc_key);
	__type(value, struct mt_alloc);
} allocs SEC(".maps");

/* Malloc weight without a key of its own (the per-CPU sums add up across CPUs). */
static __always_inline void over_add(__u8 class, __s64 n, __s64 bytes)
{
	__u32 slot = (__u32)MT_EV_MALLOC * MT_CLASS_NR + class;
	struct agg_over *over = bpf_map_lookup_elem(&aggover, &slot);

	if (over) {
		over->count += n;
		over->bytes += bytes;
	}
}

static __always_inline int alloc_enter_body(struct pt_regs *ctx, __u64 size)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct mt_alloc in = {};
	struct mt_tracked *t = malloc_tracked();
	__u64 n;
	__s64 bytes;

	if (!t)
		return 0;
	/* nested calls (calloc → malloc, malloc → mmap) count once, at the outer one */
	if (bpf_map_lookup_elem(&allocflight, &tid))
		return 0;
	in.size = size;
	in.key.gen = t->gen;
	in.key.event = MT_EV_MALLOC;
	in.key.tgid = bpf_get_current_pid_tgid() >> 32;
	count(MT_SC_EVENTS);
	if (unwind_mode == MT_UNWIND_DWARF) {
		struct mt_alloc *fl;
		__u64 id;

		in.key.stack = MT_STACK_NODATA;
		if (bpf_map_update_elem(&allocflight, &tid, &in, BPF_ANY)) {
			count(MT_SC_INFLIGHT_FULL);
			return 0;
		}
		if (!bytes_sampled(SMP_MALLOC, size, 1, &n, &bytes))
			return 0;
		id = __sync_fetch_and_add(&malloc_capture_seq, 1) + 1;
		fl = bpf_map_lookup_elem(&allocflight, &tid);
		if (fl && capture(ctx, 0, t->gen, MT_EV_MALLOC, MT_CLASS_NONE, n, bytes, id))
			fl->capture = id;
		return 0;
	}
	in.key.stack = take_stack(ctx);
	if (bpf_map_update_elem(&allocflight, &tid, &in, BPF_ANY)) {
		count(MT_SC_INFLIGHT_FULL);
		return 0;
	}
	/* seed the key's leaf words from the entry registers */
	if (!bpf_map_lookup_elem(&agg, &in.key)) {
		struct mt_stack_val init = {};
		__u64 sp = PT_REGS_SP(ctx);

		init.leaf_ip = PT_REGS_IP(ctx);
		init.leaf_sp = sp;
		if (!bpf_probe_read_user(init.leaf_words, sizeof(init.leaf_words), (void *)sp))
			init.leaf_nr = MT_LEAF_WORDS;
		if (bpf_map_update_elem(&agg, &in.key, &init, BPF_NOEXIST) == -E2BIG)
			count(MT_SC_KEYS_FULL);
	}
	return 0;
}

static __always_inline int alloc_enter(struct pt_regs *ctx, __u64 size)
{
	set_busy(1);
	alloc_enter_body(ctx, size);
	set_busy(0);
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);   /* tid */
	__type(value, __u64); /* posix_memalign's memptr */
} memptrs SEC(".maps");

static __always_inline void alloc_forget(__u64 addr)
{
	struct mt_alloc_key ak = { .addr = addr, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct mt_alloc *a = bpf_map_lookup_elem(&allocs, &ak);
	struct mt_stack_val *val;

	if (!a) {
		count(MT_SC_FREE_UNKNOWN);
		return;
	}
	val = bpf_map_lookup_elem(&agg, &a->key);
	if (val) {
		__sync_fetch_and_add(&val->count, -1);
		__sync_fetch_and_add(&val->bytes, -(__s64)a->size);
	} else {
		over_add(a->key.class, -1, -(__s64)a->size); /* counted there when it came */
	}
	mpeak_update(a->key.tgid, a->key.gen, -(__s64)a->size, -1);
	release_capture(a->capture, a->key.gen);
	bpf_map_delete_elem(&allocs, &ak);
}

/*
 * One more block of size bytes on key. The fp mode made the key at the
 * allocator's entry (with its leaf words); the dwarf mode's bucket is made
 * here. A full map keeps the bytes in the totals, as account() does; a
 * free of such a block then finds no key and takes nothing back there.
 */
static __always_inline void add_outstanding(struct mt_stack_key *key, __u64 size)
{
	struct mt_stack_val *val;
	bool created;

	mpeak_update(key->tgid, key->gen, size, 1);
	val = mt_lookup_or_init(&agg, key, &zero_val, &created);
	if (val) {
		__sync_fetch_and_add(&val->count, 1);
		__sync_fetch_and_add(&val->bytes, size);
		return;
	}
	count(MT_SC_KEYS_FULL);
	over_add(key->class, 1, size);
}

static __always_inline int alloc_exit(__u64 addr)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct mt_alloc *in = bpf_map_lookup_elem(&allocflight, &tid);
	struct mt_alloc_key ak = {};

	if (!in)
		return 0;
	if (addr && addr != (__u64)-1) {
		ak.addr = addr;
		ak.tgid = in->key.tgid;
		if (bpf_map_update_elem(&allocs, &ak, in, BPF_ANY)) {
			count(MT_SC_ALLOCS_FULL);
			release_capture(in->capture,
					in->key.gen); /* not counted: stands for nothing */
		} else {
			add_outstanding(&in->key, in->size);
		}
	} else {
		release_capture(in->capture, in->key.gen); /* the allocation failed */
	}
	bpf_map_delete_elem(&allocflight, &tid);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(stk_malloc, __u64 size)
{
	return alloc_enter(ctx, size);
}

SEC("uretprobe")
int BPF_KRETPROBE(stk_malloc_ret, void *ret)
{
	return alloc_exit((__u64)ret);
}

SEC("uprobe")
int BPF_KPROBE(stk_calloc, __u64 n, __u64 size)
{
	return alloc_enter(ctx, n * size);
}

SEC("uprobe")
int BPF_KPROBE(stk_realloc, void *old, __u64 size)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!malloc_tracked() || bpf_map_lookup_elem(&allocflight, &tid))
		return 0;
	/* realloc moves or resizes: the old block is gone either way when it succeeds */
	if (old)
		alloc_forget((__u64)old);
	return alloc_enter(ctx, size);
}

SEC("uprobe")
int BPF_KPROBE(stk_aligned, __u64 align, __u64 size)
{
	return alloc_enter(ctx, size);
}

SEC("uprobe")
int BPF_KPROBE(stk_memalign, void **memptr, __u64 align, __u64 size)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 where = (__u64)memptr;

	if (!malloc_tracked() || bpf_map_lookup_elem(&allocflight, &tid))
		return 0;
	bpf_map_update_elem(&memptrs, &tid, &where, BPF_ANY);
	return alloc_enter(ctx, size);
}

SEC("uretprobe")
int BPF_KRETPROBE(stk_memalign_ret, int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *where = bpf_map_lookup_elem(&memptrs, &tid);
	__u64 addr = 0;

	if (where) {
		if (ret == 0)
			bpf_probe_read_user(&addr, sizeof(addr), (void *)*where);
		bpf_map_delete_elem(&memptrs, &tid);
	}
	return alloc_exit(addr);
}

SEC("uprobe")
int BPF_KPROBE(stk_mmap, void *addr, __u64 len)
{
	return alloc_enter(ctx, mt_page_align(len));
}

SEC("uprobe")
int BPF_KPROBE(stk_free, void *addr)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!addr || !malloc_tracked() || bpf_map_lookup_elem(&allocflight, &tid))
		return 0;
	alloc_forget((__u64)addr);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(stk_munmap, void *addr)
{
	struct mt_alloc_key ak = { .addr = (__u64)addr };
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!malloc_tracked() || bpf_map_lookup_elem(&allocflight, &tid))
		return 0;
	/* munmap of memory malloc did not hand out is normal: no loss counted */
	ak.tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&allocs, &ak))
		alloc_forget((__u64)addr);
	return 0;
}

#endif /* MEMTRACE_STACKS_MALLOC_BPF_H */
