/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the loaders of both BPF objects (src/tracer.c, src/stacks.c) share:
 * the attach ladder (tp_btf where BTF has the tracepoint, else raw_tp; a
 * software perf event for page faults where no tracepoint exists), the
 * retry of a refused load with raw tracepoints, checked map sizing and a
 * list of links to destroy. The path taken is logged at -v; libbpf's
 * verifier logs only at -vv (log.c).
 */
#ifndef MEMTRACE_BPF_LOADER_H
#define MEMTRACE_BPF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_program;
struct bpf_map;
struct bpf_link;

/* One tracepoint carried by two programs: the tp_btf one and the raw_tp one. */
struct mt_tp_pair {
	const char *tp;
	struct bpf_program *btf, *raw;
};

/*
 * Before load: switches on one half of each pair (tp_btf unless force_raw
 * or BTF lacks the tracepoint) and appends "tp: tp_btf" items to
 * summary[len] at *used (", "-separated).
 */
void mt_ladder_choose(const struct mt_tp_pair *pairs, size_t n, bool force_raw, char *summary,
		      size_t len, size_t *used);

/* The half of a pair that was chosen (and loaded). */
struct bpf_program *mt_ladder_chosen(const struct mt_tp_pair *pair);

/* Links to destroy together; zero-initialised is empty. */
struct mt_links {
	struct bpf_link **v;
	size_t n, cap;
};

/* Takes ownership of link (destroys it on -ENOMEM). */
int mt_links__add(struct mt_links *l, struct bpf_link *link);
void mt_links__destroy(struct mt_links *l); /* empty is fine */

/* Attaches the chosen half of each pair; one line on failure; 0 or -errno. */
int mt_ladder_attach(const struct mt_tp_pair *pairs, size_t n, struct mt_links *links);

/*
 * prog on a software page-fault perf event (period 1) on every online CPU:
 * the rung for kernels and arches without the exceptions:page_fault_user
 * tracepoint (arm64 among them); it also sees the faults the kernel takes
 * on user memory. Links go to links; 0 or -errno after one line.
 */
int mt_attach_perf_faults(struct bpf_program *prog, struct mt_links *links);

/*
 * prog on the classic tracepoint event id (from tracefs_ids__get()): one
 * perf event on CPU 0 for no task, which runs a BPF program on every CPU.
 * what names the event in the one line on failure. The link owns the perf
 * event; NULL with errno set on failure.
 */
struct bpf_link *mt_attach_tp_id(struct bpf_program *prog, uint32_t id, const char *what);

/* bpf_map__set_max_entries with a message naming what and why: 0 or -errno. */
int mt_set_max_entries(struct bpf_map *map, uint32_t entries, const char *what);

/*
 * open + configure + load through try_load(ctx, force_raw), and once more
 * with raw tracepoints when a kernel lists btf_trace_* yet refuses them,
 * inside a heap hold (try_load calls features__release() once configured,
 * before its load); the probes' BTF is released at the end.
 * try_load must leave nothing behind when it fails. what names the object
 * in messages ("tracer", "stacks"). 0 or -errno after one line.
 */
int mt_bpf_load(const char *what, int (*try_load)(void *ctx, bool force_raw), void *ctx,
		bool force_raw);

/*
 * Start-up keeps what it frees in the heap, then gives it back at once.
 * The feature probes' vmlinux BTF (kfeatures.h) and libbpf's own copy at
 * load are megabytes each: freed between the two (features__release()),
 * the second parse reuses the pages of the first. On a host with shadow
 * paging a page first touched costs more than parsing it (11-20 us each),
 * so the heap they come from is also offered transparent huge pages, one
 * fault for 2 MiB. From begin on, glibc serves allocations up to 18 MiB
 * from the heap and trims it only past 36 MiB free (its own dynamic
 * thresholds, raised as by any large block freed; they stay so); end
 * trims it once (the freed pages leave our RSS). Call end before
 * attaching anything: the heap must not shrink once we may be traced
 * (tracer.c). end does nothing for a hold never begun ({}).
 */
struct mt_heap_hold {
	char *huge; /* the range offered huge pages, or NULL */
	size_t len;
	void *pad; /* holds the heap below huge, so that allocations start there */
	bool held;
};

void mt_heap_hold__begin(struct mt_heap_hold *h);
void mt_heap_hold__end(struct mt_heap_hold *h);

/*
 * After the last open of a skeleton: drops from our page tables the pages
 * of its embedded ELF image (data, sz: the skeleton's *__elf_bytes()),
 * which libbpf read at open and never reads again. They are pages of our
 * executable's read-only file mapping, so a later read (another open)
 * faults them back from the page cache, unchanged; until then they are
 * not in our RSS (issue 14: up to 0.6 MiB of `top`'s).
 */
void mt_skel_release_elf(const void *data, size_t sz);

#endif /* MEMTRACE_BPF_LOADER_H */
