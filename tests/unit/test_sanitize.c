// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sanitize.h"

static const char *san(const char *bytes, size_t len)
{
	static char out[256];

	mt_sanitize(bytes, len, out, sizeof(out));
	return out;
}

#define S(lit) san(lit, sizeof(lit) - 1)
#define CLEAN(lit) mt_is_clean(lit, sizeof(lit) - 1)

static void test_sanitize__clean_passes(void **state)
{
	assert_true(CLEAN("v8::internal::Builtins_JSEntry"));
	assert_true(CLEAN("LazyCompile:*foo /app/x.js:12"));
	assert_true(CLEAN("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
	assert_string_equal(S("caf\xC3\xA9"), "caf\xC3\xA9");
	assert_true(CLEAN(""));
}

static void test_sanitize__escape_sequences_escaped(void **state)
{
	/* the terminal attack: clear screen, set the window title, bell */
	assert_false(CLEAN("\x1b[2Jevil"));
	assert_string_equal(S("\x1b[2Jevil"), "\\x1b[2Jevil");
	assert_string_equal(S("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
	assert_string_equal(S("a\nb\tc\rd"), "a\\x0ab\\x09c\\x0dd");
	assert_string_equal(S("del\x7f"), "del\\x7f");
	/* C1 CSI (U+009B) is a control to many terminals although valid UTF-8 */
	assert_false(CLEAN("\xC2\x9B"
			   "2J"));
	assert_string_equal(S("\xC2\x9B"
			      "2J"),
			    "\\xc2\\x9b2J");
	assert_true(CLEAN("\xC2\xA0")); /* U+00A0 is printable */
	/* NUL inside the given length */
	assert_string_equal(san("a\0b", 3), "a\\x00b");
}

static void test_sanitize__invalid_utf8_escaped(void **state)
{
	assert_string_equal(S("a\xFF"
			      "b"),
			    "a\\xffb");
	assert_string_equal(S("\xC3"), "\\xc3");			    /* cut short */
	assert_string_equal(S("\xC0\xAF"), "\\xc0\\xaf");		    /* overlong '/' */
	assert_string_equal(S("\xED\xA0\x80"), "\\xed\\xa0\\x80");	    /* surrogate */
	assert_string_equal(S("\xF4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
	/* invariant: the output is always clean */
	for (int c = 0; c < 256; c++) {
		char in[3] = { (char)c, (char)0x80, 'x' }, out[32];

		mt_sanitize(in, sizeof(in), out, sizeof(out));
		assert_true(mt_is_clean(out, strlen(out)));
	}
}

static void test_sanitize__small_buffer(void **state)
{
	char out[8];

	/* never an escape cut in two */
	assert_int_equal(mt_sanitize("ab\x1b\x1b", 4, out, sizeof(out)), 6);
	assert_string_equal(out, "ab\\x1b");
	assert_int_equal(mt_sanitize("x", 1, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(mt_sanitize("x", 1, out, 0), 0);
}

static void test_sanitize__safe_str_and_dup(void **state)
{
	char buf[64], *d;
	const char *clean = "main";

	assert_ptr_equal(mt_safe_str(clean, buf, sizeof(buf)), clean);
	assert_string_equal(mt_safe_str("\x1b[31mred", buf, sizeof(buf)), "\\x1b[31mred");
	d = mt_sanitize_dup("\x1b\x1b\x1b", 3);
	assert_non_null(d);
	assert_string_equal(d, "\\x1b\\x1b\\x1b"); /* the growth bound holds */
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize__clean_passes),
		cmocka_unit_test(test_sanitize__escape_sequences_escaped),
		cmocka_unit_test(test_sanitize__invalid_utf8_escaped),
		cmocka_unit_test(test_sanitize__small_buffer),
		cmocka_unit_test(test_sanitize__safe_str_and_dup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
