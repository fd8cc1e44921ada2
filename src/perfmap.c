// SPDX-License-Identifier: GPL-2.0
/* /tmp/perf-PID.map reader (see perfmap.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "perfmap.h"
#include "sanitize.h"
#include "untrusted.h"

struct perfmap_sym {
	uint64_t start, size;
	size_t line; /* order in the file: among equal starts the later line wins */
	char *name;
};

struct perfmap {
	struct perfmap_sym *syms; /* sorted by start */
	size_t n, cap;
	size_t skipped;
};

/* hex number up to the next space; bounded by end, no NUL needed */
static const char *parse_hex(const char *p, const char *end, uint64_t *v)
{
	uint64_t x = 0;
	const char *s = p;

	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2, s = p;
	for (; p < end; p++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (x >> 60)
			return NULL; /* more than 64 bits */
		x = x << 4 | (uint64_t)d;
	}
	if (p == s || p == end || *p != ' ')
		return NULL;
	*v = x;
	return p + 1;
}

/* 0, -EINVAL for a malformed line, -ENOMEM */
static int parse_line(struct perfmap *m, const char *p, const char *end)
{
	uint64_t start, size;
	struct perfmap_sym *s;

	if (end > p && end[-1] == '\r')
		end--;
	p = parse_hex(p, end, &start);
	if (p)
		p = parse_hex(p, end, &size);
	if (!p || p == end || !size || start + size < start)
		return -EINVAL;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;

		s = realloc(m->syms, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		m->syms = s;
		m->cap = cap;
	}
	s = &m->syms[m->n];
	s->name = mt_sanitize_dup(p, end - p);
	if (!s->name)
		return -ENOMEM;
	s->start = start;
	s->size = size;
	s->line = m->n;
	m->n++;
	return 0;
}

static int sym_cmp(const void *a, const void *b)
{
	const struct perfmap_sym *x = a, *y = b;

	if (x->start != y->start)
		return (x->start > y->start) - (x->start < y->start);
	return (x->line > y->line) - (x->line < y->line);
}

struct perfmap *perfmap__parse(const char *text, size_t len)
{
	struct perfmap *m = calloc(1, sizeof(*m));
	const char *p = text, *end = text + len;

	if (!m)
		return NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *eol = nl ? nl : end;
		int err = 0;

		if (eol - p > PERFMAP_MAX_LINE)
			m->skipped++;
		else if (eol > p && (err = parse_line(m, p, eol)) == -EINVAL)
			m->skipped++;
		if (err == -ENOMEM) {
			perfmap__free(m);
			errno = ENOMEM;
			return NULL;
		}
		p = nl ? nl + 1 : end;
	}
	if (m->n)
		qsort(m->syms, m->n, sizeof(*m->syms), sym_cmp);
	return m;
}

struct perfmap *perfmap__load(const char *path, uid_t owner)
{
	struct untrusted_opts o = { .owner = owner, .max_bytes = PERFMAP_MAX_BYTES };
	struct perfmap *m;
	char *buf;
	size_t len;
	int err;

	err = untrusted_read(path, &o, &buf, &len);
	if (err) {
		errno = -err;
		return NULL;
	}
	m = perfmap__parse(buf, len);
	err = errno;
	free(buf);
	errno = err;
	return m;
}

void perfmap__free(struct perfmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->syms[i].name);
	free(m->syms);
	free(m);
}

const char *perfmap__lookup(const struct perfmap *m, uint64_t ip, uint64_t *off)
{
	size_t lo = 0, hi;

	if (!m)
		return NULL;
	hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->syms[mid].start <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || ip - m->syms[lo - 1].start >= m->syms[lo - 1].size)
		return NULL;
	*off = ip - m->syms[lo - 1].start;
	return m->syms[lo - 1].name;
}

size_t perfmap__count(const struct perfmap *m)
{
	return m ? m->n : 0;
}

size_t perfmap__skipped(const struct perfmap *m)
{
	return m ? m->skipped : 0;
}
