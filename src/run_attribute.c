// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace run --attribute: `memtrace record` runs around the command and
 * `memtrace report` names the call sites afterwards, both as subprocesses
 * of this same binary, so that run depends on their command lines only.
 *
 * The chain is run -> record -> sh (the shim) -> CMD. The recorder holds
 * the shim until its own programs are attached; the shim then reports its
 * PID on fd 7 and waits on fd 8 until run's tracer has it, so the
 * recorder's memory is traced by nobody and CMD's tree by both. The
 * recorder's stderr goes to a log in the temporary directory; CMD gets the
 * original stderr back (fd 62).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "log.h"
#include "run.h"

/* single digits: dash knows no others in redirections */
#define FD_REPORT 7	/* shim -> run: "PID\n", then "STATUS\n" */
#define FD_GO 8		/* run -> shim: one line when traced */
#define FD_STDERR 9	/* the original stderr, for CMD */
#define SITES_TOP 10
#define START_TIMEOUT_MS 15000
#define FINISH_WAIT_MS 3000
#define HARVEST_TIMEOUT_MS 60000

/*
 * $$ is the shim's PID: the process run's tracer is seeded with. CMD runs
 * as its child (not exec), so that its status comes back on FD_REPORT
 * whatever the recorder exits with; CMD does not inherit our descriptors.
 */
static const char shim_script[] =
	"echo $$ >&7 || exit 126; read _ <&8 || exit 126; exec 8<&-; "
	"\"$@\" 2>&9 7>&- 9>&-; s=$?; echo $s >&7; exit $s";

struct run_attribution {
	char dir[64];
	char data[PATH_MAX];
	char log[PATH_MAX];
	char self[PATH_MAX];
	char **argv;
	int report_fds[2];	/* read end ours, write end the shim's FD_REPORT */
	int go_fds[2];		/* write end ours, read end the shim's FD_GO */
	int log_fd;
	int target_pidfd;
	pid_t recorder;
	bool recorder_done;
	int recorder_status;
	pid_t target;
	bool target_done;
	int target_status;
	char line[64];
	size_t line_len;
	char *json;
	char note[512];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

struct run_attribution *run_attribution__new(void)
{
	struct run_attribution *a = calloc(1, sizeof(*a));
	ssize_t n;
	int err;

	if (!a)
		return NULL;
	a->report_fds[0] = a->report_fds[1] = a->go_fds[0] = a->go_fds[1] = -1;
	a->log_fd = a->target_pidfd = -1;
	n = readlink("/proc/self/exe", a->self, sizeof(a->self) - 1);
	if (n <= 0) {
		err = errno;
		mt_err("cannot find the memtrace binary (/proc/self/exe): %s", strerror(err));
		goto fail;
	}
	a->self[n] = '\0';
	snprintf(a->dir, sizeof(a->dir), "/tmp/memtrace-run.XXXXXX");
	if (!mkdtemp(a->dir)) {
		err = errno;
		mt_err("cannot create a directory for the recording in /tmp: %s", strerror(err));
		a->dir[0] = '\0';
		goto fail;
	}
	snprintf(a->data, sizeof(a->data), "%s/memtrace.data", a->dir);
	snprintf(a->log, sizeof(a->log), "%s/record.log", a->dir);
	a->log_fd = open(a->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (a->log_fd < 0 || pipe2(a->report_fds, O_CLOEXEC) || pipe2(a->go_fds, O_CLOEXEC)) {
		err = errno;
		mt_err("cannot set up the recorder: %s", strerror(err));
		goto fail;
	}
	return a;
fail:
	run_attribution__free(a);
	errno = err;
	return NULL;
}

void run_attribution__free(struct run_attribution *a)
{
	if (!a)
		return;
	for (int i = 0; i < 2; i++) {
		if (a->report_fds[i] >= 0)
			close(a->report_fds[i]);
		if (a->go_fds[i] >= 0)
			close(a->go_fds[i]);
	}
	if (a->log_fd >= 0)
		close(a->log_fd);
	if (a->target_pidfd >= 0)
		close(a->target_pidfd);
	if (a->recorder > 0 && !a->recorder_done) {
		kill(a->recorder, SIGKILL);
		waitpid(a->recorder, NULL, 0);
	}
	if (a->dir[0]) {
		unlink(a->data);
		unlink(a->log);
		rmdir(a->dir);
	}
	free(a->argv);
	free(a->json);
	free(a);
}

char **run_attribution__wrap(struct run_attribution *a, char **cmd)
{
	static const char *const head[] = { NULL, "record", "-f", "-o", NULL, "--", "/bin/sh", "-c",
					    shim_script, "memtrace-run-shim" };
	size_t nh = sizeof(head) / sizeof(head[0]), nc = 0;

	while (cmd[nc])
		nc++;
	a->argv = calloc(nh + nc + 1, sizeof(*a->argv));
	if (!a->argv)
		return NULL;
	for (size_t i = 0; i < nh; i++)
		a->argv[i] = (char *)head[i];
	a->argv[0] = a->self;
	a->argv[4] = a->data;
	for (size_t i = 0; i < nc; i++)
		a->argv[nh + i] = cmd[i];
	return a->argv;
}

/*
 * In the forked child, before exec: async-signal-safe calls only. The
 * sources are moved out of the way first, since any of them may sit on
 * one of the targets.
 */
void run_attribution__child_fds(const struct run_attribution *a)
{
	int err_fd = fcntl(STDERR_FILENO, F_DUPFD, 100);
	int report_fd = fcntl(a->report_fds[1], F_DUPFD, 100);
	int go_fd = fcntl(a->go_fds[0], F_DUPFD, 100);
	int log_fd = fcntl(a->log_fd, F_DUPFD, 100);

	dup2(err_fd, FD_STDERR);
	dup2(report_fd, FD_REPORT);
	dup2(go_fd, FD_GO);
	dup2(log_fd, STDERR_FILENO);
	close(err_fd);
	close(report_fd);
	close(go_fd);
	close(log_fd);
}

/* Lines from the shim; returns 1 with a line in a->line, 0 when none yet, -1 at EOF. */
static int read_line(struct run_attribution *a, char *out, size_t len)
{
	for (;;) {
		char *nl = memchr(a->line, '\n', a->line_len);
		ssize_t n;

		if (nl) {
			size_t l = nl - a->line;

			snprintf(out, len, "%.*s", (int)l, a->line);
			memmove(a->line, nl + 1, a->line_len - l - 1);
			a->line_len -= l + 1;
			return 1;
		}
		if (a->line_len == sizeof(a->line))
			a->line_len = 0; /* garbage: nothing we wrote */
		n = read(a->report_fds[0], a->line + a->line_len, sizeof(a->line) - a->line_len);
		if (n == 0)
			return -1;
		if (n < 0)
			return 0;
		a->line_len += n;
	}
}

static void print_recorder_log(const struct run_attribution *a)
{
	char buf[2048];
	int fd = open(a->log, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		(void)!write(STDERR_FILENO, buf, n);
	close(fd);
}

int run_attribution__wait_target(struct run_attribution *a, pid_t recorder, pid_t *target)
{
	uint64_t deadline = now_ms() + START_TIMEOUT_MS;
	char line[32];

	a->recorder = recorder;
	close(a->report_fds[1]);
	a->report_fds[1] = -1;
	close(a->go_fds[0]);
	a->go_fds[0] = -1;
	fcntl(a->report_fds[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd pfd = { .fd = a->report_fds[0], .events = POLLIN };
		int status, r;
		char *end;
		long pid;

		r = read_line(a, line, sizeof(line));
		if (r > 0) {
			errno = 0;
			pid = strtol(line, &end, 10);
			if (errno || *end || pid <= 0) {
				mt_err("the recorder's shim said '%s', not a PID", line);
				return -EPROTO;
			}
			a->target = pid;
			*target = pid;
			a->target_pidfd = syscall(SYS_pidfd_open, pid, 0);
			return 0;
		}
		if (r < 0 || waitpid(recorder, &status, WNOHANG) == recorder) {
			if (r >= 0) {
				a->recorder_done = true;
				a->recorder_status = status;
			}
			print_recorder_log(a);
			mt_err("memtrace record did not start the command (see its messages above); "
			       "run without --attribute to check budgets only");
			return -ECHILD;
		}
		if (now_ms() > deadline) {
			print_recorder_log(a);
			mt_err("memtrace record did not start the command within %d s",
			       START_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		poll(&pfd, 1, 50 /* ms */);
	}
}

int run_attribution__release(struct run_attribution *a)
{
	int err = 0;

	if (write(a->go_fds[1], "g\n", 2) != 2)
		err = -errno;
	close(a->go_fds[1]);
	a->go_fds[1] = -1;
	return err;
}

int run_attribution__fd(const struct run_attribution *a)
{
	return a->report_fds[0];
}

void run_attribution__check_target(struct run_attribution *a, int signal_sent, bool *done,
				   int *wait_status)
{
	struct pollfd pfd = { .fd = a->target_pidfd, .events = POLLIN };
	char line[32];
	bool gone;

	if (a->target_done) {
		*done = true;
		*wait_status = a->target_status;
		return;
	}
	gone = a->target_pidfd >= 0 && poll(&pfd, 1, 0) > 0;
	if (read_line(a, line, sizeof(line)) > 0) {
		char *end;
		long code;

		errno = 0;
		code = strtol(line, &end, 10);
		if (!errno && !*end && code >= 0 && code <= 255) {
			/* a shell's $?: 128+N already stands for a signal */
			a->target_status = (int)code << 8;
			a->target_done = true;
		}
	} else if (gone) {
		/* the shim died without a word: killed with CMD by a signal to the group */
		a->target_status = signal_sent ? signal_sent : SIGKILL;
		a->target_done = true;
	}
	*done = a->target_done;
	*wait_status = a->target_status;
}

bool run_attribution__is_recorder(struct run_attribution *a, pid_t pid, int status)
{
	if (pid != a->recorder)
		return false;
	a->recorder_done = true;
	a->recorder_status = status;
	return true;
}

static bool wait_recorder(struct run_attribution *a, uint64_t ms)
{
	uint64_t deadline = now_ms() + ms;
	int status;

	while (!a->recorder_done) {
		if (waitpid(a->recorder, &status, WNOHANG) == a->recorder) {
			a->recorder_done = true;
			a->recorder_status = status;
			break;
		}
		if (now_ms() > deadline)
			return false;
		usleep(10000);
	}
	return true;
}

void run_attribution__finish(struct run_attribution *a)
{
	/* it stops by itself once every traced process is gone; leftovers keep it waiting */
	if (wait_recorder(a, FINISH_WAIT_MS))
		return;
	kill(a->recorder, SIGINT);
	if (!wait_recorder(a, HARVEST_TIMEOUT_MS)) {
		kill(a->recorder, SIGKILL);
		wait_recorder(a, HARVEST_TIMEOUT_MS);
	}
}

/* `memtrace report` on the recording, its stdout into a->json. 0 or -errno. */
static int run_report(struct run_attribution *a, uint32_t pid)
{
	char pidarg[16], top[16];
	char *argv[] = { a->self, "report", "-i", a->data, "--format", "json", "--event", "fault",
			 "--top", top, pid ? "-p" : NULL, pidarg, NULL };
	int fds[2], status, err = 0;
	size_t len = 0, cap = 0;
	pid_t child;

	snprintf(pidarg, sizeof(pidarg), "%u", pid);
	snprintf(top, sizeof(top), "%d", SITES_TOP);
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (child == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execv(a->self, argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			char *j = realloc(a->json, cap = cap ? cap * 2 : 16384);

			if (!j) {
				err = -ENOMEM;
				break;
			}
			a->json = j;
		}
		n = read(fds[0], a->json + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fds[0]);
	if (a->json)
		a->json[len] = '\0';
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (!err && (!WIFEXITED(status) || WEXITSTATUS(status)))
		err = -EIO;
	if (err) {
		free(a->json);
		a->json = NULL;
	}
	return err;
}

void run_attribution__resolve(struct run_attribution *a, const struct run_verdict *v, size_t nr,
			      const struct run_figures *fig, const char **json, const char **note)
{
	const struct run_verdict *over = NULL;
	uint32_t pid;

	*json = NULL;
	*note = NULL;
	for (size_t i = 0; i < nr && !over; i++)
		if (v[i].over)
			over = &v[i];
	if (!a->recorder_done || !WIFEXITED(a->recorder_status) || WEXITSTATUS(a->recorder_status) ||
	    access(a->data, R_OK)) {
		print_recorder_log(a);
		snprintf(a->note, sizeof(a->note), "memtrace record did not write a recording (see "
			 "its messages above)");
		*note = a->note;
		return;
	}
	/* per-process budgets name their process; tree budgets are the whole tree's doing */
	if (over)
		pid = over->kind == RUN_MAX_RSS || over->kind == RUN_MAX_PSS ? over->pid : 0;
	else
		pid = fig->proc_peak_pid;
	if (run_report(a, pid)) {
		print_recorder_log(a);
		snprintf(a->note, sizeof(a->note), "memtrace report could not read the recording");
		*note = a->note;
		return;
	}
	if (pid)
		snprintf(a->note, sizeof(a->note), "page-fault call sites of pid %u (%s)", pid,
			 over ? "it broke the budget" : "no budget broken: the largest process");
	else
		snprintf(a->note, sizeof(a->note), "page-fault call sites of the whole tree (a tree "
			 "budget was broken)");
	*json = a->json;
	*note = a->note;
}
