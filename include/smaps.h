/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading /proc/PID/smaps_rollup (one pre-summed record per process) and,
 * where that file is missing (kernels before 4.14), summing /proc/PID/smaps.
 * All figures in bytes. A reader owns one reusable buffer: no allocation
 * per line or per process.
 */
#ifndef MEMTRACE_SMAPS_H
#define MEMTRACE_SMAPS_H

#include <stddef.h>
#include <stdint.h>

/* bits of smaps_rollup.present: which lines the kernel wrote */
#define SMAPS_HAS_RSS (1U << 0)
#define SMAPS_HAS_PSS (1U << 1)
#define SMAPS_HAS_SWAP (1U << 2)
#define SMAPS_HAS_SWAP_PSS (1U << 3)
#define SMAPS_HAS_HUGETLB (1U << 4)
#define SMAPS_HAS_PSS_SPLIT (1U << 5) /* Pss_Anon/Pss_File/Pss_Shmem (5.x+) */

struct smaps_rollup {
	uint64_t rss;
	uint64_t pss;
	uint64_t pss_anon; /* parts of pss, not extra */
	uint64_t pss_file;
	uint64_t pss_shmem;
	uint64_t shared_clean;
	uint64_t shared_dirty;
	uint64_t private_clean;
	uint64_t private_dirty;
	uint64_t anonymous;
	uint64_t anon_huge;
	uint64_t shmem_pmd;
	uint64_t file_pmd;
	uint64_t shared_hugetlb;  /* not included in rss/pss */
	uint64_t private_hugetlb; /* not included in rss/pss */
	uint64_t swap;
	uint64_t swap_pss;
	uint64_t locked;
	/*
	 * Lowest start and highest end address of the mappings (the header
	 * line): with ASLR, two address spaces almost never share both, so
	 * with rss it identifies an mm cheaply (see snapshot's dedupe).
	 */
	uint64_t vm_start;
	uint64_t vm_end;
	uint32_t present; /* SMAPS_HAS_* */
};

/* private (USS) = Private_Clean + Private_Dirty */
static inline uint64_t smaps_private(const struct smaps_rollup *s)
{
	return s->private_clean + s->private_dirty;
}

/*
 * Parse the text of smaps_rollup or smaps (records are summed; the header
 * lines with addresses only set vm_start/vm_end). Unknown keys are ignored.
 * Returns 0, -EINVAL when the text has no Rss or no Pss line or a malformed
 * value line (truncated files that still hold complete Rss and Pss lines
 * parse; a last line without its newline is ignored), -ERANGE when a value
 * or a sum does not fit in 64 bits as bytes.
 */
int smaps_rollup__parse(const char *buf, size_t len, struct smaps_rollup *out);

struct smaps_reader;

/* A reader holds a buffer and an fd of /proc (proc_dir_open()); NULL on ENOMEM. */
struct smaps_reader *smaps_reader__new(void);
/*
 * Read one process: one open, one read for smaps_rollup (until EOF for
 * smaps), one close. 0 on success; -ENOENT/-ESRCH when the process is gone (callers
 * skip it quietly), -ENODATA when it has no address space (kernel thread,
 * zombie), -EACCES/-EPERM when not readable, -EINVAL/-ERANGE on malformed
 * content, other -errno on I/O failure. Uses smaps when smaps_rollup does
 * not exist. Not thread-safe: use one reader per thread.
 */
int smaps_reader__read(struct smaps_reader *r, int pid, struct smaps_rollup *out);
void smaps_reader__free(struct smaps_reader *r); /* NULL is fine */

/*
 * Hand the smaps_rollup fds to b (procfs.h) instead of closing each; the
 * caller flushes b before it goes away. NULL (the default) closes them.
 */
struct fd_batch;
void smaps_reader__defer_close(struct smaps_reader *r, struct fd_batch *b);

#endif /* MEMTRACE_SMAPS_H */
