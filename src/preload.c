// SPDX-License-Identifier: GPL-2.0
/*
 * The interposer's reader behind include/preload_api.h. The protocol is
 * include/preload.h; the library is src/preload/memtrace_preload.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libgen.h>
#include <libelf.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "hashmap.h"
#include "preload.h"
#include "preload_api.h"
#include "stacks.h"

#define MAP_BYTES ((size_t)MT_PRELOAD_CTL_BYTES + MT_PRELOAD_RING_BYTES)
#define MAX_BLOCK_BYTES (1ULL << 47) /* more than any allocation can have succeeded with */
#define ID_BIT (1ULL << 63)	     /* preload capture ids; the BPF side's count from 1 */
#define MAX_FDS 8		     /* fds taken from one message (the extra ones closed) */
#define CHECK_EVERY 50		     /* polls between two checks for images whose writer left */

struct image {
	uint32_t pid, gen;
	struct mt_preload_ctl *ctl; /* the shared mapping; NULL once the writer is gone */
	uint64_t tail;
	struct hashmap *live;	  /* ptr -> size */
	struct hashmap *captured; /* ptr -> capture id */
	uint64_t count;		  /* outstanding blocks */
	int64_t bytes, peak;	  /* outstanding bytes, their peak */
	int64_t peak_blocks;	  /* count at the peak */
	uint64_t peak_ts_ns;	  /* the drain that saw the peak */
	uint64_t since_count;	  /* allocations since the last capture */
	int64_t since_bytes;
	bool corrupt;
};

struct preload_reader {
	int sock, child_sock;
	struct preload_opts opts;
	struct preload_sink sink;
	struct image **images;
	size_t n, cap;
	struct hashmap *mapped; /* pid << 32 | gen -> 1: images with a ring mapped (one each) */
	uint8_t
	    *scratch; /* a ring's worth, from the first drain: records are parsed from this copy */
	uint64_t next_id;
	unsigned int polls;
	uint64_t now_ns; /* CLOCK_REALTIME of this drain */
	char env_fd[64];
	char *env_preload;
	char **env;
	struct preload_stats st;
};

static void image_free(struct image *img)
{
	if (!img)
		return;
	if (img->ctl)
		munmap(img->ctl, MAP_BYTES);
	hashmap__free(img->live);
	hashmap__free(img->captured);
	free(img);
}

static struct image *image_new(struct preload_reader *r, uint32_t pid, uint32_t gen)
{
	struct image *img = calloc(1, sizeof(*img)), **grown;

	if (!img)
		return NULL;
	img->pid = pid;
	img->gen = gen;
	img->live = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 1024);
	img->captured = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 64);
	if (!img->live || !img->captured)
		goto fail;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;

		grown = realloc(r->images, cap * sizeof(*grown));
		if (!grown)
			goto fail;
		r->images = grown;
		r->cap = cap;
	}
	r->images[r->n++] = img;
	return img;
fail:
	image_free(img);
	errno = ENOMEM;
	return NULL;
}

struct preload_reader *preload_reader__new(const struct preload_opts *opts,
					   const struct preload_sink *sink)
{
	struct preload_reader *r = calloc(1, sizeof(*r));
	int one = 1, fds[2], err;

	if (!r)
		return NULL;
	r->opts = *opts;
	r->sink = *sink;
	r->sock = r->child_sock = -1;
	r->mapped = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 64);
	if (!r->mapped) {
		err = -ENOMEM;
		goto fail;
	}
	if (!r->opts.max_images)
		r->opts.max_images = 65536;
	if (r->opts.stack_bytes > MT_PRELOAD_MAX_STACK)
		r->opts.stack_bytes = MT_PRELOAD_MAX_STACK;
	/* ours close-on-exec; the child's inherited by CMD and everything it starts */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds)) {
		err = -errno;
		goto fail;
	}
	r->sock = fds[0];
	r->child_sock = fds[1];
	if (fcntl(r->sock, F_SETFD, FD_CLOEXEC) || fcntl(r->sock, F_SETFL, O_NONBLOCK) ||
	    setsockopt(r->sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one))) {
		err = -errno;
		goto fail;
	}
	return r;
fail:
	preload_reader__free(r);
	errno = -err;
	return NULL;
}

void preload_reader__free(struct preload_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		image_free(r->images[i]);
	free(r->images);
	hashmap__free(r->mapped);
	if (r->sock >= 0)
		close(r->sock);
	preload_reader__close_child_end(r);
	free(r->scratch);
	free(r->env_preload);
	free(r->env);
	free(r);
}

int preload_find_library(char *out, size_t size)
{
	static const char *const rel[] = { "", "../lib/memtrace/" };
	char self[PATH_MAX], *dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -ENOENT;
	self[n] = '\0';
	dir = dirname(self);
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		int len = snprintf(out, size, "%s/%s%s", dir, rel[i], MT_PRELOAD_LIB);

		if (len > 0 && (size_t)len < size && access(out, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

char **preload_reader__child_env(struct preload_reader *r, const char *lib, char *const *env)
{
	extern char **environ;
	const char *old = NULL;
	struct stat st;
	size_t n = 0, k = 0;

	if (!env)
		env = environ;
	if (r->child_sock < 0 || fstat(r->child_sock, &st)) {
		errno = EBADF;
		return NULL;
	}
	snprintf(r->env_fd, sizeof(r->env_fd), MT_PRELOAD_ENV_FD "=%d:%llu", r->child_sock,
		 (unsigned long long)st.st_ino);
	for (; env[n]; n++)
		if (strncmp(env[n], "LD_PRELOAD=", 11) == 0)
			old = env[n] + 11;
	free(r->env_preload);
	free(r->env);
	r->env = calloc(n + 3, sizeof(*r->env));
	if (!r->env || asprintf(&r->env_preload, "LD_PRELOAD=%s%s%s", lib, old && *old ? " " : "",
				old ? old : "") < 0) {
		r->env_preload = NULL;
		errno = ENOMEM;
		return NULL;
	}
	r->env[k++] = r->env_preload;
	r->env[k++] = r->env_fd;
	for (size_t i = 0; i < n; i++)
		if (strncmp(env[i], "LD_PRELOAD=", 11) &&
		    strncmp(env[i], MT_PRELOAD_ENV_FD "=", strlen(MT_PRELOAD_ENV_FD) + 1))
			r->env[k++] = env[i];
	r->env[k] = NULL;
	return r->env;
}

void preload_reader__close_child_end(struct preload_reader *r)
{
	if (r->child_sock >= 0)
		close(r->child_sock);
	r->child_sock = -1;
}

int preload_reader__fd(const struct preload_reader *r)
{
	return r->sock;
}

/* ---- records ---- */

/* While the run has one image, its peak is every process's. */
static int64_t all_peak(const struct preload_reader *r, const struct image *img)
{
	return r->n == 1 ? img->peak : -1;
}

static void on_free(struct preload_reader *r, struct image *img, uint64_t ptr)
{
	uintptr_t size, id;

	if (!hashmap__delete(img->live, ptr, NULL, &size)) {
		r->st.unknown_frees++;
		return;
	}
	img->count--;
	img->bytes -= (int64_t)size;
	if (hashmap__delete(img->captured, ptr, NULL, &id) && r->sink.release)
		r->sink.release(r->sink.ctx, id, img->peak, all_peak(r, img));
}

static void take_capture(struct preload_reader *r, struct image *img, uint64_t ptr,
			 const struct mt_preload_capture *c, const uint8_t *stack)
{
	struct mt_rec_ustack u = {
		.pid = img->pid,
		.gen = img->gen,
		.event = MT_EV_MALLOC,
		.class = MT_CLASS_NONE,
		.arch = c->arch,
		.nregs = 17,
		.stack_addr = c->sp,
		.stack_len = c->stack_len,
		.stack = (uint8_t *)stack,
	};
	uint64_t id = ++r->next_id | ID_BIT;

	/* the library knows these three; rbx, r12..r15 are 0 (unknown) */
	u.regs[6] = c->bp;
	u.regs[7] = c->sp;
	u.regs[16] = c->ip;
	/* the weight is what this reader counted since the last capture, never the library's word
	 */
	u.count = img->since_count;
	u.bytes = img->since_bytes;
	img->since_count = 0;
	img->since_bytes = 0;
	if (c->arch != 62 /* EM_X86_64 */ || !r->sink.capture ||
	    r->sink.capture(r->sink.ctx, id, &u, img->peak, all_peak(r, img))) {
		r->st.capture_errors++;
		return;
	}
	r->st.captures++;
	if (hashmap__set(img->captured, ptr, id, NULL, NULL)) {
		r->st.capture_errors++; /* its free cannot release it: it stays live */
		return;
	}
}

static void on_alloc(struct preload_reader *r, struct image *img, uint64_t ptr, uint64_t size,
		     const struct mt_preload_capture *c, const uint8_t *stack)
{
	if (hashmap__find(img->live, ptr, NULL))
		on_free(r, img, ptr); /* a free the program did not let us see: the older block */
	img->since_count++;
	img->since_bytes += (int64_t)size;
	if (c)
		take_capture(r, img, ptr, c, stack);
	if (hashmap__set(img->live, ptr, size, NULL, NULL))
		r->st.lost_bytes += size; /* counted, but its free will not take it back */
	img->count++;
	img->bytes += (int64_t)size;
	if (img->bytes > img->peak) {
		img->peak = img->bytes;
		img->peak_blocks = (int64_t)img->count;
		img->peak_ts_ns = r->now_ns;
	}
}

/*
 * One segment of the ring, copied out: whole records, up to a pad or
 * less than a record at the ring's end. Bytes used, or -EBADMSG.
 */
static long parse(struct preload_reader *r, struct image *img, const uint8_t *buf, size_t len,
		  bool at_end)
{
	size_t off = 0;

	while (off < len) {
		struct mt_preload_rec rec;
		struct mt_preload_capture c;
		size_t left = len - off;

		if (left < sizeof(rec)) {
			if (!at_end)
				return -EBADMSG;
			off = len; /* the producer skips what cannot hold a header */
			break;
		}
		memcpy(&rec, buf + off, sizeof(rec));
		if (rec.len < sizeof(rec) || rec.len % 8 || rec.len > left)
			return -EBADMSG;
		switch (rec.type) {
		case MT_PREC_ALLOC:
		case MT_PREC_CAPTURE:
			if (rec.size > MAX_BLOCK_BYTES || !rec.ptr)
				return -EBADMSG;
			if (rec.type == MT_PREC_ALLOC) {
				on_alloc(r, img, rec.ptr, rec.size, NULL, NULL);
				break;
			}
			if (rec.len < sizeof(rec) + sizeof(c))
				return -EBADMSG;
			memcpy(&c, buf + off + sizeof(rec), sizeof(c));
			if (c.stack_len > MT_PRELOAD_MAX_STACK ||
			    c.stack_len > rec.len - sizeof(rec) - sizeof(c))
				return -EBADMSG;
			on_alloc(r, img, rec.ptr, rec.size, &c,
				 buf + off + sizeof(rec) + sizeof(c));
			break;
		case MT_PREC_FREE:
			on_free(r, img, rec.ptr);
			break;
		case MT_PREC_MUNMAP:
			/* unmapping what no mmap record made is normal: not an unknown free */
			if (hashmap__find(img->live, rec.ptr, NULL))
				on_free(r, img, rec.ptr);
			break;
		case MT_PREC_PAD:
			if (!at_end || rec.len != left)
				return -EBADMSG;
			break;
		default:
			return -EBADMSG;
		}
		if (rec.type != MT_PREC_PAD)
			r->st.records++;
		off += rec.len;
	}
	return (long)off;
}

static void mark_corrupt(struct preload_reader *r, struct image *img)
{
	if (!img->corrupt)
		r->st.corrupt++;
	img->corrupt = true;
}

static long futex_wake(uint32_t *word)
{
	return syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Everything the image published since the last drain. */
static void drain(struct preload_reader *r, struct image *img)
{
	struct mt_preload_ctl *ctl = img->ctl;
	const uint8_t *ring = (const uint8_t *)ctl + MT_PRELOAD_CTL_BYTES;
	uint64_t head = __atomic_load_n(&ctl->head, __ATOMIC_ACQUIRE), start = img->tail;

	if (img->corrupt)
		return;
	if (!r->scratch)
		r->scratch = malloc(MT_PRELOAD_RING_BYTES); /* at the first ring, once */
	if (!r->scratch)
		return; /* read at the next poll: the writer waits meanwhile */
	if (head < img->tail || head - img->tail > MT_PRELOAD_RING_BYTES) {
		mark_corrupt(r, img);
		return;
	}
	while (img->tail < head) {
		uint64_t off = img->tail % MT_PRELOAD_RING_BYTES;
		uint64_t n = MT_PRELOAD_RING_BYTES - off;
		bool at_end = head - img->tail >= n;
		long used;

		if (!at_end)
			n = head - img->tail;
		memcpy(r->scratch, ring + off, n); /* the writer may change it: parse our copy */
		used = parse(r, img, r->scratch, n, at_end);
		if (used != (long)n) {
			mark_corrupt(r, img);
			break;
		}
		img->tail += n;
	}
	if (img->tail == start)
		return;
	__atomic_store_n(&ctl->tail, img->tail, __ATOMIC_RELEASE);
	__atomic_fetch_add(&ctl->drained, 1, __ATOMIC_RELEASE);
	if (__atomic_load_n(&ctl->waiting, __ATOMIC_ACQUIRE))
		futex_wake(&ctl->drained);
}

long preload_reader__feed(struct preload_reader *r, uint32_t pid, uint32_t gen, const void *data,
			  size_t len, bool at_end)
{
	struct image *img = NULL;
	long used;

	for (size_t i = 0; i < r->n && !img; i++)
		if (r->images[i]->pid == pid && r->images[i]->gen == gen && !r->images[i]->ctl)
			img = r->images[i];
	if (!img)
		img = image_new(r, pid, gen);
	if (!img)
		return -ENOMEM;
	if (img->corrupt)
		return -EBADMSG;
	used = parse(r, img, data, len, at_end);
	if (used < 0)
		mark_corrupt(r, img);
	return used;
}

static void books(const struct image *img, struct preload_books *b)
{
	b->pid = img->pid;
	b->gen = img->gen;
	b->count = img->count;
	b->bytes = img->bytes;
	b->peak_bytes = img->peak;
	b->peak_blocks = img->peak_blocks;
	b->peak_ts_ns = img->peak_ts_ns;
}

int preload_reader__image(const struct preload_reader *r, uint32_t pid, uint32_t gen,
			  struct preload_books *b)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->images[i]->pid == pid && r->images[i]->gen == gen) {
			books(r->images[i], b);
			return 0;
		}
	return -ENOENT;
}

/* ---- registrations ---- */

static void answer(struct mt_preload_ctl *ctl, uint32_t state)
{
	__atomic_store_n(&ctl->state, state, __ATOMIC_RELEASE);
	futex_wake(&ctl->state);
}

/* A ring fd the kernel passed us: a sealed memfd of exactly our size, mapped; NULL if not. */
static struct mt_preload_ctl *map_ring(int fd)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	void *map;

	if (seals < 0 || !(seals & F_SEAL_SHRINK) || fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size != (off_t)MAP_BYTES)
		return NULL;
	map = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return map == MAP_FAILED ? NULL : map;
}

static void on_hello(struct preload_reader *r, uint32_t pid, const struct mt_preload_hello *h,
		     int fd)
{
	struct mt_preload_ctl *ctl = map_ring(fd);
	struct image *img;
	uint32_t gen;

	if (!ctl) {
		r->st.refused++; /* no ring to answer in: the library gives up after its wait */
		return;
	}
	/* refused: not traced (a PID the kernel gave us, in our namespace), not our protocol */
	/* or a second ring for an image that has one: one ring mapped per live image */
	if (!pid || h->magic != MT_PRELOAD_MAGIC || h->version != MT_PRELOAD_VERSION ||
	    h->ring_bytes != MT_PRELOAD_RING_BYTES || r->n >= r->opts.max_images ||
	    !r->sink.gen_of || r->sink.gen_of(r->sink.ctx, pid, &gen) ||
	    hashmap__find(r->mapped, (uint64_t)pid << 32 | gen, NULL)) {
		r->st.refused++;
		answer(ctl, MT_PRELOAD_REFUSED);
		munmap(ctl, MAP_BYTES);
		return;
	}
	img = image_new(r, pid, gen);
	if (img && hashmap__add(r->mapped, (uint64_t)pid << 32 | gen, 1)) {
		r->n--; /* the last one: ours */
		image_free(img);
		img = NULL;
	}
	if (!img) {
		r->st.refused++;
		answer(ctl, MT_PRELOAD_REFUSED);
		munmap(ctl, MAP_BYTES);
		return;
	}
	/*
	 * The ring's pages allocated here, in the memfd, before the library maps
	 * them populated: so they are neither faulted nor zeroed by the traced
	 * process (best effort: if this fails, the kernel allocates them there)
	 */
	fallocate(fd, 0, MT_PRELOAD_CTL_BYTES, MT_PRELOAD_RING_BYTES);
	img->ctl = ctl;
	img->tail = 0;
	ctl->sample_bytes = r->opts.sample_bytes;
	ctl->stack_bytes = r->opts.stack_bytes;
	ctl->tail = 0;
	r->st.images++;
	if (!(h->flags & MT_PRELOAD_HELLO_FORK))
		r->st.exec_images++;
	if (h->flags & MT_PRELOAD_HELLO_SHADOWED)
		r->st.shadowed++;
	/* the process waits for this: its generation is settled while it cannot exec */
	answer(ctl, MT_PRELOAD_ACCEPTED);
}

/* One message: 0, -EAGAIN when none waits, -errno. */
static int read_message(struct preload_reader *r, bool *kick)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct mt_preload_hello h;
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[MAX_FDS], nfds = 0;
	uint32_t pid = 0;
	ssize_t n;

	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	n = recvmsg(r->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred cred;

			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			pid = cred.pid > 0 ? (uint32_t)cred.pid : 0;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k && nfds < MAX_FDS; i++)
				memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
	}
	if (n == 1 && !nfds) {
		r->st.kicks++;
		*kick = true;
	} else if (n == (ssize_t)sizeof(h) && nfds == 1 &&
		   !(msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		on_hello(r, pid, &h, fds[0]);
	} else if (n > 0 || nfds) {
		r->st.refused++;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return n == 0 ? -EAGAIN : 0; /* 0 bytes: every sender has closed */
}

/* Images whose writer exec'd or exited: drained for the last time, unmapped. */
static void retire(struct preload_reader *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct image *img = r->images[i];
		uint32_t gen;

		if (!img->ctl || (!r->sink.gen_of(r->sink.ctx, img->pid, &gen) && gen == img->gen))
			continue;
		drain(r, img);
		munmap(img->ctl, MAP_BYTES);
		img->ctl = NULL;
		hashmap__delete(r->mapped, (uint64_t)img->pid << 32 | img->gen, NULL, NULL);
	}
}

int preload_reader__poll(struct preload_reader *r)
{
	struct timespec ts;
	bool kick = false;
	int err;

	clock_gettime(CLOCK_REALTIME, &ts);
	r->now_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	/* a bounded number per call: a flood of messages cannot hold the loop */
	for (int i = 0; i < 256; i++) {
		err = read_message(r, &kick);
		if (err == -EAGAIN || err == -EWOULDBLOCK)
			break;
		if (err)
			return err;
	}
	for (size_t i = 0; i < r->n; i++)
		if (r->images[i]->ctl)
			drain(r, r->images[i]);
	if (++r->polls % CHECK_EVERY == 0)
		retire(r);
	return 0;
}

int preload_reader__harvest(struct preload_reader *r)
{
	int err = preload_reader__poll(r);

	for (size_t i = 0; !err && i < r->n; i++) {
		struct image *img = r->images[i];

		if (img->ctl)
			drain(r, img);
		struct preload_books b;

		books(img, &b);
		b.only_image = r->n == 1;
		if (r->sink.total && (img->count || img->bytes || img->peak))
			err = r->sink.total(r->sink.ctx, &b);
	}
	return err;
}

void preload_reader__stats(const struct preload_reader *r, struct preload_stats *st)
{
	*st = r->st;
}

/* The file execvp would run for cmd: 0 with its path, or -ENOENT. */
static int find_command(const char *cmd, char *out, size_t size)
{
	const char *path = getenv("PATH"), *p;

	if (strchr(cmd, '/'))
		return snprintf(out, size, "%s", cmd) < (int)size ? 0 : -ENAMETOOLONG;
	for (p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; p;) {
		const char *end = strchr(p, ':');
		int dirlen = end ? (int)(end - p) : (int)strlen(p);
		int n = snprintf(out, size, "%.*s%s%s", dirlen, dirlen ? p : ".", "/", cmd);

		if (n > 0 && (size_t)n < size && access(out, X_OK) == 0)
			return 0;
		p = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

int preload_check_command(const char *cmd, char *why, size_t size)
{
	char path[PATH_MAX];
	struct stat st;
	Elf *elf = NULL;
	size_t nph = 0;
	bool interp = false;
	int fd, err = 0;

	if (find_command(cmd, path, sizeof(path)) || stat(path, &st))
		return 0; /* exec will say what is wrong */
	if (st.st_mode & (S_ISUID | S_ISGID)) {
		snprintf(why, size,
			 "%s is set-user-ID or set-group-ID (the loader ignores LD_PRELOAD)", path);
		return -EPERM;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || elf_version(EV_CURRENT) == EV_NONE)
		goto out;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nph))
		goto out; /* a script: its interpreter loads the library */
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_INTERP)
			interp = true;
	}
	if (!interp) {
		snprintf(why, size, "%s is statically linked (no dynamic loader to preload into)",
			 path);
		err = -ENOEXEC;
	}
out:
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	return err;
}
