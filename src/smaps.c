// SPDX-License-Identifier: GPL-2.0
/*
 * Hand-written parser: /proc's smaps text is a fixed "Key:  N kB" format and
 * no Debian library parses it; this one walks the buffer once, allocating
 * nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "procfs.h"
#include "smaps.h"

struct smaps_reader {
	char *buf;
	size_t cap;
	int proc_fd;		 /* proc_dir_open() */
	struct fd_batch *closes; /* smaps_reader__defer_close(), or NULL */
	bool no_rollup;		 /* this kernel has no smaps_rollup: go straight to smaps */
};

struct field {
	const char *key;
	unsigned char keylen;
	unsigned short offset;
	uint32_t present;
};

#define F(k, member, bit)                                                                          \
	{                                                                                          \
		k, sizeof(k) - 1, offsetof(struct smaps_rollup, member), bit                       \
	}

static const struct field fields[] = {
	F("Rss", rss, SMAPS_HAS_RSS),
	F("Pss", pss, SMAPS_HAS_PSS),
	F("Pss_Anon", pss_anon, SMAPS_HAS_PSS_SPLIT),
	F("Pss_File", pss_file, SMAPS_HAS_PSS_SPLIT),
	F("Pss_Shmem", pss_shmem, SMAPS_HAS_PSS_SPLIT),
	F("Shared_Clean", shared_clean, 0),
	F("Shared_Dirty", shared_dirty, 0),
	F("Private_Clean", private_clean, 0),
	F("Private_Dirty", private_dirty, 0),
	F("Anonymous", anonymous, 0),
	F("AnonHugePages", anon_huge, 0),
	F("ShmemPmdMapped", shmem_pmd, 0),
	F("FilePmdMapped", file_pmd, 0),
	F("Shared_Hugetlb", shared_hugetlb, SMAPS_HAS_HUGETLB),
	F("Private_Hugetlb", private_hugetlb, SMAPS_HAS_HUGETLB),
	F("Swap", swap, SMAPS_HAS_SWAP),
	F("SwapPss", swap_pss, SMAPS_HAS_SWAP_PSS),
	F("Locked", locked, 0),
};

#undef F

static const struct field *find_field(const char *key, size_t len)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].keylen == len && memcmp(fields[i].key, key, len) == 0)
			return &fields[i];
	return NULL;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* "55ee0d00d000-7fffb3091000 ..." mapping header: record the span */
static void parse_header(const char *p, const char *eol, struct smaps_rollup *out)
{
	uint64_t start = 0, end = 0;

	while (p < eol && is_hex(*p))
		start = start * 16 + (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10), p++;
	if (p == eol || *p != '-')
		return;
	p++;
	while (p < eol && is_hex(*p))
		end = end * 16 + (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10), p++;
	/* smaps lists the gate area ([vsyscall]), which is not in the mm nor in the rollup */
	if (start >> 63)
		return;
	if (!out->vm_start || start < out->vm_start)
		out->vm_start = start;
	if (end > out->vm_end)
		out->vm_end = end;
}

/* value part of "Rss:   1720 kB": spaces, digits, " kB", nothing else */
static int parse_kb(const char *p, const char *eol, uint64_t *bytes)
{
	uint64_t kb = 0;
	const char *digits;

	while (p < eol && *p == ' ')
		p++;
	digits = p;
	while (p < eol && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (kb > (UINT64_MAX / 1024 - d) / 10)
			return -ERANGE;
		kb = kb * 10 + d;
		p++;
	}
	if (p == digits)
		return -EINVAL;
	if (eol - p != 3 || memcmp(p, " kB", 3) != 0)
		return -EINVAL;
	*bytes = kb * 1024;
	return 0;
}

int smaps_rollup__parse(const char *buf, size_t len, struct smaps_rollup *out)
{
	const char *p = buf, *end = buf + len;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *colon;
		const struct field *f;
		uint64_t v, *slot;
		int err;

		/* a last line without its newline was cut off: ignore it */
		if (!eol)
			break;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (is_hex(*p) && (!colon || memchr(p, '-', (size_t)(colon - p)))) {
			parse_header(p, eol, out);
			p = eol + 1;
			continue;
		}
		if (!colon) {
			p = eol + 1;
			continue;
		}
		f = find_field(p, (size_t)(colon - p));
		if (!f) { /* VmFlags, THPeligible, KSM, ... */
			p = eol + 1;
			continue;
		}
		err = parse_kb(colon + 1, eol, &v);
		if (err)
			return err;
		slot = (uint64_t *)((char *)out + f->offset);
		if (*slot > UINT64_MAX - v) /* summed over the records of smaps */
			return -ERANGE;
		*slot += v;
		out->present |= f->present;
		p = eol + 1;
	}
	if (!(out->present & SMAPS_HAS_RSS) || !(out->present & SMAPS_HAS_PSS))
		return -EINVAL;
	return 0;
}

struct smaps_reader *smaps_reader__new(void)
{
	struct smaps_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cap = 4096; /* smaps_rollup is ~700 bytes; full smaps grows it */
	r->buf = malloc(r->cap);
	if (!r->buf) {
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	r->proc_fd = proc_dir_open();
	return r;
}

void smaps_reader__defer_close(struct smaps_reader *r, struct fd_batch *b)
{
	r->closes = b;
}

void smaps_reader__free(struct smaps_reader *r)
{
	if (!r)
		return;
	proc_dir_close(r->proc_fd);
	free(r->buf);
	free(r);
}

/* Whole file into r->buf; returns its length or -errno. */
static ssize_t slurp(struct smaps_reader *r, const char *path)
{
	return proc_read_file(path, &r->buf, &r->cap, SIZE_MAX);
}

int smaps_reader__read(struct smaps_reader *r, int pid, struct smaps_rollup *out)
{
	char path[48];
	ssize_t len = -ENOENT;

	if (!r->no_rollup) {
		proc_pid_path(path, sizeof(path), r->proc_fd, pid, "smaps_rollup");
		len =
		    proc_read_record_batch(r->proc_fd, path, &r->buf, &r->cap, SIZE_MAX, r->closes);
		if (len == -ENOENT) {
			snprintf(path, sizeof(path), "/proc/%d", pid);
			if (access(path, F_OK) != 0)
				return -ENOENT;
			r->no_rollup = true;
		}
	}
	if (r->no_rollup) {
		snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
		len = slurp(r, path);
	}
	if (len < 0)
		return (int)len;
	/* kernel threads and zombies have no mm: nothing to count */
	if (len == 0)
		return -ENODATA;
	return smaps_rollup__parse(r->buf, (size_t)len, out);
}
