/* SPDX-License-Identifier: GPL-2.0 */
/*
 * BPF-side helpers both objects (tracer.bpf.c, stacks.bpf.c) use: per-CPU
 * loss counters, lookup-or-init of aggregation entries, page alignment.
 * Include after vmlinux.h and bpf_helpers.h.
 */
#ifndef MEMTRACE_MAPS_BPF_H
#define MEMTRACE_MAPS_BPF_H

#ifndef EEXIST
#define EEXIST 17
#endif

#define MT_PAGE_SIZE 4096ULL

/* len rounded up to whole pages, as mmap and brk count it */
static __always_inline __u64 mt_page_align(__u64 len)
{
	return (len + MT_PAGE_SIZE - 1) & ~(MT_PAGE_SIZE - 1);
}

/*
 * Bumps slot idx of a BPF_MAP_TYPE_PERCPU_ARRAY of __u64 counters: this
 * CPU's slot, so no atomic is needed. Every loss goes through here.
 */
static __always_inline void mt_percpu_inc(void *map, __u32 idx)
{
	__u64 *val = bpf_map_lookup_elem(map, &idx);

	if (val)
		*val += 1;
}

/* As mt_percpu_inc, by n (bytes of a loss, for example). */
static __always_inline void mt_percpu_add(void *map, __u32 idx, __u64 n)
{
	__u64 *val = bpf_map_lookup_elem(map, &idx);

	if (val)
		*val += n;
}

/*
 * The entry of key, created from init when missing (BPF_NOEXIST, so a
 * racing creator wins and both see its entry). *created says whether this
 * call made it. NULL when the map is full: the caller counts the loss.
 */
static __always_inline void *mt_lookup_or_init(void *map, const void *key, const void *init,
					       bool *created)
{
	void *val = bpf_map_lookup_elem(map, key);
	long err;

	*created = false;
	if (val)
		return val;
	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (err && err != -EEXIST)
		return NULL;
	*created = !err;
	return bpf_map_lookup_elem(map, key);
}

#endif /* MEMTRACE_MAPS_BPF_H */
