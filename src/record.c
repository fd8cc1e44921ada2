// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace record: loads bpf/stacks.bpf.c, follows the chosen processes,
 * reads their /proc/PID/maps whenever the kernel side says the layout
 * changed (exec, fork, a new executable mapping), and at the end writes the
 * kernel's aggregate, the stacks and the maps into one recording file.
 */
#include <argp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "commands.h"
#include "kfeatures.h"
#include "log.h"
#include "recording.h"
#include "stacks.h"
#include "stacks.skel.h"
#include "units.h"

#define MAX_PIDS 1024

struct record_opts {
	int pids[MAX_PIDS];
	size_t npids;
	uint64_t duration_ns;
	const char *output;
	bool force;
	uint32_t events;
	uint32_t sample_every;
	bool malloc;
	uint32_t max_stacks;
	char **cmd; /* after "--" */
	int ncmd;
};

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

/* ---- build-ids, cached by (dev, inode) of the mapped file ---- */

struct bid_ent {
	uint64_t dev, ino;
	uint32_t len;
	uint8_t id[MT_BUILD_ID_MAX];
	char *path;	  /* as the first process that mapped it saw it */
	char *cache_path; /* a copy kept by build-id, or NULL */
};

struct record_state {
	struct record_opts *opts;
	struct stacks_bpf *skel;
	struct recording *rec;
	struct bid_ent *bids;
	size_t nbids, capbids;
	pid_t child;
	int child_status;
	bool child_reaped;
	uint64_t notes;
	uint64_t maps_reads, maps_failed;
	struct mt_rec_map *kmaps; /* mappings the kernel reported, for images that vanish */
	size_t nkmaps, capkmaps;
	struct bpf_link **links; /* tracepoints, then uprobes */
	int nlinks, caplinks;
};

static int read_build_id(const char *path, uint8_t *id, uint32_t *len)
{
	const void *bits = NULL;
	Elf *elf = NULL;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		err = -EINVAL;
		goto cleanup;
	}
	n = dwelf_elf_gnu_build_id(elf, &bits);
	if (n <= 0 || n > MT_BUILD_ID_MAX) {
		err = -ENOENT;
		goto cleanup;
	}
	memcpy(id, bits, n);
	*len = n;
cleanup:
	elf_end(elf);
	close(fd);
	return err;
}

static int copy_file(const char *from, const char *to)
{
	char tmp[PATH_MAX], buf[65536];
	int in = -1, out = -1, err = 0;
	ssize_t n;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", to, getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		err = -errno;
		goto cleanup;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, n) != n) {
			err = -EIO;
			goto cleanup;
		}
	}
	if (n < 0)
		err = -errno;
	if (!err && rename(tmp, to))
		err = -errno;
cleanup:
	if (out >= 0)
		close(out);
	if (err)
		unlink(tmp);
	close(in);
	return err;
}

/*
 * A binary seen through another root (a container) may not exist under the
 * same path for report: keep a copy by build-id, as perf's ~/.debug does.
 */
static char *cache_binary(const char *src, const uint8_t *id, uint32_t len)
{
	const char *base = getenv("MEMTRACE_CACHE");
	char dir[PATH_MAX], path[PATH_MAX], hex[2 * MT_BUILD_ID_MAX + 1];

	for (uint32_t i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", id[i]);
	hex[2 * len] = '\0';
	if (base)
		snprintf(dir, sizeof(dir), "%s", base);
	else if (getenv("HOME"))
		snprintf(dir, sizeof(dir), "%s/.cache/memtrace", getenv("HOME"));
	else
		return NULL;
	mkdir(dir, 0755);
	if (snprintf(path, sizeof(path), "%s/%s", dir, hex) >= (int)sizeof(path))
		return NULL;
	if (access(path, R_OK) == 0 || copy_file(src, path) == 0)
		return strdup(path);
	mt_warn("cannot keep a copy of %s in %s: report may not symbolize it", src, dir);
	return NULL;
}

/*
 * The build-id of the file (dev, ino), read once from readable (the file
 * as we can open it); path is how the traced process named it.
 */
static struct bid_ent *build_id_for(struct record_state *st, const char *readable, const char *path,
				    uint64_t dev, uint64_t ino, bool foreign_root)
{
	struct bid_ent *b;

	for (size_t i = 0; i < st->nbids; i++) {
		b = &st->bids[i];
		if (b->dev != dev || b->ino != ino)
			continue;
		/* first seen where it could not be opened: this path may do better */
		if (!b->len && !read_build_id(readable, b->id, &b->len) && foreign_root)
			b->cache_path = cache_binary(readable, b->id, b->len);
		return b;
	}
	if (st->nbids == st->capbids) {
		size_t cap = st->capbids ? st->capbids * 2 : 32;
		void *p = realloc(st->bids, cap * sizeof(*st->bids));

		if (!p)
			return NULL;
		st->bids = p;
		st->capbids = cap;
	}
	b = &st->bids[st->nbids];
	memset(b, 0, sizeof(*b));
	b->path = strdup(path);
	if (!b->path)
		return NULL;
	st->nbids++;
	b->dev = dev;
	b->ino = ino;
	if (read_build_id(readable, b->id, &b->len))
		b->len = 0;
	if (foreign_root && b->len)
		b->cache_path = cache_binary(readable, b->id, b->len);
	return b;
}

/* Whether path is the file (dev, ino); path as we can open it. */
static bool same_file(const char *path, uint64_t dev, uint64_t ino)
{
	struct stat sb;

	return stat(path, &sb) == 0 && sb.st_dev == dev && sb.st_ino == ino;
}

/* Reads /proc/PID/maps (executable mappings) and the process's names into the recording. */
static int snapshot_proc(struct record_state *st, uint32_t pid, uint32_t gen, uint32_t ppid)
{
	struct mt_rec_proc proc = {.pid = pid, .gen = gen, .ppid = ppid};
	char path[64], exe[PATH_MAX], *line = NULL;
	bool foreign;
	size_t cap = 0, nmaps = 0;
	FILE *f;
	ssize_t n;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		st->maps_failed++;
		/* gone already: keep who its parent was, its frames may resolve there */
		if (ppid && !recording__proc(st->rec, pid, gen)) {
			snprintf(proc.comm, sizeof(proc.comm), "[exited]");
			recording__add_proc(st->rec, &proc);
		}
		return err;
	}
	st->maps_reads++;
	recording__drop_maps(st->rec, pid, gen);
	while (getline(&line, &cap, f) > 0) {
		unsigned long long start, end, off, ino;
		unsigned int maj, min;
		char perms[8];
		int pathoff = 0;
		struct mt_rec_map map = {};

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off,
			   &maj, &min, &ino, &pathoff) < 7)
			continue;
		if (perms[2] != 'x')
			continue; /* only code needs symbols */
		line[strcspn(line, "\n")] = '\0';
		map.start = start;
		map.end = end;
		map.pgoff = off;
		map.pid = pid;
		map.gen = gen;
		map.prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
			   PROT_EXEC;
		map.path = pathoff ? line + pathoff : "";
		if (map.path[0] == '/' && ino) {
			char full[PATH_MAX];
			struct bid_ent *b;

			/*
			 * /proc shows paths from our root where it can reach the file
			 * (a chroot below ours), from the process's otherwise (another
			 * mount namespace): a path we cannot open is read through the
			 * process's root, and the file kept by build-id for report.
			 */
			foreign = !same_file(map.path, makedev(maj, min), ino);
			snprintf(full, sizeof(full), "/proc/%u/root%s", pid, map.path);
			b = build_id_for(st, foreign ? full : map.path, map.path, makedev(maj, min),
					 ino, foreign);

			if (b && b->len) {
				map.build_id_len = b->len;
				memcpy(map.build_id, b->id, b->len);
				map.cache_path = b->cache_path;
			}
		}
		err = recording__add_map(st->rec, &map);
		if (err)
			break;
		nmaps++;
	}
	free(line);
	fclose(f);
	if (err)
		return err;

	if (recording__proc(st->rec, pid, gen) && recording__proc(st->rec, pid, gen)->gen == gen)
		return 0; /* names read at an earlier note of this image */
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(proc.comm, sizeof(proc.comm), f))
			proc.comm[strcspn(proc.comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	proc.exe = exe;
	if (!ppid) {
		snprintf(path, sizeof(path), "/proc/%u/stat", pid);
		f = fopen(path, "re");
		if (f) {
			char buf[512], *rp;

			if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')))
				sscanf(rp + 1, " %*c %u", &proc.ppid);
			fclose(f);
		}
	}
	mt_debug("maps of %u (gen %u): %zu executable mappings", pid, gen, nmaps);
	return recording__add_proc(st->rec, &proc);
}

/*
 * Finds the file of a kernel-reported mapping: exec's own path (absolute,
 * or relative to the process's or our directory), a file some process
 * already mapped, or a library of that name in the usual directories.
 */
static int resolve_kmap(struct record_state *st, const struct mt_vma_note *n, uint64_t dev,
			char *out, size_t len, char *readable, size_t rlen)
{
	static const char *const dirs[] = {"/lib/x86_64-linux-gnu",
					   "/usr/lib/x86_64-linux-gnu",
					   "/lib64",
					   "/usr/lib64",
					   "/lib",
					   "/usr/lib",
					   "/usr/local/lib"};
	char name[MT_VMA_NAME_LEN + 1], cand[PATH_MAX];

	readable[0] = '\0';
	memcpy(name, n->name, MT_VMA_NAME_LEN);
	name[MT_VMA_NAME_LEN] = '\0';
	if (!name[0])
		return -ENOENT;
	if (n->kind != MT_VMA_MMAP) {
		if (name[0] == '/') {
			snprintf(cand, sizeof(cand), "/proc/%u/root%s", n->hdr.tgid, name);
			if (same_file(cand, dev, n->ino)) {
				snprintf(out, len, "%s", name);
				snprintf(readable, rlen, "%s", cand);
				return 0;
			}
			if (same_file(name, dev, n->ino)) {
				snprintf(out, len, "%s", name);
				snprintf(readable, rlen, "%s", name);
				return 0;
			}
		} else if (realpath(name, cand) && same_file(cand, dev, n->ino)) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
	}
	for (size_t i = 0; i < st->nbids; i++)
		if (st->bids[i].dev == dev && st->bids[i].ino == n->ino) {
			snprintf(out, len, "%s", st->bids[i].path);
			return 0;
		}
	if (strchr(name, '/'))
		return -ENOENT;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(cand, sizeof(cand), "%s/%s", dirs[i], name);
		if (same_file(cand, dev, n->ino)) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
	}
	/* a library next to the program (rpath $ORIGIN) */
	for (size_t i = 0; i < st->nkmaps; i++) {
		const struct mt_rec_map *k = &st->kmaps[i];
		char *slash;

		if (k->pid != n->hdr.tgid || k->gen != n->hdr.gen ||
		    !(slash = strrchr(k->path, '/')))
			continue;
		snprintf(cand, sizeof(cand), "%.*s/%s", (int)(slash - k->path), k->path, name);
		if (same_file(cand, dev, n->ino)) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
	}
	return -ENOENT;
}

static void on_vma_note(struct record_state *st, const struct mt_vma_note *n)
{
	/* the kernel's dev_t is major << 20 | minor */
	uint64_t dev = makedev(n->dev >> 20, n->dev & 0xfffff);
	char path[PATH_MAX], readable[PATH_MAX + 32];
	struct mt_rec_map *k;
	struct bid_ent *b;

	if (resolve_kmap(st, n, dev, path, sizeof(path), readable, sizeof(readable))) {
		mt_debug("cannot find the file of a mapping of %u (%.64s)", n->hdr.tgid, n->name);
		return;
	}
	if (st->nkmaps == st->capkmaps) {
		size_t cap = st->capkmaps ? st->capkmaps * 2 : 64;
		void *p = realloc(st->kmaps, cap * sizeof(*st->kmaps));

		if (!p)
			return;
		st->kmaps = p;
		st->capkmaps = cap;
	}
	k = &st->kmaps[st->nkmaps];
	memset(k, 0, sizeof(*k));
	k->path = strdup(path);
	if (!k->path)
		return;
	st->nkmaps++;
	k->start = n->start;
	k->end = n->end;
	k->pgoff = n->pgoff;
	k->pid = n->hdr.tgid;
	k->gen = n->hdr.gen;
	k->prot = PROT_READ | PROT_EXEC;
	b = build_id_for(st, readable[0] ? readable : path, path, dev, n->ino,
			 !same_file(path, dev, n->ino));
	if (b && b->len) {
		k->build_id_len = b->len;
		memcpy(k->build_id, b->id, b->len);
		k->cache_path = b->cache_path; /* copied by recording__add_map */
	}
	if (n->kind == MT_VMA_PROGRAM && !recording__proc(st->rec, n->hdr.tgid, n->hdr.gen)) {
		/* named now in case /proc is never read: exec's comm is the file's name */
		struct mt_rec_proc proc = {.pid = n->hdr.tgid, .gen = n->hdr.gen, .exe = path};
		const char *base = strrchr(path, '/');

		/* cut at 15 bytes as the kernel cuts comm */
		snprintf(proc.comm, sizeof(proc.comm), "%.15s", base ? base + 1 : path);
		recording__add_proc(st->rec, &proc);
	}
}

/*
 * Adds the kernel-reported mappings of (pid, gen) that /proc did not show:
 * all of them for an image that vanished before its maps were read, the
 * late ones (libraries mapped after the last reading) otherwise.
 */
static int add_kernel_maps(struct record_state *st, uint32_t pid, uint32_t gen)
{
	size_t nmaps;
	const struct mt_rec_map *maps = recording__maps(st->rec, &nmaps);
	size_t first = nmaps;
	int err = 0;

	for (size_t i = 0; i < st->nkmaps && !err; i++) {
		const struct mt_rec_map *k = &st->kmaps[i];
		bool covered = false;

		if (k->pid != pid || k->gen != gen)
			continue;
		maps = recording__maps(st->rec, &nmaps);
		for (size_t j = 0; j < first && !covered; j++)
			covered = maps[j].pid == pid && maps[j].gen == gen &&
				  maps[j].start <= k->start && k->start < maps[j].end;
		if (!covered)
			err = recording__add_map(st->rec, k);
	}
	return err;
}

static int on_note(void *ctx, void *data, size_t len)
{
	struct record_state *st = ctx;
	const struct mt_note *n = data;
	struct mt_tracked t;

	if (len < sizeof(*n))
		return 0;
	st->notes++;
	if (n->type == MT_NOTE_VMA) {
		/* recorded whether or not the process is alive: that is the point */
		if (len >= sizeof(struct mt_vma_note))
			on_vma_note(st, data);
		return 0;
	}
	/* the process has exec'd since: what /proc shows now belongs to a later note */
	if (n->type != MT_NOTE_EXIT &&
	    !bpf_map_lookup_elem(bpf_map__fd(st->skel->maps.tracked), &n->tgid, &t) &&
	    t.gen != n->gen)
		return 0;
	switch (n->type) {
	case MT_NOTE_FORK:
		snapshot_proc(st, n->tgid, 0, n->ppid);
		break;
	case MT_NOTE_EXEC:
	case MT_NOTE_MAPS:
		snapshot_proc(st, n->tgid, n->gen, 0);
		break;
	case MT_NOTE_EXIT:
		mt_debug("process %u exited", n->tgid);
		break;
	}
	return 0;
}

static void sum_counters(struct stacks_bpf *skel, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(skel->maps.stcnt);
	uint64_t *vals;

	memset(out, 0, MT_SC_NR * sizeof(*out));
	if (ncpu <= 0)
		return;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return;
	for (uint32_t i = 0; i < MT_SC_NR; i++) {
		if (bpf_map_lookup_elem(fd, &i, vals))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
}

static uint64_t drops_of(const uint64_t *c)
{
	return c[MT_SC_STACK_COLLISION] + c[MT_SC_STACK_FULL] + c[MT_SC_STACK_ERR] +
	       c[MT_SC_KEYS_FULL] + c[MT_SC_NOTES_FULL] + c[MT_SC_TRACKED_FULL] +
	       c[MT_SC_INFLIGHT_FULL] + c[MT_SC_ALLOCS_FULL];
}

static size_t count_keys(struct stacks_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.agg);
	struct mt_stack_key key, next;
	size_t n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

static bool tracked_empty(struct stacks_bpf *skel)
{
	uint32_t next;

	return bpf_map_get_next_key(bpf_map__fd(skel->maps.tracked), NULL, &next) != 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Index of h in the sorted array, by binary search; -1 if absent. */
static int32_t hash_index(const uint64_t *arr, size_t n, uint64_t h)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (arr[mid] == h)
			return mid;
		if (arr[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * Collects the aggregate and the stacks it names into the recording. The
 * kernel keys stacks by 64-bit hash; the file numbers them 0..n-1.
 */
static int harvest(struct record_state *st)
{
	int agg_fd = bpf_map__fd(st->skel->maps.agg);
	int stack_fd = bpf_map__fd(st->skel->maps.stacks);
	struct mt_stack_key key, next, *keys = NULL;
	struct mt_stack_val *vals = NULL;
	size_t nkeys = 0, cap = 0, nhashes = 0;
	uint64_t *hashes = NULL;
	struct mt_stack stack;
	void *prev = NULL;
	int err = 0;

	while (!bpf_map_get_next_key(agg_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (nkeys == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			void *k = realloc(keys, ncap * sizeof(*keys)), *v;

			if (!k) {
				err = -ENOMEM;
				goto cleanup;
			}
			keys = k;
			v = realloc(vals, ncap * sizeof(*vals));
			if (!v) {
				err = -ENOMEM;
				goto cleanup;
			}
			vals = v;
			cap = ncap;
		}
		if (bpf_map_lookup_elem(agg_fd, &key, &vals[nkeys]))
			continue; /* deleted meanwhile */
		if (vals[nkeys].count == 0 && vals[nkeys].bytes == 0)
			continue; /* a malloc key whose blocks were all freed */
		keys[nkeys++] = key;
	}
	hashes = calloc(nkeys ? nkeys : 1, sizeof(*hashes));
	if (!hashes) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < nkeys; i++)
		if (!MT_STACK_IS_ERR(keys[i].stack))
			hashes[nhashes++] = keys[i].stack;
	qsort(hashes, nhashes, sizeof(*hashes), u64_cmp);
	{
		size_t w = 0;

		for (size_t i = 0; i < nhashes; i++)
			if (!i || hashes[i] != hashes[i - 1])
				hashes[w++] = hashes[i];
		nhashes = w;
	}
	for (size_t i = 0; i < nhashes; i++) {
		uint32_t nr = 0;

		if (bpf_map_lookup_elem(stack_fd, &hashes[i], &stack))
			memset(&stack, 0,
			       sizeof(stack)); /* cannot happen: stacks are never deleted */
		while (nr < MT_STACK_DEPTH && stack.ips[nr])
			nr++;
		err = recording__add_stack(st->rec, i, (const uint64_t *)stack.ips, nr);
		if (err)
			goto cleanup;
	}
	for (size_t i = 0; i < nkeys; i++) {
		struct mt_rec_sample s = {};

		s.pid = keys[i].tgid;
		s.stack_id = MT_STACK_IS_ERR(keys[i].stack)
				 ? (int32_t)(int64_t)keys[i].stack
				 : hash_index(hashes, nhashes, keys[i].stack);
		s.gen = keys[i].gen;
		s.event = keys[i].event;
		s.class = keys[i].class;
		s.count = vals[i].count;
		s.bytes = vals[i].bytes;
		s.leaf_ip = vals[i].leaf_ip;
		s.leaf_sp = vals[i].leaf_sp;
		s.leaf_nr = vals[i].leaf_nr > MT_LEAF_WORDS ? MT_LEAF_WORDS : vals[i].leaf_nr;
		memcpy(s.leaf_words, vals[i].leaf_words, sizeof(s.leaf_words));
		err = recording__add_sample(st->rec, &s);
		if (err)
			goto cleanup;
		if (i && keys[i].tgid == keys[i - 1].tgid && keys[i].gen == keys[i - 1].gen)
			continue; /* the image's maps are settled */
		/* still alive: read now; then what the kernel reported and /proc did not show */
		if (!recording__has_maps(st->rec, keys[i].tgid, keys[i].gen))
			snapshot_proc(st, keys[i].tgid, keys[i].gen, 0);
		err = add_kernel_maps(st, keys[i].tgid, keys[i].gen);
		if (err)
			goto cleanup;
	}
cleanup:
	free(keys);
	free(vals);
	free(hashes);
	return err;
}

/* A fork that never exec'd shares its parent's layout (report falls back to it). */
static bool parent_has_maps(const struct recording *rec, uint32_t pid, uint32_t gen)
{
	const struct mt_rec_proc *proc = recording__proc(rec, pid, gen);
	size_t n;
	const struct mt_rec_map *maps = recording__maps(rec, &n);

	if (gen || !proc || !proc->ppid)
		return false;
	for (size_t i = 0; i < n; i++)
		if (maps[i].pid == proc->ppid)
			return true;
	return false;
}

static int read_thp_always(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strstr(buf, "[always]") != NULL;
}

/* The C library the traced processes use, for --malloc. */
static int find_libc(pid_t pid, char *out, size_t len)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *p = strchr(line, '/');

		if (!p || !strstr(p, "/libc.so"))
			continue;
		p[strcspn(p, "\n")] = '\0';
		if (pid == getpid())
			snprintf(out, len, "%s", p);
		else
			snprintf(out, len, "/proc/%d/root%s", pid, p);
		err = 0;
		break;
	}
	free(line);
	fclose(f);
	return err;
}

static int keep_link(struct record_state *st, struct bpf_link *link)
{
	if (st->nlinks == st->caplinks) {
		int cap = st->caplinks ? st->caplinks * 2 : 16;
		struct bpf_link **p = realloc(st->links, cap * sizeof(*p));

		if (!p) {
			bpf_link__destroy(link);
			return -ENOMEM;
		}
		st->links = p;
		st->caplinks = cap;
	}
	st->links[st->nlinks++] = link;
	return 0;
}

static int attach_uprobe(struct record_state *st, struct bpf_program *prog, pid_t pid,
			 const char *libc, const char *func, bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = func, .retprobe = ret);
	struct bpf_link *link;
	int err;

	link = bpf_program__attach_uprobe_opts(prog, pid, libc, 0, &uo);
	if (!link) {
		err = -errno;
		mt_err("cannot attach %s to %s in %s: %s", ret ? "uretprobe" : "uprobe", func, libc,
		       strerror(-err));
		return err;
	}
	return keep_link(st, link);
}

/*
 * The allocator's entry points in the C library of sample_pid, for pid
 * only, or for every process (pid -1) when children are followed: they
 * are not known yet, and the BPF side filters by the tracked map anyway.
 */
static int attach_malloc(struct record_state *st, pid_t sample_pid, pid_t pid)
{
	struct stacks_bpf *skel = st->skel;
	char libc[PATH_MAX];
	struct {
		struct bpf_program *prog;
		const char *func;
		bool ret;
	} probes[] = {
	    {skel->progs.stk_malloc, "malloc", false},
	    {skel->progs.stk_malloc_ret, "malloc", true},
	    {skel->progs.stk_calloc, "calloc", false},
	    {skel->progs.stk_malloc_ret, "calloc", true},
	    {skel->progs.stk_realloc, "realloc", false},
	    {skel->progs.stk_malloc_ret, "realloc", true},
	    {skel->progs.stk_aligned, "aligned_alloc", false},
	    {skel->progs.stk_malloc_ret, "aligned_alloc", true},
	    {skel->progs.stk_memalign, "posix_memalign", false},
	    {skel->progs.stk_memalign_ret, "posix_memalign", true},
	    {skel->progs.stk_mmap, "mmap", false},
	    {skel->progs.stk_malloc_ret, "mmap", true},
	    {skel->progs.stk_free, "free", false},
	    {skel->progs.stk_munmap, "munmap", false},
	};
	int err;

	err = find_libc(sample_pid, libc, sizeof(libc));
	if (err) {
		mt_err("cannot find the C library of process %d for --malloc: %s", sample_pid,
		       strerror(-err));
		return err;
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		err = attach_uprobe(st, probes[i].prog, pid, libc, probes[i].func, probes[i].ret);
		if (err)
			return err;
	}
	mt_info("--malloc: uprobes on %s for %s", libc, pid < 0 ? "every process" : "one process");
	return 0;
}

/* Each tracepoint as tp_btf, or raw_tp where BTF lacks it (the STYLE ladder). */
struct tp_pair {
	const char *tp;
	struct bpf_program *btf, *raw;
};

static size_t tp_pairs(struct stacks_bpf *skel, struct tp_pair *out)
{
	const struct tp_pair pairs[] = {
	    {"page_fault_user", skel->progs.stk_fault, skel->progs.stk_fault_raw},
	    {"sys_enter", skel->progs.stk_sys_enter, skel->progs.stk_sysent_raw},
	    {"sys_exit", skel->progs.stk_sys_exit, skel->progs.stk_sysexit_raw},
	    {"sched_process_fork", skel->progs.stk_fork, skel->progs.stk_fork_raw},
	    {"sched_process_exec", skel->progs.stk_exec, skel->progs.stk_exec_raw},
	    {"sched_process_exit", skel->progs.stk_exit, skel->progs.stk_exit_raw},
	};

	memcpy(out, pairs, sizeof(pairs));
	return sizeof(pairs) / sizeof(pairs[0]);
}

/* Opens and loads the skeleton, tp_btf where BTF has the tracepoint unless force_raw. */
static int open_and_load(struct record_state *st, const struct record_opts *opts, bool force_raw)
{
	struct tp_pair pairs[8];
	size_t n;
	int err;

	st->skel = stacks_bpf__open();
	if (!st->skel) {
		err = -errno;
		mt_err("cannot open the stacks BPF object: %s", strerror(-err));
		return err;
	}
	st->skel->rodata->event_mask = opts->events;
	st->skel->rodata->sample_every = opts->sample_every;
	st->skel->rodata->follow_forks = opts->ncmd > 0;
	st->skel->rodata->thp_always = read_thp_always();
	st->skel->rodata->nr_mmap = SYS_mmap;
	st->skel->rodata->nr_brk = SYS_brk;
	st->skel->rodata->nr_munmap = SYS_munmap;
	st->skel->rodata->nr_mremap = SYS_mremap;
	st->skel->rodata->nr_shmat = SYS_shmat;
	st->skel->rodata->nr_shmdt = SYS_shmdt;
	bpf_map__set_max_entries(st->skel->maps.stacks, opts->max_stacks);
	if (!opts->malloc) {
		struct bpf_program *prog;

		for (prog = bpf_object__next_program(st->skel->obj, NULL); prog;
		     prog = bpf_object__next_program(st->skel->obj, prog))
			if (strncmp(bpf_program__section_name(prog), "uprobe", 6) == 0 ||
			    strncmp(bpf_program__section_name(prog), "uretprobe", 9) == 0)
				bpf_program__set_autoload(prog, false);
	}
	n = tp_pairs(st->skel, pairs);
	for (size_t i = 0; i < n; i++) {
		bool btf = !force_raw && features__have_tp_btf(pairs[i].tp);

		bpf_program__set_autoload(pairs[i].btf, btf);
		bpf_program__set_autoload(pairs[i].raw, !btf);
		mt_debug("%s: %s", pairs[i].tp, btf ? "tp_btf" : "raw_tp");
	}
	err = stacks_bpf__load(st->skel);
	if (err) {
		stacks_bpf__destroy(st->skel);
		st->skel = NULL;
	}
	return err;
}

/* Forks cmd held on a pipe until it is tracked; returns its pid, the write end in *go. */
static pid_t spawn_held(char **cmd, int *go)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid == 0) {
		char c;

		close(fds[1]);
		if (read(fds[0], &c, 1) != 1)
			_exit(127); /* the recorder gave up before starting us */
		execvp(cmd[0], cmd);
		fprintf(stderr, "memtrace: cannot run %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	*go = fds[1];
	return pid;
}

static void progress(struct record_state *st, uint64_t elapsed_ns, bool final)
{
	uint64_t c[MT_SC_NR];
	char dur[32];

	sum_counters(st->skel, c);
	format_duration(dur, sizeof(dur), elapsed_ns);
	fprintf(stderr,
		"\r\033[Krecording: %s, %" PRIu64 " events, %zu stacks, %" PRIu64 " drops%s", dur,
		c[MT_SC_EVENTS], count_keys(st->skel), drops_of(c), final ? "\n" : "");
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void reap_child(struct record_state *st, bool block)
{
	int status;

	if (st->child <= 0 || st->child_reaped)
		return;
	if (waitpid(st->child, &status, block ? 0 : WNOHANG) == st->child) {
		st->child_reaped = true;
		st->child_status = status;
	}
}

static int run_record(struct record_opts *opts)
{
	struct record_state st = {.opts = opts, .child = -1};
	struct mt_rec_meta meta = {};
	struct ring_buffer *rb = NULL;
	uint64_t counters[MT_SC_NR], start_mono, last_progress = 0;
	bool tty = isatty(STDERR_FILENO);
	char *cmdline = NULL;
	size_t cmdlen = 0;
	FILE *cmdf = NULL;
	int go = -1, err = 0;

	if (!opts->force && access(opts->output, F_OK) == 0) {
		mt_err("%s exists: refusing to overwrite it (use -f, or -o another file)",
		       opts->output);
		return -EEXIST;
	}
	{
		/* fail before recording, not after minutes of it */
		char *dir = strdup(opts->output);

		if (!dir)
			return -ENOMEM;
		err = access(strchr(dir, '/') ? dirname(dir) : ".", W_OK) ? -errno : 0;
		free(dir);
		if (err) {
			mt_err("cannot write %s: %s", opts->output, strerror(-err));
			return err;
		}
	}
	elf_version(EV_CURRENT);
	st.rec = recording__new();
	if (!st.rec)
		return -ENOMEM;

	mt_setup_libbpf_log();
	err = features__check_privileges();
	if (err) {
		mt_err("cannot record: permission denied (run as root or grant CAP_BPF and "
		       "CAP_PERFMON)");
		goto cleanup;
	}
	err = open_and_load(&st, opts, false);
	if (err) {
		mt_info("tp_btf programs did not load (%s): retrying with raw tracepoints",
			strerror(-err));
		err = open_and_load(&st, opts, true);
	}
	if (err) {
		mt_err(
		    "cannot load the stacks BPF programs: %s (run as root, on a kernel with BTF)",
		    strerror(-err));
		goto cleanup;
	}

	if (opts->ncmd) {
		pid_t pid = spawn_held(opts->cmd, &go);

		if (pid < 0) {
			err = pid;
			mt_err("cannot start %s: %s", opts->cmd[0], strerror(-err));
			goto cleanup;
		}
		st.child = pid;
		opts->pids[0] = pid;
		opts->npids = 1;
	}
	for (size_t i = 0; i < opts->npids; i++) {
		struct mt_tracked t = {};
		uint32_t pid = opts->pids[i];

		if (!opts->ncmd && kill(pid, 0) && errno == ESRCH) {
			err = -ESRCH;
			mt_err("no process %u to record", pid);
			goto cleanup;
		}
		if (bpf_map_update_elem(bpf_map__fd(st.skel->maps.tracked), &pid, &t, BPF_ANY)) {
			err = -errno;
			mt_err("cannot track process %u: %s", pid, strerror(-err));
			goto cleanup;
		}
		/* the held child is still a copy of us: its pre-exec frames resolve against these
		 */
		snapshot_proc(&st, pid, 0, 0);
	}

	/* tracepoints one by one, the loaded half of each pair: uprobes need a binary */
	{
		struct tp_pair pairs[8];
		size_t n = tp_pairs(st.skel, pairs);

		for (size_t i = 0; i < n; i++) {
			struct bpf_program *prog =
			    bpf_program__autoload(pairs[i].btf) ? pairs[i].btf : pairs[i].raw;
			struct bpf_link *link = bpf_program__attach(prog);

			if (!link) {
				err = -errno;
				mt_err("cannot attach %s: %s", bpf_program__section_name(prog),
				       strerror(-err));
				goto cleanup;
			}
			err = keep_link(&st, link);
			if (err)
				goto cleanup;
		}
	}
	if (opts->malloc) {
		if (opts->ncmd)
			err = attach_malloc(&st, getpid(), -1);
		for (size_t i = 0; !opts->ncmd && !err && i < opts->npids; i++)
			err = attach_malloc(&st, opts->pids[i], opts->pids[i]);
		if (err)
			goto cleanup;
	}

	rb = ring_buffer__new(bpf_map__fd(st.skel->maps.notes), on_note, &st, NULL);
	if (!rb) {
		err = -errno;
		mt_err("cannot open the notes ring buffer: %s", strerror(-err));
		goto cleanup;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	meta.start_ns = now_ns(CLOCK_REALTIME);
	start_mono = now_ns(CLOCK_MONOTONIC);
	if (go >= 0) {
		if (write(go, "g", 1) != 1) {
			err = -errno;
			mt_err("cannot start %s: %s", opts->cmd[0], strerror(-err));
			goto cleanup;
		}
		close(go);
		go = -1;
	}
	mt_info("recording %s into %s", opts->ncmd ? opts->cmd[0] : "processes", opts->output);

	while (!exiting) {
		uint64_t now;

		err = ring_buffer__poll(rb, 100 /* ms */);
		if (err < 0 && err != -EINTR) {
			mt_err("cannot poll the notes ring buffer: %s", strerror(-err));
			goto cleanup;
		}
		err = 0;
		reap_child(&st, false);
		now = now_ns(CLOCK_MONOTONIC);
		if (opts->duration_ns && now - start_mono >= opts->duration_ns)
			break;
		if (tracked_empty(st.skel))
			break; /* every traced process has exited */
		if (tty && now - last_progress >= 1000000000ULL) {
			progress(&st, now - start_mono, false);
			last_progress = now;
		}
	}
	ring_buffer__consume(rb);
	meta.duration_ns = now_ns(CLOCK_MONOTONIC) - start_mono;
	if (tty)
		progress(&st, meta.duration_ns, true);

	err = harvest(&st);
	if (err) {
		mt_err("cannot collect the recorded stacks: %s", strerror(-err));
		goto cleanup;
	}

	sum_counters(st.skel, counters);
	meta.events = opts->events;
	meta.sample_every = opts->sample_every;
	meta.malloc = opts->malloc;
	meta.ncounters = MT_SC_NR;
	memcpy(meta.counters, counters, sizeof(counters));
	{
		size_t ns;
		const struct mt_rec_sample *s = recording__samples(st.rec, &ns);

		uint64_t *images = calloc(ns ? ns : 1, sizeof(*images));

		/* distinct (pid, gen) images with samples but no maps */
		for (size_t i = 0; images && i < ns; i++)
			images[i] = (uint64_t)s[i].pid << 32 | s[i].gen;
		if (images)
			qsort(images, ns, sizeof(*images), u64_cmp);
		for (size_t i = 0; images && i < ns; i++)
			if ((!i || images[i] != images[i - 1]) &&
			    !recording__has_maps(st.rec, images[i] >> 32, (uint32_t)images[i]) &&
			    !parent_has_maps(st.rec, images[i] >> 32, (uint32_t)images[i]))
				meta.maps_missed++;
		free(images);
	}
	cmdf = open_memstream(&cmdline, &cmdlen);
	if (cmdf) {
		if (opts->ncmd)
			for (int i = 0; i < opts->ncmd; i++)
				fprintf(cmdf, "%s%s", i ? " " : "", opts->cmd[i]);
		else
			for (size_t i = 0; i < opts->npids; i++)
				fprintf(cmdf, "%s%d", i ? "," : "-p ", opts->pids[i]);
		fclose(cmdf);
	}
	meta.cmdline = cmdline;
	err = recording__set_meta(st.rec, &meta);
	if (!err)
		err = recording__write(st.rec, opts->output, opts->force);
	if (err) {
		mt_err("cannot write %s: %s", opts->output, strerror(-err));
		goto cleanup;
	}
	{
		size_t ns;

		recording__samples(st.rec, &ns);
		fprintf(stderr,
			"recorded %" PRIu64 " events (%" PRIu64
			" with a stack) in %zu call stacks into %s\n",
			counters[MT_SC_EVENTS], counters[MT_SC_SAMPLED], ns, opts->output);
	}
	for (int i = MT_SC_STACK_COLLISION; i < MT_SC_NR; i++)
		if (counters[i])
			mt_warn("%s: %" PRIu64, mt_counter_name(i), counters[i]);
	if (meta.maps_missed)
		mt_warn("%" PRIu64 " process images exited before their maps could be read: their "
			"frames show as addresses",
			meta.maps_missed);
cleanup:
	if (go >= 0)
		close(go); /* the held child sees EOF and exits 127 */
	ring_buffer__free(rb);
	for (int i = 0; i < st.nlinks; i++)
		bpf_link__destroy(st.links[i]);
	free(st.links);
	stacks_bpf__destroy(st.skel);
	if (st.child > 0 && !st.child_reaped) {
		if (exiting || opts->duration_ns)
			kill(st.child, SIGTERM);
		reap_child(&st, true);
	}
	if (st.child > 0 && st.child_reaped && WIFEXITED(st.child_status) &&
	    WEXITSTATUS(st.child_status))
		mt_info("%s exited with status %d", opts->cmd[0], WEXITSTATUS(st.child_status));
	for (size_t i = 0; i < st.nbids; i++) {
		free(st.bids[i].path);
		free(st.bids[i].cache_path);
	}
	for (size_t i = 0; i < st.nkmaps; i++)
		free(st.kmaps[i].path);
	free(st.kmaps);
	free(st.bids);
	free(cmdline);
	recording__free(st.rec);
	return err;
}

/* ---- command line ---- */

enum {
	OPT_EVENTS = 0x100,
	OPT_SAMPLE,
	OPT_MALLOC,
	OPT_MAX_STACKS,
};

static const char record_doc[] =
    "Record which call stacks grow memory: user stacks at page faults, mmap\n"
    "and brk (and with --malloc, the C library's allocator).\n"
    "\n"
    "usage: memtrace record [options] -p PID[,PID...]\n"
    "       memtrace record [options] -- CMD [ARGS...]\n"
    "\n"
    "Stops after -d, on Ctrl-C, or when every traced process has exited.\n"
    "With -- CMD, children of CMD are followed across fork and exec; at -d\n"
    "or Ctrl-C CMD is sent SIGTERM. Weights are bytes: a fault weighs its\n"
    "page (4 KiB; 2 MiB where the VMA is eligible for a transparent huge\n"
    "page), mmap and brk what they grew. See the README.\n"
    "\n"
    "EXAMPLES:\n"
    "  memtrace record -- make -j8          # a build and everything it runs\n"
    "  memtrace record -p 1234 -d 30s -o app.data\n"
    "  memtrace record --events fault --sample 100 -p 1234\n"
    "  memtrace record --malloc -- ./server # adds the outstanding-malloc view\n"
    "\v"
    "Then: memtrace report -i memtrace.data";

static const struct argp_option record_options[] = {
    {"pid", 'p', "PID[,PID...]", 0, "Record these running processes (all their threads)", 0},
    {"duration", 'd', "DURATION", 0, "Stop after DURATION (500ms, 30s, 5m)", 0},
    {"output", 'o', "FILE", 0, "Write the recording to FILE (default memtrace.data)", 0},
    {"force", 'f', NULL, 0, "Overwrite an existing output file", 0},
    {"events", OPT_EVENTS, "LIST", 0, "Comma list of fault, mmap, brk (default all)", 0},
    {"sample", OPT_SAMPLE, "N", 0, "Take a stack at one event in N, weights scaled by N", 0},
    {"malloc", OPT_MALLOC, NULL, 0, "Also trace the allocator (outstanding bytes)", 0},
    {"max-stacks", OPT_MAX_STACKS, "N", 0, "Stack map capacity (default 16384)", 0},
    {"verbose", 'v', NULL, 0, "More diagnostics (repeat for libbpf's)", 0},
    {},
};

static int parse_u32(const char *arg, const char *name, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
		mt_err("invalid %s '%s': expected a whole number from %u to %u", name, arg, min,
		       max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static error_t record_parse(int key, char *arg, struct argp_state *state)
{
	struct record_opts *opts = state->input;
	int err;

	switch (key) {
	case 'p':
		err = parse_pid_list(arg, opts->pids, MAX_PIDS, &opts->npids);
		if (err) {
			mt_err("invalid --pid '%s': expected PIDs like 1234 or 1,2,3 (at most %d, "
			       "no repeats)",
			       arg, MAX_PIDS);
			argp_usage(state);
		}
		break;
	case 'd':
		if (parse_duration(arg, &opts->duration_ns, 0)) {
			mt_err("invalid --duration '%s': expected a duration like 500ms or 30s",
			       arg);
			argp_usage(state);
		}
		break;
	case 'o':
		if (!*arg) {
			mt_err("invalid --output '': expected a file name");
			argp_usage(state);
		}
		opts->output = arg;
		break;
	case 'f':
		opts->force = true;
		break;
	case OPT_EVENTS:
		if (mt_parse_events(arg, &opts->events)) {
			mt_err("invalid --events '%s': expected a comma list of fault, mmap, brk",
			       arg);
			argp_usage(state);
		}
		break;
	case OPT_SAMPLE:
		if (parse_u32(arg, "--sample", 1, 1000000, &opts->sample_every))
			argp_usage(state);
		break;
	case OPT_MALLOC:
		opts->malloc = true;
		break;
	case OPT_MAX_STACKS:
		if (parse_u32(arg, "--max-stacks", 64, 1 << 22, &opts->max_stacks))
			argp_usage(state);
		break;
	case 'v':
		mt_verbose++;
		break;
	case ARGP_KEY_ARG:
		/* the first non-option starts CMD: the rest is its argv */
		opts->cmd = &state->argv[state->next - 1];
		opts->ncmd = state->argc - state->next + 1;
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (!opts->ncmd && !opts->npids) {
			mt_err("nothing to record: give -p PID or -- CMD");
			argp_usage(state);
		}
		if (opts->ncmd && opts->npids) {
			mt_err("-p and -- CMD cannot be combined");
			argp_usage(state);
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int cmd_record(int argc, char **argv)
{
	struct record_opts *opts = calloc(1, sizeof(*opts));
	const struct argp argp = {record_options, record_parse, NULL, record_doc, NULL, NULL, NULL};
	int err;

	if (!opts) {
		mt_err("out of memory");
		return MT_EXIT_FAILURE;
	}
	opts->output = "memtrace.data";
	opts->events = MT_EVMASK(MT_EV_FAULT) | MT_EVMASK(MT_EV_MMAP) | MT_EVMASK(MT_EV_BRK);
	opts->sample_every = 1;
	opts->max_stacks = MT_DEFAULT_MAX_STACKS;
	argp_err_exit_status = MT_EXIT_USAGE;
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, opts)) {
		free(opts);
		return MT_EXIT_USAGE;
	}
	err = run_record(opts);
	free(opts);
	return err ? MT_EXIT_FAILURE : MT_EXIT_OK;
}
