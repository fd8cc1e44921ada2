// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <bpf/libbpf.h>
#include "bpf_loader.h"
#include "kfeatures.h"
#include "log.h"

void mt_ladder_choose(const struct mt_tp_pair *pairs, size_t n, bool force_raw, char *summary,
		      size_t len, size_t *used)
{
	for (size_t i = 0; i < n; i++) {
		bool btf = !force_raw && features__have_tp_btf(pairs[i].tp);

		bpf_program__set_autoload(pairs[i].btf, btf);
		bpf_program__set_autoload(pairs[i].raw, !btf);
		if (summary && *used < len)
			*used +=
			    snprintf(summary + *used, len - *used, "%s%s: %s", *used ? ", " : "",
				     pairs[i].tp, btf ? "tp_btf" : "raw_tp");
	}
}

struct bpf_program *mt_ladder_chosen(const struct mt_tp_pair *pair)
{
	return bpf_program__autoload(pair->btf) ? pair->btf : pair->raw;
}

int mt_links__add(struct mt_links *l, struct bpf_link *link)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct bpf_link **v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			bpf_link__destroy(link);
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = link;
	return 0;
}

void mt_links__destroy(struct mt_links *l)
{
	for (size_t i = 0; i < l->n; i++)
		bpf_link__destroy(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int mt_ladder_attach(const struct mt_tp_pair *pairs, size_t n, struct mt_links *links)
{
	for (size_t i = 0; i < n; i++) {
		struct bpf_program *prog = mt_ladder_chosen(&pairs[i]);
		struct bpf_link *link = bpf_program__attach(prog);
		int err;

		if (!link) {
			err = -errno;
			mt_err("cannot attach %s: %s", bpf_program__section_name(prog),
			       strerror(-err));
			return err;
		}
		err = mt_links__add(links, link);
		if (err)
			return err;
	}
	return 0;
}

struct bpf_link *mt_attach_tp_id(struct bpf_program *prog, uint32_t id, const char *what)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(attr),
		.config = id,
	};
	int fd = syscall(__NR_perf_event_open, &attr, -1, 0 /* cpu */, -1, PERF_FLAG_FD_CLOEXEC);
	struct bpf_link *link;
	int err;

	if (fd < 0) {
		err = errno;
		mt_err("cannot open the perf event of %s (id %u): %s", what, id, strerror(err));
		errno = err;
		return NULL;
	}
	link = bpf_program__attach_perf_event(prog, fd);
	if (!link) {
		err = errno;
		close(fd);
		mt_err("cannot attach to %s: %s", what, strerror(err));
		errno = err;
	}
	return link;
}

int mt_attach_perf_faults(struct bpf_program *prog, struct mt_links *links)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_PAGE_FAULTS,
		.size = sizeof(attr),
		.sample_period = 1,
	};
	int ncpu = libbpf_num_possible_cpus(), attached = 0, err;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	for (int cpu = 0; cpu < ncpu; cpu++) {
		struct bpf_link *link;
		int fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			if (errno == ENODEV)
				continue; /* possible but offline CPU */
			err = -errno;
			mt_err("cannot open the page-fault perf event on cpu %d: %s", cpu,
			       strerror(-err));
			return err;
		}
		link = bpf_program__attach_perf_event(prog, fd);
		if (!link) {
			err = -errno;
			close(fd);
			mt_err("cannot attach to the page-fault perf event on cpu %d: %s", cpu,
			       strerror(-err));
			return err;
		}
		/* the link owns fd from here: bpf_link__destroy closes it */
		err = mt_links__add(links, link);
		if (err)
			return err;
		attached++;
	}
	return attached ? 0 : -ENODEV;
}

int mt_set_max_entries(struct bpf_map *map, uint32_t entries, const char *what)
{
	int err = bpf_map__set_max_entries(map, entries);

	if (err)
		mt_err("cannot size the %s map to %u entries: %s", what, entries, strerror(-err));
	return err;
}

int mt_bpf_load(const char *what, int (*try_load)(void *ctx, bool force_raw), void *ctx,
		bool force_raw)
{
	struct mt_heap_hold hold = {};
	int err;

	mt_heap_hold__begin(&hold);
	err = try_load(ctx, force_raw);
	if (err && !force_raw) {
		/* a kernel may list btf_trace_* yet refuse BTF tracepoints: try raw_tp */
		mt_info("loading the %s programs with BTF tracepoints failed (%s), retrying with "
			"raw tracepoints",
			what, strerror(-err));
		err = try_load(ctx, true);
	}
	features__release();
	mt_heap_hold__end(&hold);
	if (err)
		mt_err(
		    "cannot load the %s BPF programs: %s (run as root, on a kernel with BTF; -vv "
		    "shows the verifier log)",
		    what, strerror(-err));
	return err;
}

void mt_skel_release_elf(const void *data, size_t sz)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	/* whole pages inside the image only: its neighbours may be in use */
	uintptr_t start = ((uintptr_t)data + page - 1) & ~(page - 1);
	uintptr_t end = ((uintptr_t)data + sz) & ~(page - 1);

	if (end > start && madvise((void *)start, end - start, MADV_DONTNEED))
		mt_debug("cannot release the BPF object's image: %s", strerror(errno));
}

#define HEAP_HUGE_BYTES (16 << 20) /* a parse: twice 5.5 MiB of BTF, its indexes */
#define HUGE_PAGE_BYTES (2 << 20)  /* x86-64 and 4 KiB-page arm64; else merely no gain */

void mt_heap_hold__begin(struct mt_heap_hold *h)
{
	uintptr_t page = HUGE_PAGE_BYTES, start;
	void *volatile raise; /* volatile: a malloc() freed at once is otherwise elided */
	char *p;

	h->held = true;
	/*
	 * Freed, a block glibc had mmap()ed raises its mmap threshold to that
	 * size and its trim threshold to twice that (mallopt(3)), so the same
	 * request then comes from the heap and the heap is not trimmed below
	 * it; mallopt() would end that dynamic adjustment for good
	 */
	raise = malloc(HEAP_HUGE_BYTES + HUGE_PAGE_BYTES);
	free(raise);
	/*
	 * The top of the heap, grown, marked and freed; the heap from its start
	 * up to the first huge page is taken by pad (never touched), so what
	 * comes next (allocated from the top) lands on huge pages
	 */
	p = malloc(HEAP_HUGE_BYTES + HUGE_PAGE_BYTES);
	if (!p)
		return;
	start = ((uintptr_t)p + page - 1) & ~(page - 1);
	if (madvise((void *)start, HEAP_HUGE_BYTES, MADV_HUGEPAGE) == 0) {
		h->huge = (char *)start;
		h->len = HEAP_HUGE_BYTES;
	} else {
		mt_debug("no huge pages for the start-up heap: %s", strerror(errno));
	}
	free(p);
	/* malloc's own header: the next chunk starts 16 bytes past pad's end */
	if (h->huge && start - (uintptr_t)p > 64)
		h->pad = malloc(start - (uintptr_t)p - 32);
}

void mt_heap_hold__end(struct mt_heap_hold *h)
{
	if (!h->held)
		return;
	h->held = false;
	free(h->pad);
	h->pad = NULL;
	malloc_trim(0);
	/* what is left of it mapped (ENOMEM for the rest) takes small pages again */
	if (h->huge)
		madvise(h->huge, h->len, MADV_NOHUGEPAGE);
	h->huge = NULL;
}
