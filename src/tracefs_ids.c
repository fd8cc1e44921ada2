// SPDX-License-Identifier: GPL-2.0
/*
 * Tracepoint event ids from tracefs, mounted or privately (include/tracefs_ids.h).
 * libbpf's bpf_program__attach_tracepoint() reads the same id file, but only
 * under a mounted tracefs (or debugfs), which memtrace must not need.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include "tracefs_ids.h"

#define EVENT_FILE_MAX 8192 /* a format file is about 1 KiB */

static int open_dir(int at, const char *name)
{
	return openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* 0 when fd is a directory on tracefs owned by root, else -ENOENT. */
static int check_root(int fd)
{
	struct statfs sfs;
	struct stat st;

	if (fstatfs(fd, &sfs) || fstat(fd, &st))
		return -errno;
	if (sfs.f_type != TRACEFS_MAGIC || !S_ISDIR(st.st_mode) || st.st_uid != 0)
		return -ENOENT;
	return 0;
}

/* events/EVENT/FILE below root into buf, NUL-terminated: its length or -errno. */
static ssize_t read_event_file(int root, const char *event, const char *file, char *buf, size_t cap)
{
	int dir = open_dir(root, "events"), fd, err;
	const char *p = event;
	struct stat st;
	size_t len = 0;

	if (dir < 0)
		return -errno;
	while (*p) {
		char part[128];
		size_t n = strcspn(p, "/");
		int next;

		if (!n || n >= sizeof(part)) {
			close(dir);
			return -EINVAL;
		}
		memcpy(part, p, n);
		part[n] = '\0';
		next = open_dir(dir, part);
		err = -errno;
		close(dir);
		if (next < 0)
			return err;
		dir = next;
		p += n + (p[n] == '/');
	}
	fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	err = -errno;
	close(dir);
	if (fd < 0)
		return err;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	while (len + 1 < cap) {
		ssize_t got = read(fd, buf + len, cap - 1 - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			close(fd);
			return err;
		}
		if (!got)
			break;
		len += got;
	}
	close(fd);
	buf[len] = '\0';
	return len;
}

/*
 * Whether format (an event's format file) declares field f at f's offset
 * and size: a line "field:TYPE NAME;<tab>offset:N;<tab>size:N;...".
 */
static bool format_has(const char *format, const struct tracefs_field *f)
{
	size_t name_len = strlen(f->name);

	for (const char *line = format; *line;) {
		const char *eol = strchr(line, '\n'), *decl, *semi, *end, *start, *off, *size;

		if (!eol)
			eol = line + strlen(line);
		decl = strstr(line, "field:");
		semi = decl && decl < eol ? memchr(decl, ';', eol - decl) : NULL;
		if (semi) {
			end = semi;
			if (end > decl && end[-1] == ']') /* an array: NAME[N] */
				while (end > decl && *end != '[')
					end--;
			start = end;
			while (start > decl &&
			       (isalnum((unsigned char)start[-1]) || start[-1] == '_'))
				start--;
			off = strstr(semi, "offset:");
			size = strstr(semi, "size:");
			if ((size_t)(end - start) == name_len &&
			    !strncmp(start, f->name, name_len) && off && off < eol && size &&
			    size < eol)
				return strtoul(off + 7, NULL, 10) == f->offset &&
				       strtoul(size + 5, NULL, 10) == f->size;
		}
		line = *eol ? eol + 1 : eol;
	}
	return false;
}

/* Every event's id, its format checked; 0 or -errno with why. */
static int read_ids(int root, const struct tracefs_event *events, int n, uint32_t *ids, char *why,
		    size_t why_len)
{
	char buf[EVENT_FILE_MAX];

	for (int i = 0; i < n; i++) {
		ssize_t len = read_event_file(root, events[i].name, "id", buf, sizeof(buf));
		unsigned long id;
		char *end;

		if (len < 0) {
			snprintf(why, why_len, "no event %s (%s%s)", events[i].name,
				 strerror((int)-len),
				 len == -ENOENT ? ": a kernel without CONFIG_FTRACE_SYSCALLS" : "");
			return (int)len;
		}
		errno = 0;
		id = strtoul(buf, &end, 10);
		if (errno || end == buf || (*end && *end != '\n') || !id || id > UINT32_MAX) {
			snprintf(why, why_len, "event %s: id '%.20s' is not a number",
				 events[i].name, buf);
			return -EPROTO;
		}
		ids[i] = (uint32_t)id;
		len = read_event_file(root, events[i].name, "format", buf, sizeof(buf));
		if (len < 0) {
			snprintf(why, why_len, "cannot read %s/format: %s", events[i].name,
				 strerror((int)-len));
			return (int)len;
		}
		for (const struct tracefs_field *f = events[i].fields; f && f->name; f++)
			if (!format_has(buf, f)) {
				snprintf(
				    why, why_len,
				    "event %s: no field %s at offset %u, size %u in its format",
				    events[i].name, f->name, f->offset, f->size);
				return -EPROTO;
			}
	}
	return 0;
}

struct child_result {
	int err;
	uint32_t ids[TRACEFS_MAX_EVENTS];
	char why[200];
};

/* In the forked child: its own mount namespace, tracefs on a new directory. */
static int child_read_ids(const struct tracefs_event *events, int n, char *dir,
			  struct child_result *r)
{
	int root, err;

	if (unshare(CLONE_NEWNS)) {
		err = -errno;
		snprintf(r->why, sizeof(r->why),
			 "tracefs not mounted and no private mount namespace: %s (needs "
			 "CAP_SYS_ADMIN)",
			 strerror(-err));
		return err;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		err = -errno;
		snprintf(r->why, sizeof(r->why), "cannot make the mounts private: %s",
			 strerror(-err));
		return err;
	}
	if (!mkdtemp(dir)) {
		err = -errno;
		snprintf(r->why, sizeof(r->why), "cannot make a directory for tracefs: %s",
			 strerror(-err));
		return err;
	}
	if (mount("tracefs", dir, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		err = -errno;
		snprintf(r->why, sizeof(r->why), "cannot mount tracefs privately: %s%s",
			 strerror(-err), err == -ENODEV ? " (a kernel without tracefs)" : "");
		rmdir(dir);
		return err;
	}
	root = open_dir(AT_FDCWD, dir);
	err = root < 0 ? -errno : check_root(root);
	if (!err)
		err = read_ids(root, events, n, r->ids, r->why, sizeof(r->why));
	else
		snprintf(r->why, sizeof(r->why), "the private tracefs mount cannot be read: %s",
			 strerror(-err));
	if (root >= 0)
		close(root);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return err;
}

static int private_mount_ids(const struct tracefs_event *events, int n, uint32_t *ids, char *why,
			     size_t why_len)
{
	struct child_result r = { .err = -EIO };
	const char *tmp = getenv("TMPDIR");
	char dir[256];
	size_t got = 0;
	int p[2];
	pid_t pid;

	/* the template before fork: the child calls no allocator */
	snprintf(dir, sizeof(dir), "%s/memtrace-tracefs-XXXXXX",
		 tmp && tmp[0] == '/' && strlen(tmp) < 200 ? tmp : "/tmp");
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		snprintf(why, why_len, "cannot fork to mount tracefs privately: %s",
			 strerror(-err));
		return err;
	}
	if (pid == 0) {
		close(p[0]);
		r.err = child_read_ids(events, n, dir, &r);
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	while (got < sizeof(r)) {
		ssize_t k = read(p[0], (char *)&r + got, sizeof(r) - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += k;
	}
	close(p[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(r)) {
		snprintf(why, why_len, "the child that mounts tracefs privately gave no answer");
		return -EIO;
	}
	if (r.err) {
		snprintf(why, why_len, "%s", r.why);
		return r.err < 0 ? r.err : -EIO;
	}
	memcpy(ids, r.ids, n * sizeof(*ids));
	return 0;
}

int tracefs_ids__get(const struct tracefs_event *events, int n, const struct tracefs_ids_opts *opts,
		     uint32_t *ids, char *source, size_t source_len, char *why, size_t why_len)
{
	static const char *const mounts[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	int err;

	if (n <= 0 || n > TRACEFS_MAX_EVENTS || !why_len)
		return -EINVAL;
	why[0] = '\0';
	for (size_t i = 0; !(opts && opts->private_only) && i < sizeof(mounts) / sizeof(*mounts);
	     i++) {
		int fd = open_dir(AT_FDCWD, mounts[i]);

		if (fd < 0)
			continue;
		err = check_root(fd);
		if (!err)
			err = read_ids(fd, events, n, ids, why, why_len);
		close(fd);
		if (err == -ENOENT && !why[0])
			continue; /* not tracefs (an empty mount point) or not root's */
		if (!err)
			snprintf(source, source_len, "%s", mounts[i]);
		return err; /* a kernel without the events has them in no other mount */
	}
	err = private_mount_ids(events, n, ids, why, why_len);
	if (!err)
		snprintf(source, source_len, "a private tracefs mount");
	return err;
}

int tracefs_ids__sys_exits(const char *const *syscalls, int n, const struct tracefs_ids_opts *opts,
			   uint32_t *ids, char *source, size_t source_len, char *why,
			   size_t why_len)
{
	static const struct tracefs_field fields[] = {
		{ "__syscall_nr", 8, 4 },
		{ "ret", 16, 8 },
		{ NULL, 0, 0 },
	};
	struct tracefs_event events[TRACEFS_MAX_EVENTS];
	char names[TRACEFS_MAX_EVENTS][48];

	if (n <= 0 || n > TRACEFS_MAX_EVENTS)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "syscalls/sys_exit_%s", syscalls[i]);
		events[i] = (struct tracefs_event){ names[i], fields };
	}
	return tracefs_ids__get(events, n, opts, ids, source, source_len, why, why_len);
}
