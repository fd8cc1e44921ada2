// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "buildid.h"
#include "log.h"
#include "procfs.h"
#include "procmaps.h"

struct procmaps {
	struct recording *rec;
	struct buildid_cache *bids;
	struct mt_rec_map *kmaps; /* mappings the kernel reported, for images that vanish */
	size_t nkmaps, capkmaps;
	uint64_t reads, failed;
};

struct procmaps *procmaps__new(struct recording *rec)
{
	struct procmaps *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pm->rec = rec;
	pm->bids = buildid_cache__new();
	if (!pm->bids) {
		free(pm);
		return NULL;
	}
	return pm;
}

void procmaps__free(struct procmaps *pm)
{
	if (!pm)
		return;
	for (size_t i = 0; i < pm->nkmaps; i++)
		free(pm->kmaps[i].path);
	free(pm->kmaps);
	buildid_cache__free(pm->bids);
	free(pm);
}

void procmaps__stats(const struct procmaps *pm, uint64_t *reads, uint64_t *failed)
{
	*reads = pm->reads;
	*failed = pm->failed;
}

/* Whether path is the file (dev, ino); path as we can open it. */
static bool same_file(const char *path, uint64_t dev, uint64_t ino)
{
	struct stat sb;

	return stat(path, &sb) == 0 && sb.st_dev == dev && sb.st_ino == ino;
}

static void set_build_id(struct mt_rec_map *map, const struct buildid_ent *b)
{
	if (!b || !b->len)
		return;
	map->build_id_len = b->len;
	memcpy(map->build_id, b->id, b->len);
	map->cache_path = b->cache_path; /* copied by recording__add_map */
}

/* One line of /proc/PID/maps into map (path points into line); false for non-code. */
static bool parse_maps_line(char *line, struct mt_rec_map *map, uint64_t *dev, uint64_t *ino)
{
	unsigned long long start, end, off, inode;
	unsigned int maj, min;
	char perms[8];
	int pathoff = 0;

	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj, &min,
		   &inode, &pathoff) < 7)
		return false;
	if (perms[2] != 'x')
		return false; /* only code needs symbols */
	line[strcspn(line, "\n")] = '\0';
	map->start = start;
	map->end = end;
	map->pgoff = off;
	map->prot =
	    (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) | PROT_EXEC;
	map->path = pathoff ? line + pathoff : "";
	*dev = makedev(maj, min);
	*ino = inode;
	return true;
}

static int read_maps(struct procmaps *pm, FILE *f, uint32_t pid, uint32_t gen, size_t *nmaps)
{
	char *line = NULL;
	size_t cap = 0;
	int err = 0;

	while (!err && getline(&line, &cap, f) > 0) {
		struct mt_rec_map map = { .pid = pid, .gen = gen };
		uint64_t dev, ino;

		if (!parse_maps_line(line, &map, &dev, &ino))
			continue;
		if (map.path[0] == '/' && ino) {
			enum buildid_via via = BUILDID_OURS;
			char full[PATH_MAX];
			struct stat sb;

			/*
			 * /proc shows paths from our root where it can reach the file
			 * (a chroot below ours), from the root of the file's mount
			 * namespace otherwise: a path we cannot open is read through
			 * the process's root, and the file kept by build-id for
			 * report. Where that root is itself a chroot in the namespace
			 * (unshare -m from a chroot), that path names nothing there:
			 * the kernel's link to the mapped file is read instead.
			 */
			if (!same_file(map.path, dev, ino)) {
				via = BUILDID_ROOT;
				snprintf(full, sizeof(full), "/proc/%u/root%s", pid, map.path);
				if (stat(full, &sb) && errno == ENOENT) {
					via = BUILDID_MAPPED;
					snprintf(full, sizeof(full),
						 "/proc/%u/map_files/%" PRIx64 "-%" PRIx64, pid,
						 map.start, map.end);
				}
			}
			set_build_id(&map, buildid_cache__get(pm->bids,
							      via == BUILDID_OURS ? map.path : full,
							      map.path, dev, ino, via));
		}
		err = recording__add_map(pm->rec, &map);
		if (!err)
			(*nmaps)++;
	}
	free(line);
	return err;
}

/* comm, exe, user and (unless known) the parent of a live process. */
static int read_names(struct procmaps *pm, uint32_t pid, uint32_t gen, uint32_t ppid)
{
	struct mt_rec_proc proc = { .pid = pid, .gen = gen, .ppid = ppid };
	char path[64], exe[PATH_MAX];
	struct proc_status status;
	ssize_t n;
	FILE *f;

	if (proc_status__read(pid, &status) == 0) {
		proc.uid = status.uid;
		proc.has_uid = 1;
	}

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
	return recording__add_proc(pm->rec, &proc);
}

int procmaps__read(struct procmaps *pm, uint32_t pid, uint32_t gen, uint32_t ppid)
{
	const struct mt_rec_proc *known;
	size_t nmaps = 0;
	char path[64];
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		pm->failed++;
		/* gone already: keep who its parent was, its frames may resolve there */
		if (ppid && !recording__proc(pm->rec, pid, gen)) {
			struct mt_rec_proc proc = { .pid = pid, .gen = gen, .ppid = ppid };

			snprintf(proc.comm, sizeof(proc.comm), "[exited]");
			recording__add_proc(pm->rec, &proc);
		}
		return err;
	}
	pm->reads++;
	recording__drop_maps(pm->rec, pid, gen);
	err = read_maps(pm, f, pid, gen, &nmaps);
	fclose(f);
	if (err)
		return err;
	known = recording__proc(pm->rec, pid, gen);
	if (known && known->gen == gen)
		return 0; /* names read at an earlier note of this image */
	mt_debug("maps of %u (gen %u): %zu executable mappings", pid, gen, nmaps);
	return read_names(pm, pid, gen, ppid);
}

/* A file of that name in the library directories, or next to the program ($ORIGIN). */
static int find_library(const struct procmaps *pm, const struct mt_vma_note *n, const char *name,
			uint64_t dev, char *out, size_t len)
{
	static const char *const dirs[] = { "/lib/x86_64-linux-gnu",
					    "/usr/lib/x86_64-linux-gnu",
					    "/lib/aarch64-linux-gnu",
					    "/usr/lib/aarch64-linux-gnu",
					    "/lib64",
					    "/usr/lib64",
					    "/lib",
					    "/usr/lib",
					    "/usr/local/lib" };
	char cand[PATH_MAX];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(cand, sizeof(cand), "%s/%s", dirs[i], name);
		if (same_file(cand, dev, n->ino)) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
	}
	for (size_t i = 0; i < pm->nkmaps; i++) {
		const struct mt_rec_map *k = &pm->kmaps[i];
		const char *slash;

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

/*
 * Finds the file of a kernel-reported mapping: exec's own path (absolute,
 * or relative to the process's or our directory), a file some process
 * already mapped, or a library of that name in the usual directories.
 */
static int resolve_kmap(const struct procmaps *pm, const struct mt_vma_note *n, uint64_t dev,
			char *out, size_t len, char *readable, size_t rlen)
{
	char name[MT_VMA_NAME_LEN + 1], cand[PATH_MAX];
	const struct buildid_ent *b;

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
	b = buildid_cache__find(pm->bids, dev, n->ino);
	if (b) {
		snprintf(out, len, "%s", b->path);
		return 0;
	}
	if (strchr(name, '/'))
		return -ENOENT;
	return find_library(pm, n, name, dev, out, len);
}

static struct mt_rec_map *new_kmap(struct procmaps *pm, const char *path)
{
	struct mt_rec_map *k;

	if (pm->nkmaps == pm->capkmaps) {
		size_t cap = pm->capkmaps ? pm->capkmaps * 2 : 64;
		void *p = realloc(pm->kmaps, cap * sizeof(*pm->kmaps));

		if (!p)
			return NULL;
		pm->kmaps = p;
		pm->capkmaps = cap;
	}
	k = &pm->kmaps[pm->nkmaps];
	memset(k, 0, sizeof(*k));
	k->path = strdup(path);
	if (!k->path)
		return NULL;
	pm->nkmaps++;
	return k;
}

void procmaps__on_vma_note(struct procmaps *pm, const struct mt_vma_note *n)
{
	/* the kernel's dev_t is major << 20 | minor */
	uint64_t dev = makedev(n->dev >> 20, n->dev & 0xfffff);
	char path[PATH_MAX], readable[PATH_MAX + 32];
	struct mt_rec_map *k;

	if (resolve_kmap(pm, n, dev, path, sizeof(path), readable, sizeof(readable))) {
		mt_debug("cannot find the file of a mapping of %u (%.64s)", n->hdr.tgid, n->name);
		return;
	}
	k = new_kmap(pm, path);
	if (!k)
		return;
	k->start = n->start;
	k->end = n->end;
	k->pgoff = n->pgoff;
	k->pid = n->hdr.tgid;
	k->gen = n->hdr.gen;
	k->prot = PROT_READ | PROT_EXEC;
	set_build_id(
	    k, buildid_cache__get(pm->bids, readable[0] ? readable : path, path, dev, n->ino,
				  same_file(path, dev, n->ino) ? BUILDID_OURS : BUILDID_ROOT));
	if (n->kind == MT_VMA_PROGRAM && !recording__proc(pm->rec, n->hdr.tgid, n->hdr.gen)) {
		/* named now in case /proc is never read: exec's comm is the file's name */
		struct mt_rec_proc proc = { .pid = n->hdr.tgid, .gen = n->hdr.gen, .exe = path };
		const char *base = strrchr(path, '/');

		/* cut at 15 bytes as the kernel cuts comm */
		snprintf(proc.comm, sizeof(proc.comm), "%.15s", base ? base + 1 : path);
		recording__add_proc(pm->rec, &proc);
	}
}

int procmaps__add_kernel_maps(struct procmaps *pm, uint32_t pid, uint32_t gen)
{
	size_t nmaps;
	const struct mt_rec_map *maps = recording__maps(pm->rec, &nmaps);
	size_t first = nmaps;
	int err = 0;

	for (size_t i = 0; i < pm->nkmaps && !err; i++) {
		const struct mt_rec_map *k = &pm->kmaps[i];
		bool covered = false;

		if (k->pid != pid || k->gen != gen)
			continue;
		maps = recording__maps(pm->rec, &nmaps);
		for (size_t j = 0; j < first && !covered; j++)
			covered = maps[j].pid == pid && maps[j].gen == gen &&
				  maps[j].start <= k->start && k->start < maps[j].end;
		if (!covered)
			err = recording__add_map(pm->rec, k);
	}
	return err;
}

int procmaps__find_libc(int pid, char *out, size_t len)
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
