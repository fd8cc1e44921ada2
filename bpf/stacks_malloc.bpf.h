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
 */
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

static __always_inline int alloc_enter_body(struct pt_regs *ctx, __u64 size)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct mt_alloc in = {};
	struct mt_tracked *t = current_tracked();

	if (!t)
		return 0;
	/* nested calls (calloc → malloc, malloc → mmap) count once, at the outer one */
	if (bpf_map_lookup_elem(&allocflight, &tid))
		return 0;
	in.size = size;
	in.key.gen = t->gen;
	in.key.event = MT_EV_MALLOC;
	in.key.tgid = bpf_get_current_pid_tgid() >> 32;
	in.key.stack = take_stack(ctx);
	count(MT_SC_EVENTS);
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
	}
	bpf_map_delete_elem(&allocs, &ak);
}

static __always_inline int alloc_exit(__u64 addr)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct mt_alloc *in = bpf_map_lookup_elem(&allocflight, &tid);
	struct mt_alloc_key ak = {};
	struct mt_stack_val *val;

	if (!in)
		return 0;
	if (addr && addr != (__u64)-1) {
		ak.addr = addr;
		ak.tgid = in->key.tgid;
		if (bpf_map_update_elem(&allocs, &ak, in, BPF_ANY)) {
			count(MT_SC_ALLOCS_FULL);
		} else {
			val = bpf_map_lookup_elem(&agg, &in->key);
			if (val) {
				__sync_fetch_and_add(&val->count, 1);
				__sync_fetch_and_add(&val->bytes, in->size);
			} else {
				count(MT_SC_KEYS_FULL);
			}
		}
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

	if (!current_tracked() || bpf_map_lookup_elem(&allocflight, &tid))
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

	if (!current_tracked() || bpf_map_lookup_elem(&allocflight, &tid))
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

	if (!addr || !current_tracked() || bpf_map_lookup_elem(&allocflight, &tid))
		return 0;
	alloc_forget((__u64)addr);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(stk_munmap, void *addr)
{
	struct mt_alloc_key ak = { .addr = (__u64)addr };
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!current_tracked() || bpf_map_lookup_elem(&allocflight, &tid))
		return 0;
	/* munmap of memory malloc did not hand out is normal: no loss counted */
	ak.tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&allocs, &ak))
		alloc_forget((__u64)addr);
	return 0;
}

#endif /* MEMTRACE_STACKS_MALLOC_BPF_H */
