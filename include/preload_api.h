/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The reader of the allocator interposer (include/preload.h): the socket
 * a `record --malloc -- CMD` child inherits, the registration of each
 * process image, the drain of their rings into exact per-image totals
 * (outstanding blocks and bytes) and the sampled captures, which go to the
 * caller's sink with an id and are released by id when their block is
 * freed (the same stream the uprobe path feeds, src/stacks.c).
 *
 * Every byte the library writes is untrusted: records are copied out of
 * the shared ring before they are parsed, lengths, sizes and the ring's
 * head are checked, and an image whose ring breaks the rules is read no
 * further (counted in corrupt).
 */
#ifndef MEMTRACE_PRELOAD_API_H
#define MEMTRACE_PRELOAD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "recording.h"

/* An image's exact books: outstanding now, and at the highest. */
struct preload_books {
	uint32_t pid, gen;
	uint64_t count;	     /* blocks outstanding */
	int64_t bytes;	     /* bytes outstanding */
	int64_t peak_bytes;  /* the highest bytes outstanding */
	int64_t peak_blocks; /* blocks outstanding then */
	uint64_t
	    peak_ts_ns;	 /* CLOCK_REALTIME of the drain that saw it (<= 10 ms late), 0 unknown */
	bool only_image; /* the run's one image: its peak is every process's */
};

struct preload_sink {
	void *ctx;
	/* The exec generation of pid (our PID namespace's); -ESRCH when it is not traced. */
	int (*gen_of)(void *ctx, uint32_t pid, uint32_t *gen);
	/*
	 * A sampled allocation, id nonzero and unique in the run (bit 63 set).
	 * image_peak: the image's peak of outstanding bytes before this block;
	 * all_peak the same while the run has one image, else -1 (images are
	 * not ordered among themselves).
	 */
	int (*capture)(void *ctx, uint64_t id, const struct mt_rec_ustack *u, int64_t image_peak,
		       int64_t all_peak);
	/* The block captured as id was freed. */
	void (*release)(void *ctx, uint64_t id, int64_t image_peak, int64_t all_peak);
	/* At harvest, an image's exact books. */
	int (*total)(void *ctx, const struct preload_books *b);
};

struct preload_opts {
	uint64_t sample_bytes; /* mean bytes between two captures; 0: no captures */
	uint32_t stack_bytes;  /* stack copied per capture (<= MT_PRELOAD_MAX_STACK) */
	uint32_t max_images;   /* registrations accepted; 0 = 65536 */
};

struct preload_stats {
	uint64_t images;	/* process images registered */
	uint64_t exec_images;	/* of them, started by exec (the others by fork) */
	uint64_t shadowed;	/* of them, whose program has a malloc of its own: not counted */
	uint64_t refused;	/* registrations refused (untraced PID, bad message, too many) */
	uint64_t records;	/* allocation and free records read */
	uint64_t unknown_frees; /* frees of blocks not seen allocated (a fork's inherited ones) */
	uint64_t corrupt;	/* images whose ring broke the protocol: read no further */
	uint64_t lost_bytes; /* allocated bytes counted but not tracked (no memory): never freed */
	uint64_t captures;   /* captures handed to the sink */
	uint64_t capture_errors; /* captures the sink or the protocol refused (their bytes count) */
	uint64_t kicks;		 /* drain requests from full rings */
};

struct preload_reader;

/* The socket and an empty image table; NULL with errno set. */
struct preload_reader *preload_reader__new(const struct preload_opts *opts,
					   const struct preload_sink *sink);
void preload_reader__free(struct preload_reader *r); /* NULL is fine; unmaps every ring */

/*
 * The interposer's path: beside the running memtrace (the build tree), or
 * in ../lib/memtrace/ from it (make install). 0 or -ENOENT.
 */
int preload_find_library(char *out, size_t size);

/*
 * The environment for CMD: env (NULL: ours) with LD_PRELOAD=lib first and
 * MEMTRACE_PRELOAD_FD, in a new array the reader owns. NULL with errno set.
 */
char **preload_reader__child_env(struct preload_reader *r, const char *lib, char *const *env);
/* Closes the child's end of the socket once CMD is started (it holds its own copy). */
void preload_reader__close_child_end(struct preload_reader *r);

/*
 * Whether the interposer can work for cmd as execvp finds it: 0, or
 * -EPERM (set-user-ID or set-group-ID) or -ENOEXEC (statically linked)
 * with why filled in. A command not found is 0: exec says so.
 */
int preload_check_command(const char *cmd, char *why, size_t size);

/* An fd that is readable when a registration or a drain request waits, for poll(2). */
int preload_reader__fd(const struct preload_reader *r);

/* Registrations that wait, then every ring drained. 0 or -errno (the socket failed). */
int preload_reader__poll(struct preload_reader *r);

/* The last drain, then each image's exact totals to the sink. 0 or -errno. */
int preload_reader__harvest(struct preload_reader *r);

void preload_reader__stats(const struct preload_reader *r, struct preload_stats *st);

/*
 * Parses len bytes of one image's ring segment as drain would (at_end: the
 * segment reaches the ring's end, where less than a record may be left
 * over). Tests and the fuzzer: the image is (pid, gen), made on first use.
 * Bytes used, or -EBADMSG once the image is corrupt.
 */
long preload_reader__feed(struct preload_reader *r, uint32_t pid, uint32_t gen, const void *data,
			  size_t len, bool at_end);
/* The books of the image (pid, gen) (the first one, if several); -ENOENT none. */
int preload_reader__image(const struct preload_reader *r, uint32_t pid, uint32_t gen,
			  struct preload_books *b);

#endif /* MEMTRACE_PRELOAD_API_H */
