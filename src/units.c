// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "units.h"

struct unit {
	const char *suffix;
	uint64_t mult;
};

/*
 * Splits "1.5GiB" into its number and suffix. Only [0-9]+(.[0-9]+)? is a
 * number here: strtod alone would also take signs, spaces, hex, "inf" and
 * "nan". Integers stay exact (strtoull); fractions go through strtod.
 */
static int scan_number(const char *text, const char **suffix, uint64_t *whole, double *value,
		       bool *is_fraction)
{
	const char *p = text;
	char *end;

	if (!text || *p < '0' || *p > '9')
		return -EINVAL;
	while (*p >= '0' && *p <= '9')
		p++;
	*is_fraction = false;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
		*is_fraction = true;
	}
	*suffix = p;
	errno = 0;
	if (*is_fraction) {
		*value = strtod(text, &end);
		if (end != p || errno == ERANGE)
			return -ERANGE;
		*whole = 0;
		return 0;
	}
	*whole = strtoull(text, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (end != p)
		return -EINVAL;
	*value = (double)*whole;
	return 0;
}

static int apply_unit(const char *text, const struct unit *units, size_t n, uint64_t *out)
{
	const char *suffix;
	uint64_t whole, mult = 0;
	double value, scaled;
	bool frac;
	int err;

	err = scan_number(text, &suffix, &whole, &value, &frac);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(suffix, units[i].suffix) == 0) {
			mult = units[i].mult;
			break;
		}
	}
	if (!mult)
		return -EINVAL;
	if (!frac) {
		if (whole > UINT64_MAX / mult)
			return -ERANGE;
		*out = whole * mult;
		return 0;
	}
	/*
	 * Rounded to nearest (halves up) by hand, not nearbyint(): this was
	 * memtrace's only use of libm besides snapshot's, and libm's mapped
	 * pages cost every command 0.35 MiB of RSS (issue 14). value >= 0, and
	 * 2^64 is exactly representable: anything at or above it does not fit
	 */
	scaled = value * (double)mult + 0.5;
	if (scaled >= 18446744073709551616.0)
		return -ERANGE;
	*out = (uint64_t)scaled;
	return 0;
}

int parse_size(const char *text, uint64_t *bytes)
{
	static const struct unit units[] = {
		{ "", 1 },
		{ "b", 1 },
		{ "k", 1ULL << 10 },
		{ "kb", 1ULL << 10 },
		{ "kib", 1ULL << 10 },
		{ "m", 1ULL << 20 },
		{ "mb", 1ULL << 20 },
		{ "mib", 1ULL << 20 },
		{ "g", 1ULL << 30 },
		{ "gb", 1ULL << 30 },
		{ "gib", 1ULL << 30 },
		{ "t", 1ULL << 40 },
		{ "tb", 1ULL << 40 },
		{ "tib", 1ULL << 40 },
		{ "p", 1ULL << 50 },
		{ "pb", 1ULL << 50 },
		{ "pib", 1ULL << 50 },
	};

	return apply_unit(text, units, sizeof(units) / sizeof(units[0]), bytes);
}

int parse_duration(const char *text, uint64_t *ns, int allow_zero)
{
	static const struct unit units[] = {
		{ "", 1000000000ULL },	   { "s", 1000000000ULL }, { "ms", 1000000ULL },
		{ "us", 1000ULL },	   { "ns", 1ULL },	   { "m", 60000000000ULL },
		{ "h", 3600000000000ULL },
	};
	uint64_t v;
	int err;

	err = apply_unit(text, units, sizeof(units) / sizeof(units[0]), &v);
	if (err)
		return err;
	if (v == 0 && !allow_zero)
		return -ERANGE;
	*ns = v;
	return 0;
}

int parse_pid_list(const char *text, int *pids, size_t max, size_t *count)
{
	const char *p = text;
	size_t n = 0;

	if (!text || !*text)
		return -EINVAL;
	for (;;) {
		unsigned long long v;
		char *end;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno == ERANGE || v > INT_MAX)
			return -ERANGE;
		if (v == 0)
			return -EINVAL;
		if (*end != ',' && *end != '\0')
			return -EINVAL;
		/* lists are short (typed by hand); a quadratic check is cheaper than a table */
		for (size_t i = 0; i < n; i++)
			if (pids[i] == (int)v)
				return -EINVAL;
		if (n == max)
			return -ERANGE;
		pids[n++] = (int)v;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	*count = n;
	return 0;
}

static const char *const size_units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };

char *format_size(char *buf, size_t len, uint64_t bytes)
{
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	while (u < 6 && v >= 1024.0) {
		v /= 1024.0;
		u++;
	}
	/* 1023.96 KiB would print as "1024.0 KiB"; say "1.0 MiB" instead */
	if (u < 6 && v >= 1023.95) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, size_units[u]);
	return buf;
}

char *format_size_delta(char *buf, size_t len, int64_t bytes)
{
	/* -INT64_MIN overflows; compute the magnitude in unsigned arithmetic */
	uint64_t mag = bytes < 0 ? (uint64_t)0 - (uint64_t)bytes : (uint64_t)bytes;
	char tmp[32];

	if (bytes == 0) {
		snprintf(buf, len, "0 B");
		return buf;
	}
	format_size(tmp, sizeof(tmp), mag);
	snprintf(buf, len, "%c%s", bytes < 0 ? '-' : '+', tmp);
	return buf;
}

char *format_duration(char *buf, size_t len, uint64_t ns)
{
	static const struct unit units[] = {
		{ "s", 1000000000ULL },
		{ "ms", 1000000ULL },
		{ "us", 1000ULL },
		{ "ns", 1ULL },
	};
	const struct unit *u = &units[3];
	double v;

	for (size_t i = 0; i < 4; i++) {
		if (ns >= units[i].mult) {
			u = &units[i];
			break;
		}
	}
	if (ns % u->mult == 0) {
		snprintf(buf, len, "%llu%s", (unsigned long long)(ns / u->mult), u->suffix);
		return buf;
	}
	v = (double)ns / (double)u->mult;
	snprintf(buf, len, "%.1f%s", v, u->suffix);
	return buf;
}

double rate_per_sec(uint64_t delta, uint64_t interval_ns)
{
	if (!interval_ns)
		return 0.0;
	return (double)delta * 1e9 / (double)interval_ns;
}

uint64_t counter_delta(uint64_t before, uint64_t after)
{
	return after >= before ? after - before : 0;
}

int parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	char *end;

	if (!text || *text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int err = parse_uint(text, min, max, &v);

	if (!err)
		*out = (uint32_t)v;
	return err;
}

uint64_t mt_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
