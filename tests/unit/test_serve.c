// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>
#include "serve.h"

static void test_serve__listen_ok(void **state)
{
	struct serve_listen l;
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&l.addr;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&l.addr;

	assert_int_equal(serve_parse_listen("127.0.0.1:9890", &l), 0);
	assert_int_equal(a4->sin_family, AF_INET);
	assert_int_equal(ntohs(a4->sin_port), 9890);
	assert_true(l.loopback);
	assert_int_equal(serve_parse_listen("127.1.2.3:1", &l), 0);
	assert_true(l.loopback);
	assert_int_equal(serve_parse_listen("localhost:65535", &l), 0);
	assert_true(l.loopback);
	assert_int_equal(serve_parse_listen("0.0.0.0:9890", &l), 0);
	assert_false(l.loopback);
	assert_int_equal(serve_parse_listen("192.168.1.10:80", &l), 0);
	assert_false(l.loopback);
	assert_int_equal(serve_parse_listen("[::1]:9890", &l), 0);
	assert_int_equal(a6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(a6->sin6_port), 9890);
	assert_true(l.loopback);
	assert_int_equal(serve_parse_listen("[::]:9890", &l), 0);
	assert_false(l.loopback);
}

static void test_serve__listen_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"9890",
		":9890",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:0",
		"127.0.0.1:65536",
		"127.0.0.1:-1",
		"127.0.0.1:80x",
		"127.0.0.1: 80",
		"256.0.0.1:80",
		"::1:9890",
		"[::1]9890",
		"[::1]:",
		"[]:80",
		"[127.0.0.1]:80",
		"example.com:80",
		"127.0.0.1:99999999999999999999",
	};
	struct serve_listen l;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (serve_parse_listen(bad[i], &l) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
}

static int parse(const char *text, struct web_config *w, char *err)
{
	return web_config__parse(text, strlen(text), w, err, 256);
}

static void test_serve__web_config_ok(void **state)
{
	static struct web_config w;
	char err[256];

	assert_int_equal(
	    parse("# exporter-toolkit\n"
		  "tls_server_config:\n"
		  "  cert_file: /etc/memtrace/cert.pem   # the certificate\n"
		  "  key_file: \"/etc/memtrace/key #1.pem\"\n"
		  "\n"
		  "basic_auth_users:\n"
		  "  alice: $2y$10$abcdefghijklmnopqrstuuKx6Q0mM9xd3r6Y5C9wJQbKfQ4Hkq8m.\n"
		  "  'bob smith': '$2b$05$xyz'\n",
		  &w, err),
	    0);
	assert_string_equal(w.cert_file, "/etc/memtrace/cert.pem");
	assert_string_equal(w.key_file, "/etc/memtrace/key #1.pem");
	assert_int_equal(w.nr_users, 2);
	assert_string_equal(w.users[0].name, "alice");
	assert_string_equal(w.users[0].hash,
			    "$2y$10$abcdefghijklmnopqrstuuKx6Q0mM9xd3r6Y5C9wJQbKfQ4Hkq8m.");
	assert_string_equal(w.users[1].name, "bob smith");
	assert_string_equal(w.users[1].hash, "$2b$05$xyz");

	/* empty: no TLS, no auth */
	assert_int_equal(parse("", &w, err), 0);
	assert_int_equal(w.nr_users, 0);
	assert_string_equal(w.cert_file, "");
	assert_int_equal(parse("---\nbasic_auth_users:\n    u: $6$salt$hash\n", &w, err), 0);
	assert_int_equal(w.nr_users, 1);
}

static void expect_bad(const char *text, const char *needle)
{
	static struct web_config w;
	char err[256] = "";

	assert_int_equal(parse(text, &w, err), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("message '%s' lacks '%s'", err, needle);
}

static void test_serve__web_config_bad(void **state)
{
	/* a setting serve would not enforce is refused, never ignored */
	expect_bad("http_server_config:\n  http2: false\n",
		   "line 1: unknown key 'http_server_config'");
	expect_bad(
	    "tls_server_config:\n  cert_file: a\n  client_auth_type: RequireAndVerifyClientCert\n",
	    "line 3: unknown tls_server_config key 'client_auth_type'");
	expect_bad("tls_server_config:\n  cert_file: a\n", "needs both cert_file and key_file");
	expect_bad("basic_auth_users:\n  alice: secret\n",
		   "line 2: user 'alice' needs a crypt(3) hash");
	expect_bad("basic_auth_users:\n  a: $2b$x\n  a: $2b$y\n", "line 3: user 'a' given twice");
	expect_bad("basic_auth_users:\n\talice: $2b$x\n", "line 2: a tab");
	expect_bad("basic_auth_users: {alice: x}\n", "line 1: 'basic_auth_users' takes a block");
	expect_bad("  alice: $2b$x\n", "line 1: unexpected indentation");
	expect_bad("basic_auth_users:\n  a: $2b$x\n      b: $2b$y\n",
		   "line 3: unexpected indentation");
	expect_bad("tls_server_config:\n  cert_file: *anchor\n  key_file: k\n",
		   "line 2: cert_file needs a path");
	expect_bad("tls_server_config:\n  cert_file: 'open\n  key_file: k\n",
		   "line 2: cert_file needs a path");
	expect_bad("just text\n", "line 1: expected 'key: value'");
	{
		static struct web_config w;
		char err[256];

		assert_int_equal(web_config__parse("a\0b", 3, &w, err, sizeof(err)), -EINVAL);
	}
}

static void test_serve__password(void **state)
{
	struct crypt_data cd = { 0 };
	char setting[CRYPT_GENSALT_OUTPUT_SIZE], hash[WEB_MAX_HASH];
	const char *h;

	/* bcrypt as htpasswd -B and the exporter-toolkit docs make it */
	assert_non_null(crypt_gensalt_rn("$2b$", 5, NULL, 0, setting, sizeof(setting)));
	h = crypt_r("correct horse", setting, &cd);
	assert_non_null(h);
	snprintf(hash, sizeof(hash), "%s", h);
	assert_true(web_password_ok(hash, "correct horse"));
	assert_false(web_password_ok(hash, "correct hors"));
	assert_false(web_password_ok(hash, ""));
	/* $2y$ (PHP's and htpasswd's spelling) is the same algorithm */
	hash[2] = 'y';
	assert_true(web_password_ok(hash, "correct horse"));
	assert_false(web_password_ok(hash, "wrong"));
	/* not a hash at all */
	assert_false(web_password_ok("plaintext", "plaintext"));
	assert_false(web_password_ok("$2b$05$short", "x"));
	assert_false(web_password_ok("", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve__listen_ok),
		cmocka_unit_test(test_serve__listen_bad),
		cmocka_unit_test(test_serve__web_config_ok),
		cmocka_unit_test(test_serve__web_config_bad),
		cmocka_unit_test(test_serve__password),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
