// SPDX-License-Identifier: GPL-2.0
/*
 * Symbolization through libdwfl: one offline Dwfl per module file, opened
 * on first use and shared by every process that mapped the same build-id.
 * This file is over 800 lines: module opening, the symbol and CU tables,
 * the address cache, perf maps and the CFI questions the unwinder asks
 * (leaf return, direct calls) all work on struct module's private state.
 */
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <libiberty/demangle.h>
#include "dw_dl.h"
#include "log.h"
#include "maps_index.h"
#include "perfmap.h"
#include "symbolize.h"
#include "untrusted.h"

/* A function symbol, by address in Dwfl's space (bias included). */
struct fsym {
	uint64_t addr, size;
	const char *name; /* owned by the module's ELF string table */
	char *demangled;  /* malloc'd, once asked for; NULL when not mangled */
	bool demangle_tried;
};

/* One compile unit's address range, for modules whose .debug_aranges misses CUs. */
struct cu_range {
	uint64_t lo, hi; /* DWARF addresses, [lo, hi) */
	Dwarf_Die cu;
};

struct module {
	struct fsym *syms; /* sorted by addr: dwfl_module_addrinfo scans linearly */
	size_t nsyms;
	bool syms_loaded;
	char *key;  /* build-id in hex, or the path when there is none */
	char *name; /* basename, what reports show */
	Dwfl *dwfl;
	Dwfl_Module *mod;
	GElf_Addr bias;
	Elf *elf;
	bool system;
	bool usable;	      /* opened, and its build-id matched the recording's */
	struct cu_range *cus; /* sorted by lo; built on the first line lookup that fails */
	size_t ncus;
	bool cus_loaded;
};

struct jit_map {
	uint32_t pid;
	struct perfmap *pm; /* NULL: no map, or one refused */
};

struct cache_ent {
	const struct module *mod; /* NULL marks an empty slot */
	uint64_t key;		  /* file offset, low bit: looked up as a return address */
	struct mt_frame frame;
};

struct symbolizer {
	const struct recording *rec;
	struct maps_index *ix;
	struct module **map_mod; /* the module of each map of ix (by position), lazily */
	struct module **mods;
	size_t nmods;
	struct jit_map *jits;
	size_t njits;
	size_t jits_refused;	/* perf maps not read: planted, too large... */
	size_t jits_unowned;	/* and those refused as their process's user is unknown */
	char refused_note[160]; /* the first of them, for the report header */
	struct cache_ent *cache;
	size_t cache_cap, cache_used;
	uint64_t hits, misses;
	bool raw_names; /* --no-demangle */
};

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

struct symbolizer *symbolizer__new(const struct recording *rec)
{
	struct symbolizer *sym = dw_dl__open() ? NULL : calloc(1, sizeof(*sym));
	size_t n;

	if (!sym)
		return NULL;
	sym->rec = rec;
	sym->ix = maps_index__new(rec);
	n = sym->ix ? maps_index__count(sym->ix) : 0;
	sym->map_mod = calloc(n ? n : 1, sizeof(*sym->map_mod));
	sym->cache_cap = 4096;
	sym->cache = calloc(sym->cache_cap, sizeof(*sym->cache));
	if (!sym->ix || !sym->map_mod || !sym->cache) {
		symbolizer__free(sym);
		errno = ENOMEM;
		return NULL;
	}
	return sym;
}

void symbolizer__free(struct symbolizer *sym)
{
	if (!sym)
		return;
	for (size_t i = 0; i < sym->nmods; i++) {
		struct module *m = sym->mods[i];

		if (m->dwfl)
			dwfl_end(m->dwfl);
		for (size_t j = 0; j < m->nsyms; j++)
			free(m->syms[j].demangled);
		free(m->syms);
		free(m->cus);
		free(m->key);
		free(m->name);
		free(m);
	}
	for (size_t i = 0; i < sym->njits; i++)
		perfmap__free(sym->jits[i].pm);
	free(sym->jits);
	free(sym->mods);
	maps_index__free(sym->ix);
	free(sym->map_mod);
	free(sym->cache);
	free(sym);
}

static ssize_t find_map_exact(const struct symbolizer *sym, uint32_t pid, uint32_t gen, uint64_t ip)
{
	return maps_index__find(sym->ix, pid, gen, ip);
}

/*
 * The image's own maps first; then other generations of the same pid (maps
 * read after a quick exec); then the parent's (a fork that never exec'd
 * shares its parent's layout).
 */
static ssize_t find_map(const struct symbolizer *sym, uint32_t pid, uint32_t gen, uint64_t ip)
{
	const struct mt_rec_proc *proc;
	ssize_t i = find_map_exact(sym, pid, gen, ip);

	if (i >= 0)
		return i;
	for (uint32_t g = gen + 1; g-- > 0 && gen - g < 4;)
		if (g != gen && (i = find_map_exact(sym, pid, g, ip)) >= 0)
			return i;
	proc = recording__proc(sym->rec, pid, gen);
	if (proc && proc->ppid && proc->ppid != pid && gen == 0) {
		const struct mt_rec_proc *parent =
		    recording__proc(sym->rec, proc->ppid, UINT32_MAX);

		if (parent)
			for (uint32_t g = parent->gen + 1; g-- > 0;)
				if ((i = find_map_exact(sym, proc->ppid, g, ip)) >= 0)
					return i;
	}
	return -1;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool is_system_module(const char *name)
{
	static const char *const prefixes[] = { "libc.so",   "libc-",	    "ld-linux",
						"ld-",	     "[vdso]",	    "libpthread",
						"libstdc++", "libjemalloc", "libtcmalloc" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static void hex_id(const uint8_t *id, uint32_t len, char *out)
{
	for (uint32_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", id[i]);
	out[2 * len] = '\0';
}

static struct module *module_open(struct symbolizer *sym, const struct mt_rec_map *map)
{
	char key[2 * MT_BUILD_ID_MAX + 1];
	const unsigned char *bits;
	struct module *m, **mods;
	const char *paths[2];
	GElf_Addr bid_vaddr;
	int n;

	if (map->build_id_len)
		hex_id(map->build_id, map->build_id_len, key);
	for (size_t i = 0; i < sym->nmods; i++) {
		const char *k = map->build_id_len ? key : map->path;

		if (strcmp(sym->mods[i]->key, k) == 0)
			return sym->mods[i];
	}
	m = calloc(1, sizeof(*m));
	mods = realloc(sym->mods, (sym->nmods + 1) * sizeof(*mods));
	if (!m || !mods) {
		free(m);
		return NULL;
	}
	sym->mods = mods;
	m->key = strdup(map->build_id_len ? key : map->path);
	m->name = strdup(base_name(map->path));
	if (!m->key || !m->name) {
		free(m->key);
		free(m->name);
		free(m);
		return NULL;
	}
	sym->mods[sym->nmods++] = m;
	m->system = is_system_module(m->name);

	/* a copy kept by build-id (the process had its own root) comes first */
	paths[0] = map->cache_path;
	paths[1] = map->path;
	for (int i = 0; i < 2 && !m->usable; i++) {
		if (!paths[i] || paths[i][0] != '/')
			continue;
		/* the traced user may have put a FIFO or symlink there since: untrusted.h */
		struct untrusted_opts uo = { .any_owner = true };
		int fd = untrusted_open(paths[i], &uo, NULL);

		if (fd < 0) {
			if (fd != -ENOENT)
				mt_warn("not reading %s: it %s", paths[i], untrusted_strerror(fd));
			continue;
		}
		m->dwfl = dwfl_begin(&offline_callbacks);
		if (!m->dwfl) {
			close(fd);
			break;
		}
		dwfl_report_begin(m->dwfl);
		m->mod = dwfl_report_offline(m->dwfl, m->name, paths[i], fd); /* consumes fd */
		if (!m->mod)
			close(fd);
		dwfl_report_end(m->dwfl, NULL, NULL);
		if (!m->mod || !(m->elf = dwfl_module_getelf(m->mod, &m->bias))) {
			dwfl_end(m->dwfl);
			m->dwfl = NULL;
			m->mod = NULL;
			continue;
		}
		n = dwfl_module_build_id(m->mod, &bits, &bid_vaddr);
		if (map->build_id_len &&
		    (n != (int)map->build_id_len || memcmp(bits, map->build_id, n) != 0)) {
			mt_warn("%s changed since it was recorded (build-id differs): shown as "
				"module+offset",
				paths[i]);
			dwfl_end(m->dwfl);
			m->dwfl = NULL;
			m->mod = NULL;
			continue;
		}
		m->usable = true;
	}
	if (!m->usable)
		mt_debug("no usable binary for %s", map->path);
	return m;
}

/* ELF virtual address of a file offset, through the PT_LOAD headers. */
static int offset_to_vaddr(Elf *elf, uint64_t off, uint64_t *vaddr)
{
	size_t nph;

	if (elf_getphdrnum(elf, &nph))
		return -EINVAL;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, i, &mem);

		if (!ph || ph->p_type != PT_LOAD)
			continue;
		if (off >= ph->p_offset && off < ph->p_offset + ph->p_filesz) {
			*vaddr = off - ph->p_offset + ph->p_vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * The user a perf map of pid must belong to: the one recorded for its
 * latest image (the process may be gone and its PID another user's now);
 * unknown (root's maps only) when it was not recorded, and the live
 * process's for recordings from writers that did not record users.
 */
static uid_t jit_owner(const struct symbolizer *sym, uint32_t pid)
{
	const struct mt_rec_proc *procs, *best = NULL;
	bool any_uid = false;
	size_t n;

	procs = recording__procs(sym->rec, &n);
	for (size_t i = 0; i < n; i++) {
		any_uid |= procs[i].has_uid;
		if (procs[i].pid == pid && procs[i].has_uid && (!best || procs[i].gen >= best->gen))
			best = &procs[i];
	}
	if (best)
		return best->uid;
	return any_uid ? UNTRUSTED_UID_UNKNOWN : untrusted_proc_uid(pid);
}

/* /tmp/perf-PID.map, read as untrusted input (perfmap.h), once per pid */
static struct jit_map *jit_map_get(struct symbolizer *sym, uint32_t pid)
{
	struct jit_map *jm, *arr;
	char path[64];
	uid_t owner;

	for (size_t i = 0; i < sym->njits; i++)
		if (sym->jits[i].pid == pid)
			return &sym->jits[i];
	arr = realloc(sym->jits, (sym->njits + 1) * sizeof(*arr));
	if (!arr)
		return NULL;
	sym->jits = arr;
	jm = &sym->jits[sym->njits++];
	jm->pid = pid;
	snprintf(path, sizeof(path), "/tmp/perf-%u.map", pid);
	owner = jit_owner(sym, pid);
	jm->pm = perfmap__load(path, owner);
	if (!jm->pm && errno == EPERM && owner == UNTRUSTED_UID_UNKNOWN) {
		mt_debug("not reading %s: the user of pid %u is not known", path, pid);
		sym->jits_unowned++;
	} else if (!jm->pm && errno != ENOENT) {
		const char *why = untrusted_strerror(-errno);

		mt_warn("not reading %s: it %s", path, why);
		if (!sym->jits_refused++)
			snprintf(sym->refused_note, sizeof(sym->refused_note), "%s %s", path, why);
	} else if (perfmap__skipped(jm->pm))
		mt_warn("%s: %zu malformed or over-long lines skipped", path,
			perfmap__skipped(jm->pm));
	return jm;
}

static bool jit_lookup(struct symbolizer *sym, uint32_t pid, uint64_t ip, struct mt_frame *out)
{
	struct jit_map *jm = jit_map_get(sym, pid);
	const char *name = jm ? perfmap__lookup(jm->pm, ip, &out->func_off) : NULL;

	if (!name)
		return false;
	out->func = name;
	out->module = "[jit]";
	return true;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static struct cache_ent *cache_slot(struct symbolizer *sym, const struct module *mod, uint64_t key)
{
	size_t mask = sym->cache_cap - 1;
	size_t i = mix(key ^ (uintptr_t)mod) & mask;

	while (sym->cache[i].mod && (sym->cache[i].mod != mod || sym->cache[i].key != key))
		i = (i + 1) & mask;
	return &sym->cache[i];
}

static void cache_grow(struct symbolizer *sym)
{
	struct cache_ent *old = sym->cache;
	size_t oldcap = sym->cache_cap;
	struct cache_ent *nc = calloc(oldcap * 2, sizeof(*nc));

	if (!nc)
		return; /* stays correct, just fuller */
	sym->cache = nc;
	sym->cache_cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].mod)
			*cache_slot(sym, old[i].mod, old[i].key) = old[i];
	free(old);
}

static struct module *map_module(struct symbolizer *sym, size_t mi)
{
	const struct mt_rec_map *map = maps_index__at(sym->ix, mi);

	if (!sym->map_mod[mi] && map->path[0] == '/')
		sym->map_mod[mi] = module_open(sym, map);
	return sym->map_mod[mi];
}

static int fsym_cmp(const void *a, const void *b)
{
	const struct fsym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* among aliases, the sized one (a real function) first */
	return (y->size > x->size) - (y->size < x->size);
}

static void load_syms(struct module *mod)
{
	int n = dwfl_module_getsymtab(mod->mod);
	size_t cap = n > 0 ? n : 0;

	mod->syms_loaded = true;
	if (n <= 0 || !(mod->syms = calloc(cap, sizeof(*mod->syms))))
		return;
	for (int i = 1; i < n; i++) {
		GElf_Addr addr;
		GElf_Sym sym;
		const char *name =
		    dwfl_module_getsym_info(mod->mod, i, &sym, &addr, NULL, NULL, NULL);

		if (!name || !*name || GELF_ST_TYPE(sym.st_info) != STT_FUNC || !addr)
			continue;
		mod->syms[mod->nsyms].addr = addr;
		mod->syms[mod->nsyms].size = sym.st_size;
		mod->syms[mod->nsyms].name = name;
		mod->nsyms++;
	}
	if (mod->nsyms)
		qsort(mod->syms, mod->nsyms, sizeof(*mod->syms), fsym_cmp);
}

/* The function symbol covering addr (unsized symbols reach to the next one). */
static struct fsym *find_sym(struct module *mod, uint64_t addr)
{
	size_t lo = 0, hi;
	struct fsym *s;

	if (!mod->syms_loaded)
		load_syms(mod);
	hi = mod->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mod->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	/* back to the first alias at that address: it sorts sized first */
	s = &mod->syms[lo - 1];
	while (s > mod->syms && (s - 1)->addr == s->addr)
		s--;
	if (s->size && addr >= s->addr + s->size)
		return NULL;
	return s;
}

/*
 * libiberty's demangler (Debian's libiberty-dev, the one binutils and gdb
 * use): unlike libstdc++'s __cxa_demangle it also reads both Rust schemes,
 * and it needs no C++ runtime in a C program.
 */
const char *mt_demangle(const char *name, char *buf, size_t len)
{
	char *d;

	if (strncmp(name, "_Z", 2) != 0 && strncmp(name, "_R", 2) != 0)
		return NULL;
	d = cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
	if (!d)
		return NULL;
	snprintf(buf, len, "%s", d);
	free(d);
	return buf;
}

static const char *shown_name(const struct symbolizer *sym, struct fsym *fs)
{
	if (sym->raw_names)
		return fs->name;
	if (!fs->demangle_tried) {
		char buf[1024];

		fs->demangle_tried = true;
		if (mt_demangle(fs->name, buf, sizeof(buf)))
			fs->demangled = strdup(buf);
	}
	return fs->demangled ? fs->demangled : fs->name;
}

static int cu_cmp(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

/*
 * Every CU's ranges, from the CUs themselves: clang writes no
 * .debug_aranges, and libdw 0.188 then does not find its CUs by address.
 */
static void load_cus(struct module *mod)
{
	Dwarf_Addr bias;
	Dwarf *dw = dwfl_module_getdwarf(mod->mod, &bias);
	Dwarf_Off off = 0, next;
	size_t hsize, cap = 0;

	mod->cus_loaded = true;
	if (!dw)
		return;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die die;
		Dwarf_Addr base, lo, hi;
		ptrdiff_t r = 0;

		if (dwarf_offdie(dw, off + hsize, &die)) {
			while ((r = dwarf_ranges(&die, r, &base, &lo, &hi)) > 0) {
				if (hi <= lo)
					continue;
				if (mod->ncus == cap) {
					size_t ncap = cap ? cap * 2 : 64;
					struct cu_range *c = realloc(mod->cus, ncap * sizeof(*c));

					if (!c)
						goto done;
					mod->cus = c;
					cap = ncap;
				}
				mod->cus[mod->ncus].lo = lo;
				mod->cus[mod->ncus].hi = hi;
				mod->cus[mod->ncus].cu = die;
				mod->ncus++;
			}
		}
		off = next;
	}
done:
	if (mod->ncus)
		qsort(mod->cus, mod->ncus, sizeof(*mod->cus), cu_cmp);
}

/* file:line through the CU whose ranges hold addr (a Dwfl address). */
static Dwarf_Line *line_by_cu(struct module *mod, GElf_Addr addr)
{
	Dwarf_Addr bias;
	size_t lo = 0, hi;

	if (!mod->cus_loaded)
		load_cus(mod);
	if (!mod->ncus || !dwfl_module_getdwarf(mod->mod, &bias))
		return NULL;
	addr -= bias;
	hi = mod->ncus;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mod->cus[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* ranges may nest or overlap: look back over the ones starting below addr */
	for (size_t i = lo; i-- > 0 && lo - i <= 64;)
		if (addr < mod->cus[i].hi)
			return dwarf_getsrc_die(&mod->cus[i].cu, addr);
	return NULL;
}

static void resolve(const struct symbolizer *sym, struct module *mod, uint64_t vaddr,
		    struct mt_frame *out)
{
	GElf_Addr addr = vaddr + mod->bias;
	struct fsym *fs = find_sym(mod, addr);
	Dwfl_Line *line;

	if (fs) {
		out->func = shown_name(sym, fs);
		out->func_off = addr - fs->addr;
	}
	line = dwfl_module_getsrc(mod->mod, addr);
	if (line) {
		int lineno = 0;
		const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);

		if (file) {
			out->file = file;
			out->line = lineno;
		}
	} else {
		Dwarf_Line *dl = line_by_cu(mod, addr);
		int lineno = 0;
		const char *file = dl ? dwarf_linesrc(dl, NULL, NULL) : NULL;

		if (file && dwarf_lineno(dl, &lineno) == 0) {
			out->file = file;
			out->line = lineno;
		}
	}
}

void symbolizer__set_demangle(struct symbolizer *sym, bool on)
{
	sym->raw_names = !on;
}

int symbolizer__lookup(struct symbolizer *sym, uint32_t pid, uint32_t gen, uint64_t ip,
		       bool ret_addr, struct mt_frame *out)
{
	uint64_t look = ret_addr && ip ? ip - 1 : ip, vaddr, key;
	const struct mt_rec_map *map;
	struct cache_ent *slot;
	struct module *mod;
	ssize_t mi;

	memset(out, 0, sizeof(*out));
	out->module = "[unknown]";
	out->mod_off = ip;
	mi = find_map(sym, pid, gen, look);
	if (mi < 0) {
		/* outside every code mapping: JIT code, or a walk that went astray */
		if (jit_lookup(sym, pid, ip, out))
			return 0;
		out->system = true;
		return -ENOENT;
	}
	map = maps_index__at(sym->ix, mi);
	out->mod_off = ip - map->start + map->pgoff;
	if (map->path[0] != '/') {
		/* [vdso], [stack], or anonymous memory: only a JIT map can name it */
		out->module = map->path[0] ? map->path : "[anon]";
		out->system = strcmp(map->path, "[vdso]") == 0;
		jit_lookup(sym, pid, ip, out);
		return 0;
	}
	mod = map_module(sym, mi);
	if (!mod)
		return -ENOMEM;
	out->module = mod->name;
	out->system = mod->system;
	if (!mod->usable)
		return 0;

	key = ((look - map->start + map->pgoff) << 1) | ret_addr;
	slot = cache_slot(sym, mod, key);
	if (slot->mod) {
		sym->hits++;
		*out = slot->frame;
		out->mod_off = ip - map->start + map->pgoff;
		return 0;
	}
	sym->misses++;
	if (!offset_to_vaddr(mod->elf, look - map->start + map->pgoff, &vaddr)) {
		resolve(sym, mod, vaddr, out);
		/* the caller wants the offset of ip, not of ip - 1 */
		if (out->func && ret_addr)
			out->func_off += 1;
	}
	slot->mod = mod;
	slot->key = key;
	slot->frame = *out;
	if (++sym->cache_used * 2 > sym->cache_cap)
		cache_grow(sym);
	return 0;
}

/* x86-64 DWARF register numbers */
#define DW_REG_RSP 7

int symbolizer__leaf_return(struct symbolizer *sym, uint32_t pid, uint32_t gen, uint64_t ip,
			    uint64_t sp, const uint64_t *words, uint32_t nwords, uint64_t *ret)
{
	Dwarf_Frame *frame = NULL;
	const struct mt_rec_map *map;
	Dwarf_Op *ops = NULL;
	struct module *mod;
	Dwarf_Addr cfi_bias;
	Dwarf_CFI *cfi;
	uint64_t vaddr, slot;
	size_t nops = 0;
	int64_t cfa_off;
	ssize_t mi;

	(void)sp;
	mi = find_map(sym, pid, gen, ip);
	if (mi < 0)
		return -ENOENT;
	map = maps_index__at(sym->ix, mi);
	mod = map_module(sym, mi);
	if (!mod || !mod->usable)
		return -ENOENT;
	if (offset_to_vaddr(mod->elf, ip - map->start + map->pgoff, &vaddr))
		return -ENOENT;
	vaddr += mod->bias;

	cfi = dwfl_module_eh_cfi(mod->mod, &cfi_bias);
	if (!cfi || dwarf_cfi_addrframe(cfi, vaddr - cfi_bias, &frame)) {
		cfi = dwfl_module_dwarf_cfi(mod->mod, &cfi_bias);
		if (!cfi || dwarf_cfi_addrframe(cfi, vaddr - cfi_bias, &frame))
			return -ENOENT;
	}
	if (dwarf_frame_cfa(frame, &ops, &nops) || nops != 1) {
		free(frame);
		return -ENOENT;
	}
	/* libdw gives a plain "CFA = reg + off" rule as DW_OP_bregx reg, off */
	if (ops[0].atom == DW_OP_bregx && ops[0].number == DW_REG_RSP) {
		cfa_off = (int64_t)ops[0].number2;
	} else if (ops[0].atom == DW_OP_breg0 + DW_REG_RSP) {
		cfa_off = (int64_t)ops[0].number;
	} else {
		/* CFA from rbp (the frame is set up) or an expression: FP unwinding saw this frame
		 */
		free(frame);
		return -ENOENT;
	}
	free(frame);
	/* x86-64: the return address sits just below the CFA */
	if (cfa_off < 8 || (cfa_off - 8) % 8)
		return -ENOENT;
	slot = (cfa_off - 8) / 8;
	if (slot >= nwords)
		return -ENOENT;
	*ret = words[slot];
	if (find_map(sym, pid, gen, *ret - 1) < 0)
		return -ENOENT;
	mi = find_map(sym, pid, gen, *ret - 1);
	if (!(maps_index__at(sym->ix, mi)->prot & 0x4 /* PROT_EXEC */))
		return -ENOENT;
	return 0;
}

#ifdef __x86_64__ /* only the x86 call decoder below asks */
/*
 * The start of the CFI function (FDE) at or below vaddr, from the sorted
 * table of .eh_frame_hdr (PT_GNU_EH_FRAME): libdw answers by CFI row, not
 * by FDE. Only the encodings every toolchain writes (udata4 count,
 * datarel sdata4 table) are read; -ENOENT otherwise.
 */
static int fde_start(struct module *mod, uint64_t vaddr, uint64_t *start)
{
	const uint8_t *raw = NULL, *hdr, *tab;
	uint64_t hdr_vaddr = 0, lo_start;
	size_t rawsize, nph, lo, hi;
	uint32_t count;
	int enc_ptr_len;

	if (elf_getphdrnum(mod->elf, &nph) ||
	    !(raw = (const uint8_t *)elf_rawfile(mod->elf, &rawsize)))
		return -ENOENT;
	hdr = NULL;
	for (size_t i = 0; i < nph && !hdr; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(mod->elf, i, &mem);

		if (ph && ph->p_type == PT_GNU_EH_FRAME && ph->p_offset < rawsize &&
		    ph->p_filesz >= 12 && rawsize - ph->p_offset >= ph->p_filesz) {
			hdr = raw + ph->p_offset;
			hdr_vaddr = ph->p_vaddr;
			rawsize = ph->p_filesz; /* from here: the header's own size */
		}
	}
	if (!hdr || hdr[0] != 1 || hdr[2] != 0x03 /* udata4 */ ||
	    hdr[3] != 0x3b /* datarel sdata4 */)
		return -ENOENT;
	enc_ptr_len = (hdr[1] & 0x0f) == 0x0b || (hdr[1] & 0x0f) == 0x03 ? 4 : -1;
	if (enc_ptr_len < 0)
		return -ENOENT;
	memcpy(&count, hdr + 4 + enc_ptr_len, 4);
	tab = hdr + 8 + enc_ptr_len;
	if (count == 0 || (size_t)(tab - hdr) + (size_t)count * 8 > rawsize)
		return -ENOENT;
	lo = 0;
	hi = count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int32_t rel;

		memcpy(&rel, tab + mid * 8, 4);
		if (hdr_vaddr + (int64_t)rel <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -ENOENT;
	{
		int32_t rel;

		memcpy(&rel, tab + (lo - 1) * 8, 4);
		lo_start = hdr_vaddr + (int64_t)rel;
	}
	*start = lo_start;
	return 0;
}

/*
 * Whether the CFI function that holds addr starts at entry: 1 yes, 0 no,
 * -1 when there is no table to say. An entry in another module is "no".
 */
static int fde_start_is(struct symbolizer *sym, uint32_t pid, uint32_t gen, uint64_t addr,
			uint64_t entry)
{
	const struct mt_rec_map *map;
	uint64_t vaddr, evaddr, start;
	struct module *mod;
	ssize_t mi, me;

	mi = find_map(sym, pid, gen, addr);
	me = find_map(sym, pid, gen, entry);
	if (mi < 0)
		return -1;
	map = maps_index__at(sym->ix, mi);
	mod = map_module(sym, mi);
	if (!mod || !mod->usable ||
	    offset_to_vaddr(mod->elf, addr - map->start + map->pgoff, &vaddr))
		return -1;
	if (me < 0 || map_module(sym, me) != mod ||
	    offset_to_vaddr(mod->elf,
			    entry - maps_index__at(sym->ix, me)->start +
				maps_index__at(sym->ix, me)->pgoff,
			    &evaddr))
		return 0;
	if (fde_start(mod, vaddr, &start))
		return -1;
	return start == evaddr;
}
#endif

bool symbolizer__direct_call_into(struct symbolizer *sym, uint32_t pid, uint32_t gen, uint64_t ret,
				  uint64_t inner_ret)
{
#ifdef __x86_64__
	const struct mt_rec_map *map;
	struct mt_frame callee, inner;
	const uint8_t *raw;
	struct module *mod;
	size_t rawsize;
	uint64_t off;
	int32_t rel;
	ssize_t mi;

	mi = find_map(sym, pid, gen, ret - 1);
	if (mi < 0 || ret < 5)
		return false;
	map = maps_index__at(sym->ix, mi);
	mod = map_module(sym, mi);
	if (!mod || !mod->usable || ret - 5 < map->start)
		return false;
	raw = (const uint8_t *)elf_rawfile(mod->elf, &rawsize);
	off = ret - 5 - map->start + map->pgoff;
	if (!raw || off > rawsize || rawsize - off < 5 || raw[off] != 0xe8 /* call rel32 */)
		return false;
	memcpy(&rel, raw + off + 1, sizeof(rel));
	/* the call lands on the entry of the function that holds inner_ret: by CFI ... */
	switch (fde_start_is(sym, pid, gen, inner_ret - 1, ret + (int64_t)rel)) {
	case 1:
		return true;
	case 0:
		return false;
	}
	/* ... or, without CFI there, by symbol */
	if (symbolizer__lookup(sym, pid, gen, ret + (int64_t)rel, false, &callee) ||
	    symbolizer__lookup(sym, pid, gen, inner_ret, true, &inner))
		return false;
	return callee.func && callee.func_off == 0 && inner.func == callee.func &&
	       strcmp(inner.module, callee.module) == 0;
#else
	(void)sym, (void)pid, (void)gen, (void)ret, (void)inner_ret;
	return false;
#endif
}

bool symbolizer__in_code(const struct symbolizer *sym, uint32_t pid, uint32_t gen, uint64_t addr)
{
	ssize_t mi = find_map(sym, pid, gen, addr);

	return mi >= 0 && (maps_index__at(sym->ix, mi)->prot & PROT_EXEC);
}

char *mt_frame_format(const struct mt_frame *f, char *buf, size_t len)
{
	if (f->func)
		snprintf(buf, len, "%s+0x%" PRIx64, f->func, f->func_off);
	else
		snprintf(buf, len, "%s+0x%" PRIx64, f->module, f->mod_off);
	return buf;
}

void symbolizer__stats(const struct symbolizer *sym, uint64_t *hits, uint64_t *misses)
{
	*hits = sym->hits;
	*misses = sym->misses;
}

size_t symbolizer__jits_refused(const struct symbolizer *sym, const char **first)
{
	*first = sym->refused_note;
	return sym->jits_refused;
}

size_t symbolizer__jits_unowned(const struct symbolizer *sym)
{
	return sym->jits_unowned;
}
