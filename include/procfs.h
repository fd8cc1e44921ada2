/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small /proc readers shared by the commands: /proc/PID/status and stat.
 * All sizes in bytes. Functions return 0 or -errno (-ENOENT/-ESRCH when the
 * process is gone).
 */
#ifndef MEMTRACE_PROCFS_H
#define MEMTRACE_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* bits of proc_status.present */
#define STATUS_HAS_RSS (1U << 0)   /* VmRSS */
#define STATUS_HAS_SPLIT (1U << 1) /* RssAnon/RssFile/RssShmem (4.5+) */
#define STATUS_HAS_SWAP (1U << 2)  /* VmSwap */

struct proc_status {
	char name[64]; /* Name:, unescaped as the kernel escapes it */
	int tgid;
	int ppid;
	uint64_t vm_rss;
	uint64_t vm_hwm;
	uint64_t rss_anon;
	uint64_t rss_file;
	uint64_t rss_shmem;
	uint64_t vm_swap;
	uint32_t uid;	    /* effective uid, the second figure of Uid: */
	uint32_t present;   /* STATUS_HAS_* */
	bool kernel_thread; /* no VmRSS line at all: kernel threads have no mm */
};

/*
 * Read a whole /proc file into *buf of *cap bytes, NUL-terminated. With
 * limit 0 the buffer is fixed and what fits is kept; otherwise it doubles
 * (realloc, updating *buf and *cap) up to limit bytes, -E2BIG beyond.
 * Returns the length, or -errno (-ENOENT/-ESRCH: gone).
 */
ssize_t proc_read_file(const char *path, char **buf, size_t *cap, size_t limit);

/*
 * The same for a file the kernel writes as one seq_file record
 * (single_open: smaps_rollup, status, stat, comm): one read returns the
 * whole record when it fits, so a read shorter than asked is the end and
 * the read that would only see EOF is skipped, a syscall per file (procps'
 * file2str stops the same way). Not for multi-record files (maps, smaps),
 * whose reads may stop short of a record that did not fit.
 */
ssize_t proc_read_record(const char *path, char **buf, size_t *cap, size_t limit);

/*
 * /proc as a directory fd (O_PATH) for openat()/readlinkat() of "PID/name":
 * a lookup of "/" and "proc" less per file (0.5 to 0.9 us of ~5 to 9 us for
 * comm or exe here). Give each thread its own: in a process with threads
 * every use of an fd counts a reference on its file. AT_FDCWD when /proc
 * cannot be opened, and proc_pid_path() then writes "/proc/PID/name".
 * proc_dir_close() accepts AT_FDCWD.
 */
int proc_dir_open(void);
void proc_dir_close(int dirfd);
void proc_pid_path(char *buf, size_t size, int dirfd, int pid, const char *name);

/* proc_read_record() of path relative to dirfd (from proc_dir_open()) */
ssize_t proc_read_record_at(int dirfd, const char *path, char **buf, size_t *cap, size_t limit);

/*
 * Deferred closes for a thread that reads many small /proc files: their fds
 * are handed to a batch instead of closed one by one, and the batch closes
 * them with one close_range() per run of consecutive numbers. With PTI and
 * shadow paging every syscall costs ~1.1 us here, and a snapshot closes two
 * files per process. Only fds the batch was given are closed, so it is
 * correct in a shared fd table too; runs are long when the thread has its
 * own (unshare(CLONE_FILES)). Holds at most FD_BATCH_MAX fds, which count
 * against RLIMIT_NOFILE: a caller whose open fails with EMFILE flushes and
 * tries again (proc_read_record_batch() does). Zero-initialise; one batch
 * per thread.
 */
#define FD_BATCH_MAX 32
struct fd_batch {
	int fds[FD_BATCH_MAX];
	unsigned int n;
};

/* Keep fd for the next flush (flushing first when full); b NULL closes it now. */
void fd_batch__add(struct fd_batch *b, int fd);
/* Close every fd held (close() each where close_range() is missing); NULL is fine. */
void fd_batch__flush(struct fd_batch *b);

/*
 * proc_read_record_at() whose fd goes to b (NULL: closed as there), and
 * which flushes b and opens again when the open fails with EMFILE.
 */
ssize_t proc_read_record_batch(int dirfd, const char *path, char **buf, size_t *cap, size_t limit,
			       struct fd_batch *b);

/* openat(dirfd, path, O_RDONLY | O_CLOEXEC), flushing b and trying again on EMFILE. */
int proc_open_batch(int dirfd, const char *path, struct fd_batch *b);

/* Parse /proc/PID/status text; -EINVAL when there is no Name or Tgid line. */
int proc_status__parse(const char *buf, size_t len, struct proc_status *out);
int proc_status__read(int pid, struct proc_status *out);

struct proc_stat {
	char comm[64]; /* raw bytes between the first '(' and the last ')' */
	char state;
	int ppid;
	int pgrp;
	int session;
	uint32_t flags;	      /* PF_* */
	uint64_t start_ticks; /* since boot, in clock ticks */
};

/*
 * Parse /proc/PID/stat text. comm may hold spaces and ')', so the fields
 * are counted from the last ')'. -EINVAL when malformed or cut short.
 */
int proc_stat__parse(const char *buf, size_t len, struct proc_stat *out);
int proc_stat__read(int pid, struct proc_stat *out);

/* Kernel thread test from /proc/PID/stat flags (PF_KTHREAD); false when gone. */
bool proc_is_kernel_thread(int pid);

/* Whether /proc/PID exists (the process is alive or a zombie). */
bool proc_exists(int pid);

/* Whether path is a directory of a cgroup v2 hierarchy (statfs: CGROUP2_SUPER_MAGIC). */
bool path_is_cgroup2(const char *path);

#endif /* MEMTRACE_PROCFS_H */
