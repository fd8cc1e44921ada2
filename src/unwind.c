// SPDX-License-Identifier: GPL-2.0
/*
 * CFI unwinding of user-stack captures with libdwfl: dwfl_attach_state()
 * over a process image rebuilt from the recording, registers from the
 * capture, memory from the copied stack and the read-only file mappings.
 */
#include <dwarf.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "cfi_rows.h"
#include "dw_dl.h"
#include "hashmap.h"
#include "log.h"
#include "maps_index.h"
#include "untrusted.h"
#include "unwind.h"

#define UNWIND_DEPTH 256 /* frames walked per capture, whatever the caller asks */
#define PAGE_MASK_4K (~(uint64_t)4095)
#define CACHE_MAX_PRESIZE ((size_t)1 << 20) /* slots sized ahead; more by growing */

/* One file of an image reported to its Dwfl. */
struct umod {
	const char *path;   /* the recording's map path (owned by the recording) */
	Dwfl_Module *mod;   /* NULL when the file was missing or had changed */
	const uint8_t *raw; /* the file's bytes, for memory reads (libelf's mapping) */
	size_t rawsize;
	bool raw_loaded;
	uint64_t entry; /* the ELF entry point, at its load address; 0: none */
};

struct image {
	uint32_t pid, gen;
	struct cfi_rows *rows; /* the CFI row of each pc looked up (has_cfi, fast_walk) */
	bool ready;	       /* attached: captures of this image can be walked */
	uint32_t machine;      /* e_machine of the reported files */
	Dwfl *dwfl;
	const struct mt_rec_map **maps; /* by start */
	struct umod **map_mod;		/* the file of each map, or NULL */
	size_t nmaps;
	struct umod *mods;
	size_t nmods;
	const struct mt_rec_ustack *cur; /* the capture being walked */
	bool read_failed;  /* a memory read failed since the last frame was reported */
	uint32_t used_len; /* of the walk: see struct cached */
	uint64_t outside_min;
};

/*
 * A finished walk, keyed by everything it depended on: the image, the
 * registers, and the stack bytes it read (see walk_fits). Hashing whole
 * 8 KiB copies would cost more than walking them.
 */
struct cached {
	uint64_t hash;		       /* capture_hash */
	const struct mt_rec_ustack *u; /* NULL: empty slot; the recording owns it */
	uint32_t used_len;	       /* stack bytes the walk read: [0, used_len) */
	uint64_t outside_min;	       /* lowest end offset of a read the copy did not serve */
	uint32_t nr;
	uint64_t *ips;
};

struct unwinder {
	const struct recording *rec;
	struct unwinder_opts opts;
	struct maps_index *ix;
	struct hashmap *images; /* pid << 32 | gen -> struct image * */
	struct cached *cache;	/* open addressing on hash */
	size_t cap_cache, ncache;
	struct unwinder_stats st;
	struct walk *walk; /* one walk's frames, reused */
};

struct walk {
	struct image *img;
	uint64_t ips[UNWIND_DEPTH];
	uint32_t nr;
	bool bad; /* the walk stopped at a frame it could not trust */
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

struct unwinder *unwinder__new(const struct recording *rec, const struct unwinder_opts *opts)
{
	struct unwinder *uw = dw_dl__open() ? NULL : calloc(1, sizeof(*uw));

	if (!uw)
		return NULL;
	elf_version(EV_CURRENT);
	uw->rec = rec;
	if (opts)
		uw->opts = *opts;
	uw->ix = maps_index__new(rec);
	uw->images = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 64);
	/* room for every capture at half load: growing means rehashing and fresh pages */
	uw->cap_cache = 1024;
	while (uw->cap_cache < 2 * uw->opts.expect && uw->cap_cache < CACHE_MAX_PRESIZE)
		uw->cap_cache *= 2;
	uw->cache = calloc(uw->cap_cache, sizeof(*uw->cache));
	if (!uw->ix || !uw->images || !uw->cache) {
		unwinder__free(uw);
		errno = ENOMEM;
		return NULL;
	}
	return uw;
}

static void image_release(struct image *img)
{
	cfi_rows__free(img->rows);
	if (img->dwfl)
		dwfl_end(img->dwfl);
	free(img->maps);
	free(img->map_mod);
	free(img->mods);
	free(img);
}

void unwinder__free(struct unwinder *uw)
{
	if (!uw)
		return;
	if (uw->images) {
		uintptr_t key, img;
		size_t cur = 0;

		while (hashmap__next(uw->images, &cur, &key, &img))
			image_release((struct image *)img);
	}
	for (size_t i = 0; i < uw->cap_cache; i++)
		if (uw->cache && uw->cache[i].u)
			free(uw->cache[i].ips);
	hashmap__free(uw->images);
	free(uw->walk);
	free(uw->cache);
	maps_index__free(uw->ix);
	free(uw);
}

void unwinder__stats(const struct unwinder *uw, struct unwinder_stats *st)
{
	*st = uw->st;
}

/* ---- the process image ---- */

static size_t image_maps(const struct unwinder *uw, uint32_t pid, uint32_t gen, size_t *first)
{
	return maps_index__image(uw->ix, pid, gen, first);
}

static const struct mt_rec_map *find_map(const struct image *img, uint64_t addr, size_t *idx)
{
	size_t lo = 0, hi = img->nmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->maps[mid]->start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr >= img->maps[lo - 1]->end)
		return NULL;
	if (idx)
		*idx = lo - 1;
	return img->maps[lo - 1];
}

static bool in_exec_map(const struct image *img, uint64_t addr)
{
	const struct mt_rec_map *m = find_map(img, addr, NULL);

	return m && (m->prot & PROT_EXEC);
}

/*
 * The load bias of path as mapped at map: the kernel maps a PT_LOAD at
 * bias + (p_vaddr & page mask) from file offset p_offset & page mask.
 */
static int load_bias(Elf *elf, const struct mt_rec_map *map, GElf_Addr *bias)
{
	GElf_Ehdr ehdr;
	size_t nph;

	if (!gelf_getehdr(elf, &ehdr) || elf_getphdrnum(elf, &nph))
		return -ENOEXEC;
	if (ehdr.e_type == ET_EXEC) {
		*bias = 0;
		return 0;
	}
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, i, &mem);

		if (!ph || ph->p_type != PT_LOAD)
			continue;
		if (map->pgoff >= (ph->p_offset & PAGE_MASK_4K) &&
		    map->pgoff < ph->p_offset + ph->p_filesz) {
			*bias = map->start - (map->pgoff - ph->p_offset + ph->p_vaddr);
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * Opens path as every file read for a traced process is (untrusted.h),
 * checks its build-id against the recording's and reports it at its bias.
 */
static Dwfl_Module *report_file(struct image *img, const struct mt_rec_map *map, const char *path,
				uint64_t *entry)
{
	const void *bid = NULL;
	Dwfl_Module *mod = NULL;
	GElf_Addr bias;
	struct untrusted_opts uo = { .any_owner = true }; /* as the symbolizer opens it */
	GElf_Ehdr ehdr;
	Elf *elf = NULL;
	ssize_t nbid;
	int fd;

	fd = untrusted_open(path, &uo, NULL);
	if (fd < 0)
		return NULL;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr))
		goto fail;
	nbid = dwelf_elf_gnu_build_id(elf, &bid);
	if (map->build_id_len &&
	    (nbid != (ssize_t)map->build_id_len || memcmp(bid, map->build_id, nbid) != 0)) {
		mt_debug("unwind: %s changed since it was recorded (build-id differs)", path);
		goto fail;
	}
	if (load_bias(elf, map, &bias))
		goto fail;
	elf_end(elf);
	elf = NULL;
	if (img->machine && img->machine != ehdr.e_machine)
		goto fail;
	/* on success the fd belongs to libdwfl */
	mod = dwfl_report_elf(img->dwfl, map->path, path, fd, bias, true);
	if (!mod)
		goto fail;
	img->machine = ehdr.e_machine;
	if (ehdr.e_entry)
		*entry = ehdr.e_entry + bias;
	return mod;
fail:
	elf_end(elf);
	close(fd);
	return NULL;
}

static pid_t cb_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct image *img = arg;

	if (*thread_argp)
		return 0;
	*thread_argp = img;
	return img->pid;
}

static bool cb_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct image *img = arg;

	*thread_argp = img;
	return (uint32_t)tid == img->pid;
}

static bool read_file_word(struct image *img, uint64_t addr, Dwarf_Word *out)
{
	const struct mt_rec_map *m;
	struct umod *um;
	uint64_t off;
	size_t idx;

	m = find_map(img, addr, &idx);
	/* a writable mapping may differ from its file: never read as if it did not */
	if (!m || (m->prot & PROT_WRITE) || !(um = img->map_mod[idx]) || !um->mod)
		return false;
	if (!um->raw_loaded) {
		GElf_Addr bias;
		Elf *elf = dwfl_module_getelf(um->mod, &bias);

		um->raw_loaded = true;
		if (elf)
			um->raw = (const uint8_t *)elf_rawfile(elf, &um->rawsize);
	}
	off = addr - m->start + m->pgoff;
	if (!um->raw || off > um->rawsize || um->rawsize - off < sizeof(*out))
		return false;
	memcpy(out, um->raw + off, sizeof(*out));
	return true;
}

static bool cb_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct image *img = arg;
	const struct mt_rec_ustack *u = img->cur;

	uint64_t off = addr - u->stack_addr;

	if (addr >= u->stack_addr && off <= u->stack_len && u->stack_len - off >= sizeof(*result)) {
		memcpy(result, u->stack + off, sizeof(*result));
		if (off + sizeof(*result) > img->used_len)
			img->used_len = off + sizeof(*result);
		return true;
	}
	/* a longer copy would have served this read: the answer depends on the length */
	if (addr >= u->stack_addr && off + sizeof(*result) < img->outside_min)
		img->outside_min = off + sizeof(*result);
	if (read_file_word(img, addr, result))
		return true;
	img->read_failed = true;
	return false;
}

static bool cb_set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	const struct mt_rec_ustack *u = ((struct image *)thread_arg)->cur;

	if (u->arch == EM_AARCH64) {
		/* libdw's aarch64 frame holds x0..x30 and sp; the pc goes separately */
		if (!dwfl_thread_state_registers(thread, 0, 32, u->regs))
			return false;
		dwfl_thread_state_register_pc(thread, u->regs[32]);
		return true;
	}
	return dwfl_thread_state_registers(thread, 0, u->nregs, u->regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = cb_next_thread,
	.get_thread = cb_get_thread,
	.memory_read = cb_memory_read,
	.set_initial_registers = cb_set_initial_registers,
};

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
};

/*
 * The maps of (pid, gen); a child that forked without exec (gen 0, no maps
 * of its own) runs in its parent's layout, so it takes the parent's latest.
 */
static size_t pick_maps(const struct unwinder *uw, uint32_t pid, uint32_t gen, size_t *first)
{
	const struct mt_rec_proc *proc, *parent;
	size_t n = image_maps(uw, pid, gen, first);

	if (n || gen)
		return n;
	proc = recording__proc(uw->rec, pid, gen);
	if (!proc || !proc->ppid || proc->ppid == pid)
		return 0;
	parent = recording__proc(uw->rec, proc->ppid, UINT32_MAX);
	if (!parent)
		return 0;
	for (uint32_t g = parent->gen + 1; g-- > 0;)
		if ((n = image_maps(uw, proc->ppid, g, first)))
			return n;
	return 0;
}

static int image_setup(struct unwinder *uw, struct image *img)
{
	size_t first, n = pick_maps(uw, img->pid, img->gen, &first);

	uw->st.images++;
	img->maps = calloc(n ? n : 1, sizeof(*img->maps));
	img->map_mod = calloc(n ? n : 1, sizeof(*img->map_mod));
	img->mods = calloc(n ? n : 1, sizeof(*img->mods));
	if (!img->maps || !img->map_mod || !img->mods)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		img->maps[i] = maps_index__at(uw->ix, first + i);
	img->nmaps = n;
	img->dwfl = dwfl_begin(&dwfl_callbacks);
	if (!img->dwfl)
		return -ENOMEM;
	dwfl_report_begin(img->dwfl);
	/* one module per file with code; its other mappings share it for reads */
	for (size_t i = 0; i < n; i++) {
		const struct mt_rec_map *m = img->maps[i];
		struct umod *um = NULL;

		if (m->path[0] != '/')
			continue;
		for (size_t j = 0; j < img->nmods && !um; j++)
			if (strcmp(img->mods[j].path, m->path) == 0)
				um = &img->mods[j];
		if (!um && (m->prot & PROT_EXEC)) {
			um = &img->mods[img->nmods++];
			um->path = m->path;
			if (m->cache_path && m->cache_path[0] == '/')
				um->mod = report_file(img, m, m->cache_path, &um->entry);
			if (!um->mod)
				um->mod = report_file(img, m, m->path, &um->entry);
		}
		img->map_mod[i] = um;
	}
	dwfl_report_end(img->dwfl, NULL, NULL);
	img->rows = cfi_rows__new(img->dwfl);
	if (!img->rows)
		return -ENOMEM;
	img->ready = dwfl_attach_state(img->dwfl, NULL, img->pid, &thread_callbacks, img);
	if (!img->ready) {
		uw->st.image_fails++;
		mt_debug("unwind: pid %u gen %u: %s", img->pid, img->gen, dwfl_errmsg(-1));
	}
	return 0;
}

/* Images sit behind pointers: each Dwfl holds its image as callback argument. */
static struct image *image_get(struct unwinder *uw, uint32_t pid, uint32_t gen, int *err)
{
	uintptr_t key = (uintptr_t)pid << 32 | gen, found;
	struct image *img;

	*err = 0;
	if (hashmap__find(uw->images, key, &found))
		return (struct image *)found;
	img = calloc(1, sizeof(*img));
	if (!img || hashmap__add(uw->images, key, (uintptr_t)img)) {
		free(img);
		*err = -ENOMEM;
		return NULL;
	}
	img->pid = pid;
	img->gen = gen;
	/* a failed setup leaves an image that is not ready: its captures keep their PC */
	*err = image_setup(uw, img);
	return *err ? NULL : img;
}

/* ---- walking ---- */

/* Whether pc (looked up at pc - 1 when a return address) has CFI in its module. */
static bool has_cfi(struct image *img, uint64_t pc)
{
	const struct cfi_row *row = cfi_rows__get(img->rows, pc);

	return row && row->kind != CFI_ROW_NONE;
}

/*
 * Whether ret, a return address, is the first call of an ELF entry point
 * (ld.so's _start calls _dl_start, an executable's _start calls
 * __libc_start_main): the kernel jumped to the entry, so nothing is above
 * that frame. ld.so's _start has no CFI saying so, and the walk would end
 * there in [unknown]. Every libc's entry makes that call within its first
 * few instructions (8 bytes in glibc's x86-64 and arm64 ld.so).
 */
#define ENTRY_CALL_SPAN 64 /* bytes from the entry point to its first call's return */

static bool entry_return(const struct image *img, uint64_t ret)
{
	const struct mt_rec_map *m;
	const struct umod *um;
	size_t idx;

	m = find_map(img, ret - 1, &idx);
	if (!m || !(m->prot & PROT_EXEC) || !(um = img->map_mod[idx]) || !um->mod || !um->entry)
		return false;
	return ret > um->entry && ret - um->entry <= ENTRY_CALL_SPAN;
}

static int frame_cb(Dwfl_Frame *state, void *arg)
{
	struct walk *w = arg;
	bool activation = false;
	Dwarf_Addr pc;

	w->img->read_failed = false;
	if (!dwfl_frame_pc(state, &pc, &activation)) {
		w->bad = true;
		return DWARF_CB_ABORT;
	}
	if (w->nr) {
		uint64_t prev = w->ips[w->nr - 1];

		/*
		 * A caller is only as good as the CFI of the frame it was
		 * unwound from: without it libdw's fallback may guess from
		 * a frame pointer that this code never set up.
		 */
		if (!has_cfi(w->img, w->nr > 1 ? prev - 1 : prev)) {
			w->bad = !(w->nr > 1 && entry_return(w->img, prev));
			return DWARF_CB_ABORT;
		}
		if (pc == 0)
			return DWARF_CB_ABORT; /* the outermost frame says so */
		/* after a signal frame the pc is exact: keep "ip - 1" lookups right */
		if (activation)
			pc++;
		if (!in_exec_map(w->img, pc - 1)) {
			w->bad = true;
			return DWARF_CB_ABORT;
		}
	}
	if (w->nr == UNWIND_DEPTH) {
		w->bad = true;
		return DWARF_CB_ABORT;
	}
	w->ips[w->nr++] = pc;
	return DWARF_CB_OK;
}

/* Everything of a capture but its stack bytes: the first half of the key. */
static uint64_t capture_hash(const struct mt_rec_ustack *u)
{
	uint64_t h = mix64(((uint64_t)u->pid << 32 | u->gen) ^ ((uint64_t)u->arch << 20) ^
			   ((uint64_t)u->nregs << 40) ^ u->stack_addr);

	for (uint32_t i = 0; i < u->nregs; i++)
		h = mix64(h ^ u->regs[i]) + i;
	return h;
}

/*
 * Whether c's walk answers u too: same image and registers, the stack
 * bytes c's walk read are u's bytes, and every read c made outside its
 * copy (a file, or a failure) would not be served by u's copy either.
 */
static bool walk_fits(const struct cached *c, const struct mt_rec_ustack *u)
{
	const struct mt_rec_ustack *a = c->u;

	return a->pid == u->pid && a->gen == u->gen && a->arch == u->arch && a->nregs == u->nregs &&
	       a->stack_addr == u->stack_addr &&
	       memcmp(a->regs, u->regs, a->nregs * sizeof(a->regs[0])) == 0 &&
	       u->stack_len >= c->used_len && u->stack_len < c->outside_min &&
	       memcmp(a->stack, u->stack, c->used_len) == 0;
}

/*
 * Open addressing of our own rather than hashmap.h: one hash (the
 * registers) may hold many walks that differ in their stack bytes, and
 * the lookup must stop after a few of them (below), which a map of
 * unique keys cannot say.
 *
 * The slot answering u, or the empty slot to fill (*fill), or neither
 * when too many walks share u's registers and differ in their stacks:
 * those are walked and not kept, so no lookup ever scans far.
 */
static struct cached *cache_find(struct unwinder *uw, uint64_t hash, const struct mt_rec_ustack *u,
				 struct cached **fill)
{
	size_t mask = uw->cap_cache - 1, i = hash & mask;
	int same_key = 0;

	*fill = NULL;
	for (; uw->cache[i].u; i = (i + 1) & mask) {
		if (uw->cache[i].hash != hash)
			continue;
		if (walk_fits(&uw->cache[i], u))
			return &uw->cache[i];
		if (++same_key == 16)
			return NULL;
	}
	*fill = &uw->cache[i];
	return NULL;
}

static void cache_grow(struct unwinder *uw)
{
	struct cached *old = uw->cache, *nc;
	size_t oldcap = uw->cap_cache;

	nc = calloc(oldcap * 2, sizeof(*nc));
	if (!nc)
		return; /* stays correct, only fuller */
	uw->cache = nc;
	uw->cap_cache = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].u) {
			size_t j = old[i].hash & (uw->cap_cache - 1);

			while (nc[j].u)
				j = (j + 1) & (uw->cap_cache - 1);
			nc[j] = old[i];
		}
	free(old);
}

static void copy_out(const uint64_t *src, uint32_t n, uint64_t *ips, uint32_t max, uint32_t *nr)
{
	if (n <= max) {
		memcpy(ips, src, n * sizeof(*ips));
		*nr = n;
		return;
	}
	/* cut short for the caller: the last slot says the chain went on */
	if (max)
		memcpy(ips, src, (max - 1) * sizeof(*ips));
	if (max)
		ips[max - 1] = MT_IP_UNKNOWN;
	*nr = max;
}

/*
 * ---- the fast walk over cached CFI rows (cfi_rows.h) ----
 *
 * libdw's unwinder looks each frame's CFI up again, evaluates every
 * register's rule through its expression machine and allocates a frame
 * per frame: most of a report's time. fast_walk makes the same walk over
 * the rows libdw gives for each pc, kept per image; a capture it cannot
 * walk the same way goes to libdw's walk whole. x86-64 only.
 * tests/unit/test_unwind.c and bench/unwind_check compare the two walks.
 */
static bool fast_read(uint64_t addr, uint64_t *out, void *img)
{
	return cb_memory_read(NULL, addr, out, img); /* a Dwarf_Word is a uint64_t */
}

/*
 * The walk libdw would make of u, with frame_cb's checks, ending where
 * libdw's would end; *ret as dwfl_getthread_frames would return it.
 * false: not walkable here (w is to be walked again by libdw).
 */
static bool fast_walk(struct image *img, const struct mt_rec_ustack *u, struct walk *w, int *ret)
{
	uint64_t val[CFI_NREGS], nval[CFI_NREGS];
	uint32_t valid = (1U << CFI_NREGS) - 1, nvalid;
	uint64_t pc = u->regs[16];

	if (u->arch != EM_X86_64)
		return false;
	memcpy(val, u->regs, sizeof(val));
	for (;;) {
		const struct cfi_row *row;

		if (w->nr && pc == 0) {
			*ret = DWARF_CB_ABORT; /* the outermost frame says so */
			return true;
		}
		if ((w->nr && !in_exec_map(img, pc - 1)) || w->nr == UNWIND_DEPTH) {
			w->bad = true;
			*ret = DWARF_CB_ABORT;
			return true;
		}
		w->ips[w->nr++] = pc;
		img->read_failed = false; /* as frame_cb, at each frame */
		row = cfi_rows__get(img->rows, w->nr > 1 ? pc - 1 : pc);
		if (!row || row->kind == CFI_ROW_SLOW)
			return false;
		if (row->kind == CFI_ROW_NONE) {
			/* frame_cb's answer at the next frame, whether libdw finds one or not */
			w->bad = !(w->nr > 1 && entry_return(img, pc));
			*ret = DWARF_CB_ABORT;
			return true;
		}
		if (cfi_row__step(row, val, valid, nval, &nvalid, fast_read, img))
			return false;
		if (!(nvalid & 1U << 16)) {
			/*
			 * The CFI says the chain ends here, or the return
			 * address could not be read: libdw's walk ends
			 * without an error either way (walk() tells them
			 * apart by read_failed). Anything else is libdw's.
			 */
			if (row->r[16].kind != CFI_RULE_UNDEF && !img->read_failed)
				return false;
			*ret = 0;
			return true;
		}
		memcpy(val, nval, sizeof(val));
		valid = nvalid;
		pc = val[16];
	}
}

static int walk(struct unwinder *uw, const struct mt_rec_ustack *u, struct walk *w,
		uint32_t *used_len, uint64_t *outside_min)
{
	uint64_t pc = u->arch == EM_AARCH64 ? u->regs[32] : u->regs[16];
	struct image *img;
	int err, ret;

	img = image_get(uw, u->pid, u->gen, &err);
	if (!img)
		return err;
	w->img = img;
	w->nr = 0;
	w->bad = false;
	uw->st.unwound++;
	*used_len = 0;
	*outside_min = UINT64_MAX;
	if (!img->ready || img->machine != u->arch) {
		w->ips[w->nr++] = pc;
		w->ips[w->nr++] = MT_IP_UNKNOWN;
		uw->st.incomplete++;
		return 0;
	}
	img->cur = u;
	img->read_failed = false;
	img->used_len = 0;
	img->outside_min = UINT64_MAX;
	if (uw->opts.no_fast || !fast_walk(img, u, w, &ret)) {
		w->nr = 0;
		w->bad = false;
		img->used_len = 0;
		ret = dwfl_getthread_frames(img->dwfl, u->pid, frame_cb, w);
	} else {
		uw->st.fast++;
	}
	img->cur = NULL;
	*used_len = img->used_len;
	*outside_min = img->outside_min;
	if (!w->nr)
		w->ips[w->nr++] = pc;
	/*
	 * libdw ends a walk without an error both where the CFI says the
	 * chain ends (_start, clone) and where a read it needed failed: only
	 * the first is an end.
	 */
	if (ret == 0 &&
	    (img->read_failed || !has_cfi(img, w->nr > 1 ? w->ips[w->nr - 1] - 1 : w->ips[0])))
		w->bad = true;
	/* whatever libdw made of the frame above an entry point, there is none */
	if (w->nr > 1 && entry_return(img, w->ips[w->nr - 1]))
		w->bad = false;
	else if (ret != 0 && ret != DWARF_CB_ABORT)
		w->bad = true;
	if (w->bad) {
		if (w->nr == UNWIND_DEPTH)
			w->nr--;
		w->ips[w->nr++] = MT_IP_UNKNOWN;
		uw->st.incomplete++;
	}
	return 0;
}

int unwinder__unwind(struct unwinder *uw, const struct mt_rec_ustack *u, uint64_t *ips,
		     uint32_t max, uint32_t *nr)
{
	struct cached *slot = NULL, *hit;
	uint64_t hash = 0, outside_min = 0;
	uint32_t used_len = 0;
	struct walk *w;
	int err;

	*nr = 0;
	if (!((u->arch == EM_X86_64 && u->nregs >= 17) ||
	      (u->arch == EM_AARCH64 && u->nregs >= 33)))
		return -EINVAL;
	if (!uw->opts.no_cache) {
		hash = capture_hash(u);
		hit = cache_find(uw, hash, u, &slot);
		if (hit) {
			uw->st.cache_hits++;
			copy_out(hit->ips, hit->nr, ips, max, nr);
			return 0;
		}
	}
	if (!uw->walk && !(uw->walk = malloc(sizeof(*uw->walk))))
		return -ENOMEM;
	w = uw->walk;
	err = walk(uw, u, w, &used_len, &outside_min);
	if (err)
		return err;
	copy_out(w->ips, w->nr, ips, max, nr);
	if (slot) {
		slot->ips = malloc(w->nr * sizeof(*slot->ips));
		if (slot->ips) {
			memcpy(slot->ips, w->ips, w->nr * sizeof(*slot->ips));
			slot->nr = w->nr;
			slot->used_len = used_len;
			slot->outside_min = outside_min;
			slot->hash = hash;
			slot->u = u;
			if (++uw->ncache * 2 > uw->cap_cache)
				cache_grow(uw);
		}
	}
	return 0;
}
