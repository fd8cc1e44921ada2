// SPDX-License-Identifier: GPL-2.0
/*
 * libmemtrace-preload.so: the allocator interposer of `record --malloc --
 * CMD` (the way heaptrack and memray work). Every malloc, calloc, realloc,
 * free, posix_memalign, aligned_alloc, memalign, valloc and pvalloc goes
 * (and mmap/munmap, as the uprobes count them: outstanding mappings the
 * program made itself) goes to the C library's own (dlsym RTLD_NEXT) and
 * leaves a 24-byte record in
 * a shared ring that memtrace drains (include/preload.h has the protocol);
 * at a mean of one per sample_bytes allocated, the record carries the
 * allocator's entry registers and the top of the stack, which memtrace
 * unwinds later with the binaries' CFI. One lock per process keeps the
 * records in the order the allocator handed blocks out: a free is written
 * before the real free (nobody can get the block back before the record
 * is in), an allocation after it returns, and realloc holds the lock
 * across the real call.
 *
 * Built with frame pointers: the hooks find their own return address from
 * __builtin_frame_address(0). No stdio, no allocation of its own.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "preload.h"

#ifndef MADV_POPULATE_READ /* Linux 5.14; older glibc headers lack them */
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))
#define unlikely(x) __builtin_expect(!!(x), 0)

extern void *__libc_stack_end; /* ld.so's: the main thread's stack top */

static struct {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void (*free)(void *);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
} real;

/* dlsym may allocate before real.calloc is known: from here, never freed */
static char boot[16384] __attribute__((aligned(16)));
static size_t boot_used;
static int resolving;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int state;		 /* 0 not yet set up, 1 on, -1 off (pass everything through) */
static int sock_fd = -1;	 /* the registration socket */
static unsigned int hello_flags; /* MT_PRELOAD_HELLO_FORK after fork */
static struct mt_preload_ctl *ctl;
static uint8_t *ring;
static uint64_t head; /* our copy of ctl->head */
static uint64_t ring_mask;
static uint32_t stack_bytes;
static uint64_t sample_bytes;
static int64_t countdown; /* bytes until the next capture */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t kicked_at; /* ctl->drained when we last asked for a drain */
static bool kicked;

static TLS int in_hook;		/* our own calls and nested ones pass through */
static TLS uintptr_t stack_top; /* this thread's stack end, 0 before the first capture */

static void resolve(void)
{
	resolving = 1;
	real.calloc = dlsym(RTLD_NEXT, "calloc");
	real.malloc = dlsym(RTLD_NEXT, "malloc");
	real.realloc = dlsym(RTLD_NEXT, "realloc");
	real.free = dlsym(RTLD_NEXT, "free");
	real.posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	real.aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
	real.memalign = dlsym(RTLD_NEXT, "memalign");
	real.valloc = dlsym(RTLD_NEXT, "valloc");
	real.pvalloc = dlsym(RTLD_NEXT, "pvalloc");
	real.mmap = dlsym(RTLD_NEXT, "mmap");
	real.munmap = dlsym(RTLD_NEXT, "munmap");
	resolving = 0;
	if (!real.malloc || !real.calloc || !real.realloc || !real.free || !real.mmap ||
	    !real.munmap)
		abort(); /* no allocator to hand calls to */
}

static void *boot_alloc(size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > sizeof(boot) - boot_used)
		return NULL;
	p = boot + boot_used;
	boot_used += n;
	return p;
}

static bool is_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

static long futex(uint32_t *word, int op, uint32_t val, const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

/* -ln(U) * sample_bytes for a uniform U, without libm: log2 from the top bit and a linear fraction
 */
static int64_t draw_countdown(void)
{
	uint64_t r, neglog2;
	uint32_t u, msb, frac;

	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	r = rng;
	u = (uint32_t)(r >> 32) | 1;
	msb = 31 - __builtin_clz(u);
	frac = msb >= 16 ? (u >> (msb - 16)) & 0xffff : (u << (16 - msb)) & 0xffff;
	neglog2 = (32ULL << 16) - (((uint64_t)msb << 16) | frac);
	return (int64_t)((((sample_bytes * neglog2) >> 16) * 45426) >> 16) + 1;
}

/* The socket memtrace gave us, checked to be that very socket ("FD:INODE"). */
static int env_socket(void)
{
	const char *v = getenv(MT_PRELOAD_ENV_FD);
	unsigned long long fd = 0, ino = 0;
	struct stat st;
	const char *p = v;

	if (!v)
		return -1;
	while (*p >= '0' && *p <= '9' && fd < 1 << 20)
		fd = fd * 10 + (unsigned)(*p++ - '0');
	if (p == v || *p++ != ':')
		return -1;
	while (*p >= '0' && *p <= '9' && ino < 1ULL << 60)
		ino = ino * 10 + (unsigned)(*p++ - '0');
	if (*p || fstat((int)fd, &st) || !S_ISSOCK(st.st_mode) || st.st_ino != ino)
		return -1;
	return (int)fd;
}

static bool reader_gone(void);

/*
 * The image's ring, sent to memtrace; waits for its answer. Lock held. true
 * when on. None of its pages faults in this process (the program's own
 * fault view must not hold memtrace's ring): the kernel fills our page
 * table (madvise populate: no fault event), for the control page at once
 * and for the ring once accepted, after memtrace has allocated its pages in
 * the memfd, so no page of it is zeroed here either. A kernel without
 * MADV_POPULATE_* (before 5.14) faults them as they are written.
 */
static bool register_image(void)
{
	size_t total = MT_PRELOAD_CTL_BYTES + MT_PRELOAD_RING_BYTES;
	struct mt_preload_hello hello = {
		.magic = MT_PRELOAD_MAGIC,
		.version = MT_PRELOAD_VERSION,
		.ring_bytes = MT_PRELOAD_RING_BYTES,
		.flags = hello_flags,
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { &hello, sizeof(hello) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct timespec step = { 0, 100 * 1000 * 1000 };
	struct cmsghdr *c;
	void *map;
	int fd, waited;
	ssize_t n;

	if (sock_fd < 0)
		return false;
	fd = memfd_create("memtrace-preload", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return false;
	/* sealed: memtrace maps it too and must never find it shrunk under its reads */
	if (ftruncate(fd, (off_t)total) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		close(fd);
		return false;
	}
	map = real.mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return false;
	}
	madvise(map, MT_PRELOAD_CTL_BYTES, MADV_POPULATE_WRITE);
	ctl = map;
	ring = (uint8_t *)map + MT_PRELOAD_CTL_BYTES;
	ring_mask = MT_PRELOAD_RING_BYTES - 1;
	head = 0;
	ctl->magic = MT_PRELOAD_MAGIC;
	ctl->version = MT_PRELOAD_VERSION;
	ctl->ring_bytes = MT_PRELOAD_RING_BYTES;
	memset(&cm, 0, sizeof(cm));
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(sock_fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	close(fd);
	/* memtrace answers as soon as it has read the image's exec generation (30 s at most) */
	for (waited = 0; n == (ssize_t)sizeof(hello) && waited < 300; waited++) {
		uint32_t s = __atomic_load_n(&ctl->state, __ATOMIC_ACQUIRE);

		if (s != MT_PRELOAD_WAIT || reader_gone())
			break;
		futex(&ctl->state, FUTEX_WAIT, MT_PRELOAD_WAIT, &step);
	}
	if (n != (ssize_t)sizeof(hello) ||
	    __atomic_load_n(&ctl->state, __ATOMIC_ACQUIRE) != MT_PRELOAD_ACCEPTED) {
		real.munmap(map, total);
		ctl = NULL;
		ring = NULL;
		return false;
	}
	madvise(ring, MT_PRELOAD_RING_BYTES, MADV_POPULATE_READ);
	sample_bytes = ctl->sample_bytes;
	stack_bytes =
	    ctl->stack_bytes > MT_PRELOAD_MAX_STACK ? MT_PRELOAD_MAX_STACK : ctl->stack_bytes & ~7U;
	kicked = false;
	if (sample_bytes)
		countdown = draw_countdown();
	return true;
}

static void unmap_ring(void)
{
	if (ctl)
		real.munmap(ctl, MT_PRELOAD_CTL_BYTES + MT_PRELOAD_RING_BYTES);
	ctl = NULL;
	ring = NULL;
}

static void before_fork(void)
{
	pthread_mutex_lock(&lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&lock);
}

/* The child's records go to a ring of its own, registered at its first allocation. */
static void after_fork_child(void)
{
	pthread_mutex_init(&lock, NULL);
	unmap_ring();
	if (state == 1)
		state = 0;
	hello_flags |= MT_PRELOAD_HELLO_FORK;
	stack_top = 0;
}

/* Lock held: whether records can be written now (registers on first use). */
static bool ready(void)
{
	if (state == 1 && ctl)
		return true;
	if (state < 0)
		return false;
	if (sock_fd < 0 && !(hello_flags & MT_PRELOAD_HELLO_FORK)) {
		sock_fd = env_socket();
		pthread_atfork(before_fork, after_fork_parent, after_fork_child);
	}
	state = register_image() ? 1 : -1;
	return state == 1;
}

/* memtrace is gone: its end of the socket hung up. */
static bool reader_gone(void)
{
	struct pollfd p = { .fd = sock_fd, .events = 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* Room for n bytes at head, waiting for memtrace to drain. Lock held. false: give up. */
static bool wait_room(uint64_t n)
{
	struct timespec step = { 0, 10 * 1000 * 1000 };

	for (;;) {
		uint64_t tail = __atomic_load_n(&ctl->tail, __ATOMIC_ACQUIRE);
		uint32_t drained = __atomic_load_n(&ctl->drained, __ATOMIC_ACQUIRE);

		if (head - tail + n <= MT_PRELOAD_RING_BYTES)
			return true;
		if (!kicked || drained != kicked_at) {
			/* a hint only: memtrace also drains on a timer */
			send(sock_fd, "k", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			kicked = true;
			kicked_at = drained;
		}
		__atomic_store_n(&ctl->waiting, 1, __ATOMIC_RELEASE);
		futex(&ctl->drained, FUTEX_WAIT, drained, &step);
		__atomic_store_n(&ctl->waiting, 0, __ATOMIC_RELEASE);
		if (reader_gone()) {
			state = -1;
			unmap_ring();
			return false;
		}
	}
}

/* A record of len bytes (a multiple of 8) at the head; NULL when off. Lock held. */
static struct mt_preload_rec *reserve(uint32_t len)
{
	uint64_t off = head & ring_mask, left = MT_PRELOAD_RING_BYTES - off;

	if (left < len) {
		/* never across the end: a pad record, or less than a header left, skipped */
		if (!wait_room(left + len))
			return NULL;
		if (left >= sizeof(struct mt_preload_rec)) {
			struct mt_preload_rec *pad = (struct mt_preload_rec *)(ring + off);

			pad->type = MT_PREC_PAD;
			pad->len = (uint32_t)left;
		}
		head += left;
		off = 0;
	} else if (!wait_room(len)) {
		return NULL;
	}
	return (struct mt_preload_rec *)(ring + off);
}

static void publish(uint32_t len)
{
	uint64_t used;

	head += len;
	__atomic_store_n(&ctl->head, head, __ATOMIC_RELEASE);
	used = head - __atomic_load_n(&ctl->tail, __ATOMIC_ACQUIRE);
	if (used > MT_PRELOAD_RING_BYTES / 2 &&
	    (!kicked || __atomic_load_n(&ctl->drained, __ATOMIC_ACQUIRE) != kicked_at)) {
		kicked_at = __atomic_load_n(&ctl->drained, __ATOMIC_ACQUIRE);
		kicked = true;
		send(sock_fd, "k", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

static uintptr_t thread_stack_top(uintptr_t sp)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;
	uintptr_t top = 0;

	if (stack_top && sp < stack_top)
		return stack_top;
	if (syscall(SYS_gettid) == getpid()) {
		/* the main thread: its stack's end from ld.so, as pthread_getattr_np would read
		 * maps */
		top = (uintptr_t)__libc_stack_end;
		if (sp >= top || top - sp > (1UL << 30))
			top = 0; /* a fork from another thread's stack */
	} else if (!pthread_getattr_np(pthread_self(), &attr)) {
		if (!pthread_attr_getstack(&attr, &addr, &size))
			top = (uintptr_t)addr + size;
		pthread_attr_destroy(&attr);
	}
	stack_top = top;
	return top > sp ? top : 0;
}

/* Lock held: an allocation record, with a capture when the byte countdown ran out. */
static void put_alloc(void *p, size_t size, void *fn, void *frame)
{
	struct mt_preload_rec *r;
	uint32_t len = sizeof(*r);
	bool capture = false;
	uintptr_t sp = 0, top;
	uint32_t copy = 0;

	if (sample_bytes) {
		countdown -= (int64_t)size;
		if (countdown <= 0) {
			countdown = draw_countdown();
#ifdef __x86_64__
			capture = frame != NULL;
#endif
		}
	}
	if (capture) {
		sp = (uintptr_t)frame + 8; /* the return address: as at the allocator's entry */
		top = thread_stack_top(sp);
		copy = top ? (uint32_t)(top - sp < stack_bytes ? top - sp : stack_bytes) : 0;
		copy &= ~7U;
		len += sizeof(struct mt_preload_capture) + copy;
	}
	r = reserve(len);
	if (!r)
		return;
	r->type = capture ? MT_PREC_CAPTURE : MT_PREC_ALLOC;
	r->len = len;
	r->ptr = (uintptr_t)p;
	r->size = size;
	if (capture) {
		struct mt_preload_capture *c = (struct mt_preload_capture *)(r + 1);

		c->ip = (uintptr_t)fn;
		c->sp = sp;
		c->bp = *(uint64_t *)frame; /* the caller's frame pointer, saved by our prologue */
		c->arch = 62;		    /* EM_X86_64 */
		c->stack_len = copy;
		memcpy(c + 1, (void *)sp, copy);
	}
	publish(len);
}

static void put_free(void *p, uint32_t type)
{
	struct mt_preload_rec *r = reserve(sizeof(*r));

	if (!r)
		return;
	r->type = type;
	r->len = sizeof(*r);
	r->ptr = (uintptr_t)p;
	r->size = 0;
	publish(sizeof(*r));
}

static void note_alloc(void *p, size_t size, void *fn, void *frame)
{
	if (!p || state < 0)
		return;
	in_hook = 1;
	pthread_mutex_lock(&lock);
	if (ready())
		put_alloc(p, size, fn, frame);
	pthread_mutex_unlock(&lock);
	in_hook = 0;
}

EXPORT void *malloc(size_t n)
{
	void *frame = __builtin_frame_address(0), *p;

	if (unlikely(!real.malloc)) {
		if (resolving)
			return boot_alloc(n);
		resolve();
	}
	if (in_hook || state < 0)
		return real.malloc(n);
	in_hook = 1;
	p = real.malloc(n);
	in_hook = 0;
	note_alloc(p, n, (void *)real.malloc, frame);
	return p;
}

EXPORT void *calloc(size_t n, size_t size)
{
	void *frame = __builtin_frame_address(0), *p;
	size_t bytes;

	if (unlikely(!real.calloc)) {
		if (resolving) {
			if (__builtin_mul_overflow(n, size, &bytes))
				return NULL;
			return boot_alloc(bytes); /* static: already zero */
		}
		resolve();
	}
	if (in_hook || state < 0)
		return real.calloc(n, size);
	in_hook = 1;
	p = real.calloc(n, size);
	in_hook = 0;
	if (p)
		note_alloc(p, n * size, (void *)real.calloc, frame);
	return p;
}

EXPORT void free(void *p)
{
	if (!p || is_boot(p))
		return;
	if (unlikely(!real.free))
		resolve();
	if (!in_hook && state >= 0) {
		in_hook = 1;
		pthread_mutex_lock(&lock);
		if (ready())
			put_free(p, MT_PREC_FREE);
		pthread_mutex_unlock(&lock);
		in_hook = 0;
	}
	real.free(p);
}

EXPORT void *realloc(void *old, size_t n)
{
	void *frame = __builtin_frame_address(0), *p;

	if (unlikely(!real.realloc))
		resolve();
	if (is_boot(old)) {
		p = malloc(n);
		if (p)
			memcpy(p, old,
			       n < (size_t)(boot + sizeof(boot) - (char *)old)
				   ? n
				   : (size_t)(boot + sizeof(boot) - (char *)old));
		return p;
	}
	if (in_hook || state < 0)
		return real.realloc(old, n);
	in_hook = 1;
	pthread_mutex_lock(&lock);
	/* across the call: no other thread's record of a block it frees can come before ours */
	p = real.realloc(old, n);
	if (ready()) {
		if (old && (p || n == 0)) /* moved, resized, or freed by realloc(p, 0) */
			put_free(old, MT_PREC_FREE);
		if (p)
			put_alloc(p, n, (void *)real.realloc, frame);
	}
	pthread_mutex_unlock(&lock);
	in_hook = 0;
	return p;
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	void *frame = __builtin_frame_address(0);
	int ret;

	if (unlikely(!real.posix_memalign))
		resolve();
	if (in_hook || state < 0)
		return real.posix_memalign(out, align, n);
	in_hook = 1;
	ret = real.posix_memalign(out, align, n);
	in_hook = 0;
	if (ret == 0)
		note_alloc(*out, n, (void *)real.posix_memalign, frame);
	return ret;
}

/* aligned_alloc, memalign, valloc, pvalloc: the same shape */
#define ALIGNED_HOOK(name, params, args, size)                                                     \
	EXPORT void *name params                                                                   \
	{                                                                                          \
		void *frame = __builtin_frame_address(0), *p;                                      \
                                                                                                   \
		if (unlikely(!real.name))                                                          \
			resolve();                                                                 \
		if (in_hook || state < 0)                                                          \
			return real.name args;                                                     \
		in_hook = 1;                                                                       \
		p = real.name args;                                                                \
		in_hook = 0;                                                                       \
		note_alloc(p, size, (void *)real.name, frame);                                     \
		return p;                                                                          \
	}

ALIGNED_HOOK(aligned_alloc, (size_t align, size_t n), (align, n), n)
ALIGNED_HOOK(memalign, (size_t align, size_t n), (align, n), n)
ALIGNED_HOOK(valloc, (size_t n), (n), n)
ALIGNED_HOOK(pvalloc, (size_t n), (n), n)

/* Our own ring's mapping passes through: in_hook is set around it. */
EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *frame = __builtin_frame_address(0), *p;

	if (unlikely(!real.mmap))
		resolve();
	if (in_hook || state < 0)
		return real.mmap(addr, len, prot, flags, fd, off);
	in_hook = 1;
	p = real.mmap(addr, len, prot, flags, fd, off);
	in_hook = 0;
	if (p != MAP_FAILED)
		note_alloc(p, (len + 4095) & ~(size_t)4095, (void *)real.mmap, frame);
	return p;
}

/* glibc's mmap64 is mmap on 64-bit: the same entry, so the same hook */
EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));

EXPORT int munmap(void *addr, size_t len)
{
	if (unlikely(!real.munmap))
		resolve();
	if (!in_hook && state >= 0 && addr) {
		in_hook = 1;
		pthread_mutex_lock(&lock);
		if (ready())
			put_free(addr, MT_PREC_MUNMAP);
		pthread_mutex_unlock(&lock);
		in_hook = 0;
	}
	return real.munmap(addr, len);
}

/* Whether the malloc the program calls is another object's (linked into the program). */
static bool shadowed(void)
{
	Dl_info ours, first;
	void *m = dlsym(RTLD_DEFAULT, "malloc");

	return m && dladdr((void *)shadowed, &ours) && dladdr(m, &first) &&
	       ours.dli_fbase != first.dli_fbase;
}

/* Registers the image at its start, so that memtrace knows it ran with us. */
__attribute__((constructor)) static void preload_init(void)
{
	if (!real.malloc)
		resolve();
	if (shadowed())
		hello_flags |= MT_PRELOAD_HELLO_SHADOWED; /* memtrace says so: nothing counted */
	in_hook = 1;
	pthread_mutex_lock(&lock);
	ready();
	pthread_mutex_unlock(&lock);
	in_hook = 0;
}
