// SPDX-License-Identifier: GPL-2.0
/*
 * Terminal-safe names (see sanitize.h), escaping as OpenSSH's and
 * systemd's log paths do, with our own small UTF-8 decoder: glibc's
 * mbrtowc depends on the locale, and the rule here must not.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sanitize.h"

/*
 * Length of the valid, printable UTF-8 character at p (1 to 4), or 0 when
 * p[0] must be escaped: a control byte, a C1 control, or not the start of
 * a well-formed sequence (overlong forms, surrogates and values above
 * U+10FFFF are not).
 */
static size_t char_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x20 || c == 0x7f)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
	else
		return 0;
	if (avail < need)
		return 0;
	for (size_t i = 1; i < need; i++)
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF))
			return 0;
	if (c == 0xC2 && p[1] <= 0x9F)
		return 0; /* U+0080..U+009F: C1 controls, CSI among them */
	return need;
}

bool mt_is_clean(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = char_len(p + i, len - i);

		if (!n)
			return false;
		i += n;
	}
	return true;
}

size_t mt_sanitize(const char *s, size_t len, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;

	if (!outlen)
		return 0;
	while (i < len) {
		size_t n = char_len(p + i, len - i);

		if (n) {
			if (o + n + 1 > outlen)
				break;
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		} else {
			if (o + 4 + 1 > outlen)
				break;
			snprintf(out + o, 5, "\\x%02x", p[i]);
			o += 4;
			i++;
		}
	}
	out[o] = '\0';
	return o;
}

const char *mt_safe_str(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s);

	if (mt_is_clean(s, n))
		return s;
	mt_sanitize(s, n, buf, len);
	return buf;
}

char *mt_sanitize_dup(const char *s, size_t len)
{
	size_t cap = len * MT_SANITIZE_GROWTH + 1;
	char *out;

	if (len > (SIZE_MAX - 1) / MT_SANITIZE_GROWTH) {
		errno = ENOMEM;
		return NULL;
	}
	out = malloc(cap);
	if (!out)
		return NULL;
	mt_sanitize(s, len, out, cap);
	return out;
}
