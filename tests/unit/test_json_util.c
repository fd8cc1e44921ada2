// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "json_util.h"

#define FFFD "\xEF\xBF\xBD"

static const char *sanitize(const char *bytes, size_t len)
{
	static char out[256];

	return mt_utf8_sanitize(bytes, len, out, sizeof(out));
}

#define S(lit) sanitize(lit, sizeof(lit) - 1)

static void test_json_util__valid_passes(void **state)
{
	assert_string_equal(S("bash"), "bash");
	assert_string_equal(S("caf\xC3\xA9"), "caf\xC3\xA9");		/* U+00E9 */
	assert_string_equal(S("\xE2\x82\xAC"), "\xE2\x82\xAC");		/* U+20AC */
	assert_string_equal(S("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80"); /* U+1F600 */
	assert_string_equal(S("\xED\x9F\xBF"), "\xED\x9F\xBF");		/* U+D7FF */
	assert_string_equal(S("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF"); /* U+10FFFF */
}

static void test_json_util__invalid_replaced(void **state)
{
	assert_string_equal(S("a\xFF"
			      "b"),
			    "a" FFFD "b");
	assert_string_equal(S("\x80"), FFFD); /* lone continuation */
	assert_string_equal(S("\xC3"), FFFD); /* cut short at the end */
	assert_string_equal(S("\xE2\x82"
			      "x"),
			    FFFD "x"); /* maximal subpart: one U+FFFD */
	assert_string_equal(S("\xF5\x80\x80\x80"), FFFD FFFD FFFD FFFD); /* above U+10FFFF */
	assert_string_equal(S("\xF4\x90\x80\x80"), FFFD FFFD FFFD FFFD);
}

static void test_json_util__overlong_and_surrogates(void **state)
{
	assert_string_equal(S("\xC0\xAF"), FFFD FFFD); /* overlong '/' */
	assert_string_equal(S("\xC1\xBF"), FFFD FFFD);
	assert_string_equal(S("\xE0\x80\xAF"), FFFD FFFD FFFD); /* overlong 3-byte */
	assert_string_equal(S("\xF0\x80\x80\xAF"), FFFD FFFD FFFD FFFD);
	assert_string_equal(S("\xED\xA0\x80"), FFFD FFFD FFFD); /* U+D800 */
	assert_string_equal(S("\xED\xBF\xBF"), FFFD FFFD FFFD); /* U+DFFF */
}

static void test_json_util__small_buffer(void **state)
{
	char out[4];

	/* never cuts a character in two; always NUL-terminated */
	assert_string_equal(mt_utf8_sanitize("ab\xC3\xA9", 4, out, sizeof(out)), "ab");
	assert_string_equal(mt_utf8_sanitize("\xFF", 1, out, sizeof(out)), FFFD);
	assert_string_equal(mt_utf8_sanitize("\xFF\xFF", 2, out, sizeof(out)), FFFD);
	assert_string_equal(mt_utf8_sanitize("abc", 3, out, 1), "");
}

static void test_json_util__json_string(void **state)
{
	static const char name[] = "we \"ird\"\n\\ \xFF\x01";
	struct json_object *obj = mt_json_string(name, sizeof(name) - 1);
	struct json_object *back;
	const char *text;

	assert_non_null(obj);
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	assert_string_equal(text, "\"we \\\"ird\\\"\\n\\\\ " FFFD "\\u0001\"");
	/* the output parses back as valid JSON holding the sanitised name */
	back = json_tokener_parse(text);
	assert_non_null(back);
	assert_string_equal(json_object_get_string(back), "we \"ird\"\n\\ " FFFD "\x01");
	json_object_put(back);
	json_object_put(obj);
}

static void test_json_util__json_string_nul_and_long(void **state)
{
	char big[1000];
	struct json_object *obj;

	obj = mt_json_string("a\0b", 3);
	assert_int_equal(json_object_get_string_len(obj), 3);
	assert_string_equal(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN),
			    "\"a\\u0000b\"");
	json_object_put(obj);

	/* longer than the stack buffer, all invalid: three bytes out per byte in */
	memset(big, 0xFF, sizeof(big));
	obj = mt_json_string(big, sizeof(big));
	assert_int_equal(json_object_get_string_len(obj), 3 * sizeof(big));
	json_object_put(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_util__valid_passes),
		cmocka_unit_test(test_json_util__invalid_replaced),
		cmocka_unit_test(test_json_util__overlong_and_surrogates),
		cmocka_unit_test(test_json_util__small_buffer),
		cmocka_unit_test(test_json_util__json_string),
		cmocka_unit_test(test_json_util__json_string_nul_and_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
