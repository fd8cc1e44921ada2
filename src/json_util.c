// SPDX-License-Identifier: GPL-2.0
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "json_util.h"
#include "symbolize.h"

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/*
 * Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid; *bad
 * gets the length of its maximal invalid prefix, which becomes one U+FFFD
 * (Unicode's "maximal subpart" practice). Overlong forms (C0, C1, E0 80-9F,
 * F0 80-8F), surrogates (ED A0-BF) and code points above U+10FFFF fail.
 */
static size_t utf8_seq(const unsigned char *p, size_t avail, size_t *bad)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t need, i;

	*bad = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	for (i = 1; i < need; i++) {
		if (i >= avail)
			break;
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF))
			break;
	}
	if (i == need)
		return need;
	*bad = i;
	return 0;
}

/* Sanitised copy into out (outlen > 0, NUL added); returns bytes written. */
static size_t sanitize(const char *bytes, size_t len, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)bytes;
	size_t i = 0, n = 0;

	while (i < len) {
		size_t bad, seq = utf8_seq(p + i, len - i, &bad);
		const char *src = seq ? (const char *)p + i : replacement;
		size_t srclen = seq ? seq : 3;

		if (n + srclen + 1 > outlen) /* never cut a character in two */
			break;
		memcpy(out + n, src, srclen);
		n += srclen;
		i += seq ? seq : bad;
	}
	out[n] = '\0';
	return n;
}

char *mt_utf8_sanitize(const char *bytes, size_t len, char *out, size_t outlen)
{
	if (!outlen)
		return out;
	sanitize(bytes, len, out, outlen);
	return out;
}

struct json_object *mt_json_string(const char *bytes, size_t len)
{
	struct json_object *obj;
	char stackbuf[256], *buf = stackbuf;
	size_t cap = len * 3 + 1, n; /* each byte at most becomes U+FFFD */

	if (cap > sizeof(stackbuf)) {
		buf = malloc(cap);
		if (!buf)
			return NULL;
	}
	n = sanitize(bytes, len, buf, cap);
	obj = json_object_new_string_len(buf, (int)n);
	if (buf != stackbuf)
		free(buf);
	return obj;
}

struct json_object *mt_frame_json(const struct mt_frame *f)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "function",
			       f->func ? mt_json_string(f->func, strlen(f->func)) : NULL);
	json_object_object_add(o, "offset", json_object_new_int64(f->func_off));
	json_object_object_add(o, "file",
			       f->file ? mt_json_string(f->file, strlen(f->file)) : NULL);
	json_object_object_add(o, "line", json_object_new_int(f->line));
	json_object_object_add(o, "module", mt_json_string(f->module, strlen(f->module)));
	json_object_object_add(o, "module_offset", json_object_new_int64(f->mod_off));
	return o;
}
