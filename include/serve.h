/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memtrace serve: a Prometheus exporter fed by the tracer's counters and
 * the smaps reconcile (the poll top uses, src/proc_poll.c), grouped as
 * snapshot groups (src/snapshot_group.c), rendered by src/metrics.c. The
 * parsers below are separate so that unit tests reach them.
 */
#ifndef MEMTRACE_SERVE_H
#define MEMTRACE_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SERVE_DEFAULT_LISTEN "127.0.0.1:9890"

struct serve_listen {
	struct sockaddr_storage addr; /* AF_INET or AF_INET6, port set */
	socklen_t addrlen;
	bool loopback; /* 127.0.0.0/8 or ::1 */
};

/*
 * "127.0.0.1:9890", "[::1]:9890", "0.0.0.0:9890", "localhost:9890":
 * numeric addresses only (no DNS at start), a port from 1 to 65535.
 * 0 or -EINVAL.
 */
int serve_parse_listen(const char *text, struct serve_listen *out);

/*
 * A whole small file that root reads for its configuration: opened
 * O_NOFOLLOW|O_NONBLOCK, fstat-checked (regular, at most limit bytes),
 * NUL-terminated, malloc'd; NULL with errno set (EINVAL: not a regular
 * file, EFBIG: over limit).
 */
char *serve_read_file(const char *path, size_t limit, size_t *len);

#define WEB_MAX_USERS 64
#define WEB_MAX_NAME 64
#define WEB_MAX_HASH 128
#define WEB_MAX_PATH 4096

struct web_user {
	char name[WEB_MAX_NAME];
	char hash[WEB_MAX_HASH]; /* crypt(3) hash: bcrypt "$2b$"/"$2y$"/"$2a$", or "$y$"/"$6$"... */
};

/*
 * The subset of the exporter-toolkit web config (prometheus/exporter-toolkit
 * docs/web-configuration.md) that serve reads:
 *
 *   tls_server_config:
 *     cert_file: /etc/memtrace/cert.pem
 *     key_file: /etc/memtrace/key.pem
 *   basic_auth_users:
 *     alice: $2y$10$...
 *
 * Any other key is refused (naming the line), so a setting the reader does
 * not enforce is never silently ignored.
 */
struct web_config {
	char cert_file[WEB_MAX_PATH]; /* "" = no TLS */
	char key_file[WEB_MAX_PATH];
	struct web_user users[WEB_MAX_USERS];
	size_t nr_users; /* 0 = no basic auth */
};

/*
 * Parse the text of a web config (len bytes). 0, or -EINVAL with a message
 * ("line 3: unknown key 'http_server_config' ...") in err.
 */
int web_config__parse(const char *text, size_t len, struct web_config *out, char *err,
		      size_t errlen);

/*
 * libxcrypt, loaded with dlopen() when serve has basic_auth_users (linked
 * in, every command maps it: issue 14). Once; 0, or -ENOENT with what the
 * dynamic loader said in why (len bytes).
 */
#define WEB_CRYPT_SONAME "libcrypt.so.1"
int web_crypt_open(char *why, size_t len);

/*
 * Whether password matches the crypt(3) hash (libxcrypt: bcrypt and the
 * other modern methods); constant-time comparison of the result. false
 * before web_crypt_open() succeeded.
 */
bool web_password_ok(const char *hash, const char *password);

/*
 * /debug/pprof/memory?seconds=N[&pid=P,...]: the page-fault call sites of
 * those processes (every process without pid) for N seconds, as a gzip'd
 * pprof profile (what `memtrace record` + `report --format pprof` give),
 * taken on a worker thread, one at a time (src/serve_pprof.c).
 */
#define SERVE_PPROF_MAX_PIDS 64
#define SERVE_PPROF_DEFAULT_SECONDS 30
#define SERVE_PPROF_MAX_SECONDS 120

struct serve_profiler;

struct serve_profiler *serve_profiler__new(void);
/* Cancels a profile being taken and joins its thread; NULL is fine. */
void serve_profiler__free(struct serve_profiler *p);

/*
 * Start a profile; done(arg) is called on the worker thread when it ended
 * (taken or failed). 0, -EBUSY while another one runs or waits to be taken,
 * -errno.
 */
int serve_profiler__start(struct serve_profiler *p, uint32_t seconds, const int *pids, size_t npids,
			  void (*done)(void *arg), void *arg);

/* Whether a profile's window is open: its processes are being traced now. */
bool serve_profiler__tracing(const struct serve_profiler *p);

/* Whether a profile is being taken or waits to be taken. */
bool serve_profiler__busy(struct serve_profiler *p);

/*
 * The finished profile: *buf (malloc'd, the caller's) and *len, and 0; or
 * the profile's -errno; -EAGAIN when none finished. The profiler is free again.
 */
int serve_profiler__take(struct serve_profiler *p, char **buf, size_t *len);

#endif /* MEMTRACE_SERVE_H */
