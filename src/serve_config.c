// SPDX-License-Identifier: GPL-2.0
/*
 * serve's small parsers: --listen and the web config file. The web config
 * is read by hand rather than through libyaml: the documented subset is
 * two levels of "key: value" lines, and refusing everything else (anchors,
 * flow style, unknown keys) is the point, which a general YAML reader
 * would make harder to do exactly.
 */
#include <arpa/inet.h>
#include <crypt.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include "serve.h"
#include "units.h"

char *serve_read_file(const char *path, size_t limit, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), err = 0;
	char *buf = NULL;
	struct stat st;
	size_t off = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st)) {
		err = errno;
	} else if (!S_ISREG(st.st_mode)) {
		err = EINVAL;
	} else if ((uint64_t)st.st_size > limit) {
		err = EFBIG;
	} else if (!(buf = malloc((size_t)st.st_size + 1))) {
		err = ENOMEM;
	}
	while (!err && off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO; /* shrank while read */
			break;
		}
		off += (size_t)n;
	}
	close(fd);
	if (err) {
		free(buf);
		errno = err;
		return NULL;
	}
	buf[off] = '\0';
	*len = off;
	return buf;
}

int serve_parse_listen(const char *text, struct serve_listen *out)
{
	char host[64];
	const char *colon, *port_text;
	uint64_t port;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		hlen = (size_t)(close - text - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, text + 1, hlen);
		port_text = close + 2;
	} else {
		colon = strrchr(text, ':');
		if (!colon || strchr(text, ':') != colon)
			return -EINVAL;
		hlen = (size_t)(colon - text);
		if (hlen == 0 || hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, text, hlen);
		port_text = colon + 1;
	}
	host[hlen] = '\0';
	if (parse_uint(port_text, 1, 65535, &port))
		return -EINVAL;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");

	if (text[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->addr;

		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		out->addrlen = sizeof(*a6);
		out->loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&out->addr;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		out->addrlen = sizeof(*a4);
		out->loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
	}
	return 0;
}

/* a scalar: bare, 'single' or "double" quoted (no escapes but '' and \" \\) */
static int scalar(char *s, char *out, size_t outlen)
{
	size_t len = strlen(s), o = 0;
	char q = s[0];

	if (q == '\'' || q == '"') {
		if (len < 2 || s[len - 1] != q)
			return -EINVAL;
		for (size_t i = 1; i < len - 1; i++) {
			char c = s[i];

			if (q == '\'' && c == '\'') {
				if (s[i + 1] != '\'' || i + 1 >= len - 1)
					return -EINVAL;
				i++;
			} else if (q == '"' && c == '\\') {
				if (s[i + 1] != '"' && s[i + 1] != '\\')
					return -EINVAL;
				c = s[++i];
			} else if (c == q) {
				return -EINVAL;
			}
			if (o + 1 >= outlen)
				return -ENAMETOOLONG;
			out[o++] = c;
		}
	} else {
		if (strchr("&*!|>%@`{[", q) && q)
			return -EINVAL; /* YAML features outside the subset */
		if (len + 1 > outlen)
			return -ENAMETOOLONG;
		memcpy(out, s, len);
		o = len;
	}
	out[o] = '\0';
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* cut a comment: '#' at the start or after a space, outside quotes */
static void cut_comment(char *s)
{
	char q = 0;

	for (char *p = s; *p; p++) {
		if (q) {
			if (*p == q)
				q = 0;
		} else if (*p == '\'' || *p == '"') {
			q = *p;
		} else if (*p == '#' && (p == s || p[-1] == ' ')) {
			*p = '\0';
			return;
		}
	}
}

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* One key under tls_server_config: cert_file or key_file, a path. 0 or -EINVAL. */
static int tls_key(struct web_config *out, const char *key, char *value, int lineno, char *err,
		   size_t errlen)
{
	char *dst;

	if (strcmp(key, "cert_file") == 0)
		dst = out->cert_file;
	else if (strcmp(key, "key_file") == 0)
		dst = out->key_file;
	else
		return fail(err, errlen,
			    "line %d: unknown tls_server_config key '%s' (serve reads "
			    "cert_file and key_file only)",
			    lineno, key);
	if (scalar(value, dst, WEB_MAX_PATH) || !*dst)
		return fail(err, errlen, "line %d: %s needs a path", lineno, key);
	return 0;
}

/* One user under basic_auth_users: a name and a crypt(3) hash. 0 or -EINVAL. */
static int user_entry(struct web_config *out, char *key, char *value, int lineno, char *err,
		      size_t errlen)
{
	struct web_user *u;
	char name[WEB_MAX_NAME + 2];

	if (out->nr_users == WEB_MAX_USERS)
		return fail(err, errlen, "line %d: more than %d users", lineno, WEB_MAX_USERS);
	u = &out->users[out->nr_users];
	if (scalar(key, name, sizeof(name)) || !*name || strlen(name) >= WEB_MAX_NAME ||
	    strchr(name, ':'))
		return fail(err, errlen, "line %d: a user name is 1 to %d bytes without ':'",
			    lineno, WEB_MAX_NAME - 1);
	for (size_t i = 0; i < out->nr_users; i++)
		if (strcmp(out->users[i].name, name) == 0)
			return fail(err, errlen, "line %d: user '%s' given twice", lineno, name);
	strcpy(u->name, name);
	if (scalar(value, u->hash, sizeof(u->hash)) || u->hash[0] != '$')
		return fail(err, errlen,
			    "line %d: user '%s' needs a crypt(3) hash such as bcrypt's "
			    "$2y$... (htpasswd -nBC 10 %s)",
			    lineno, name, name);
	out->nr_users++;
	return 0;
}

int web_config__parse(const char *text, size_t len, struct web_config *out, char *err,
		      size_t errlen)
{
	enum { TOP, TLS, USERS } section = TOP;
	char *copy = NULL, *line, *next;
	int lineno = 0, ret = 0;
	size_t indent_unit = 0;

	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len))
		return fail(err, errlen, "a NUL byte in the file");
	copy = strndup(text, len);
	if (!copy)
		return -ENOMEM;
	for (line = copy; line; line = next) {
		size_t indent = strspn(line, " ");
		char *key, *colon, *value;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (strchr(line, '\t')) {
			ret =
			    fail(err, errlen, "line %d: a tab (YAML indents with spaces)", lineno);
			goto cleanup;
		}
		cut_comment(line);
		key = trim(line);
		if (!*key || strcmp(key, "---") == 0)
			continue;
		colon = strstr(key, ": ");
		if (!colon && key[strlen(key) - 1] == ':')
			colon = key + strlen(key) - 1;
		if (!colon) {
			ret = fail(err, errlen, "line %d: expected 'key: value'", lineno);
			goto cleanup;
		}
		*colon = '\0';
		value = trim(colon + 1);
		key = trim(key);
		if (indent == 0) {
			if (*value) {
				ret = fail(err, errlen,
					   "line %d: '%s' takes a block of keys below it", lineno,
					   key);
				goto cleanup;
			}
			if (strcmp(key, "tls_server_config") == 0)
				section = TLS;
			else if (strcmp(key, "basic_auth_users") == 0)
				section = USERS;
			else {
				ret = fail(
				    err, errlen,
				    "line %d: unknown key '%s' (serve reads tls_server_config and "
				    "basic_auth_users only)",
				    lineno, key);
				goto cleanup;
			}
			continue;
		}
		if (!indent_unit)
			indent_unit = indent;
		if (section == TOP || indent != indent_unit) {
			ret = fail(err, errlen, "line %d: unexpected indentation", lineno);
			goto cleanup;
		}
		if (section == TLS)
			ret = tls_key(out, key, value, lineno, err, errlen);
		else
			ret = user_entry(out, key, value, lineno, err, errlen);
		if (ret)
			goto cleanup;
	}
	if (!*out->cert_file != !*out->key_file) {
		ret = fail(err, errlen, "tls_server_config needs both cert_file and key_file");
		goto cleanup;
	}
cleanup:
	free(copy);
	return ret;
}

static __typeof__(crypt_r) *crypt_r_fn;
static pthread_once_t crypt_once = PTHREAD_ONCE_INIT;
static char crypt_why[256] = "not loaded";

static void crypt_load(void)
{
	void *lib = dlopen(WEB_CRYPT_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		snprintf(crypt_why, sizeof(crypt_why), "%s", dlerror());
		return;
	}
	crypt_r_fn = (__typeof__(crypt_r) *)dlsym(lib, "crypt_r");
	if (!crypt_r_fn)
		snprintf(crypt_why, sizeof(crypt_why), "%s has no crypt_r", WEB_CRYPT_SONAME);
}

int web_crypt_open(char *why, size_t len)
{
	pthread_once(&crypt_once, crypt_load);
	if (!crypt_r_fn && why && len)
		snprintf(why, len, "%s", crypt_why);
	return crypt_r_fn ? 0 : -ENOENT;
}

bool web_password_ok(const char *hash, const char *password)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *res;
	unsigned char diff = 0;
	size_t hlen = strlen(hash);
	bool ok;

	if (!cd || web_crypt_open(NULL, 0)) {
		free(cd);
		return false;
	}
	res = crypt_r_fn(password, hash, cd);
	/* crypt_r returns a "*0"-like failure token for an unknown method */
	ok = res && res[0] == '$' && strlen(res) == hlen;
	if (ok) {
		for (size_t i = 0; i < hlen; i++)
			diff |= (unsigned char)(res[i] ^ hash[i]);
		ok = diff == 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}
