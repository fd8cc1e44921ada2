/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The heap peaks of --malloc in bpf/stacks.bpf.c: outstanding bytes and
 * blocks per process image and over every traced process, with the
 * highest value so far (struct mt_mpeak). Included once, by stacks.bpf.c,
 * before the captures, which carry the peaks known when they are made.
 */
#ifndef MEMTRACE_STACKS_PEAK_BPF_H
#define MEMTRACE_STACKS_PEAK_BPF_H

/* Never deleted: the harvest reads every image's peak, exited or not. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * MT_DEFAULT_MAX_TRACKED);
	__type(key, __u64); /* tgid << 32 | gen */
	__type(value, struct mt_mpeak);
} mpeak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_mpeak);
} mpeakall SEC(".maps");

static const struct mt_mpeak mpeak_zero;

/*
 * The atomic add orders every allocation and free of p; its result is the
 * outstanding total right after this one, so the highest result is the
 * exact peak. The peak itself moves by compare-and-swap; a race lost
 * MPEAK_TRIES times in a row is counted (the peak may be short by it).
 */
#define MPEAK_TRIES 4

static __always_inline void mpeak_add(struct mt_mpeak *p, __s64 bytes, __s64 blocks)
{
	__s64 now = __sync_fetch_and_add(&p->live_bytes, bytes) + bytes;
	__s64 nblocks = __sync_fetch_and_add(&p->live_blocks, blocks) + blocks;
	__s64 old = p->peak_bytes;

	for (int i = 0; i < MPEAK_TRIES && now > old; i++) {
		__s64 seen = __sync_val_compare_and_swap(&p->peak_bytes, old, now);

		if (seen == old) {
			p->peak_blocks = nblocks;
			p->peak_ns = bpf_ktime_get_ns();
			return;
		}
		old = seen;
	}
	if (now > old)
		__sync_fetch_and_add(&p->races, 1);
}

/* bytes and blocks more (fewer, when negative) outstanding in image (tgid, gen). */
static __always_inline void mpeak_update(__u32 tgid, __u32 gen, __s64 bytes, __s64 blocks)
{
	__u64 key = (__u64)tgid << 32 | gen;
	struct mt_mpeak *p;
	__u32 zero = 0;
	bool created;

	/* a full map leaves this image without a peak (report: unknown), not the others */
	p = mt_lookup_or_init(&mpeak, &key, &mpeak_zero, &created);
	if (p)
		mpeak_add(p, bytes, blocks);
	p = bpf_map_lookup_elem(&mpeakall, &zero);
	if (p)
		mpeak_add(p, bytes, blocks);
}

/* The peaks of image (tgid, gen) and of all, as they stand: 0 before anything was counted. */
static __always_inline void mpeak_fill(__s64 *image_peak, __s64 *all_peak, __u32 tgid, __u32 gen)
{
	__u64 key = (__u64)tgid << 32 | gen;
	struct mt_mpeak *p = bpf_map_lookup_elem(&mpeak, &key);
	__u32 zero = 0;

	*image_peak = p ? p->peak_bytes : 0;
	p = bpf_map_lookup_elem(&mpeakall, &zero);
	*all_peak = p ? p->peak_bytes : 0;
}

#endif /* MEMTRACE_STACKS_PEAK_BPF_H */
