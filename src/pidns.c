// SPDX-License-Identifier: GPL-2.0
/* PID namespace translation through a BPF task iterator (see pidns_api.h). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bpf_loader.h"
#include "hashmap.h"
#include "log.h"
#include "pidns.h"
#include "pidns_api.h"
#include "pidns.skel.h"

/* the initial PID namespace's inode (PROC_PID_INIT_INO in the kernel) */
#define PIDNS_INIT_INO 0xEFFFFFFCU

/*
 * Two tables, because each direction wants the latest process: a host tgid
 * names one process until it is reused, a namespace PID may be reused
 * while an exited process's host tgid still needs its old translation.
 */
struct pidns {
	struct pidns_bpf *skel;
	struct bpf_link *iter;
	struct mt_links links;	 /* the fork tracepoint */
	struct ring_buffer *rb;	 /* nsforks: pairs of new processes */
	struct hashmap *by_host; /* host tgid -> namespace PID */
	struct hashmap *by_ns;	 /* namespace PID -> host tgid */
	bool refreshed;		 /* this round already ran the iterator */
};

static int put(struct pidns *p, const struct mt_pidns_pair *pair)
{
	int err = hashmap__set(p->by_host, pair->host_tgid, pair->ns_tgid, NULL, NULL);

	return err ? err : hashmap__set(p->by_ns, pair->ns_tgid, pair->host_tgid, NULL, NULL);
}

static int on_fork_pair(void *ctx, void *data, size_t len)
{
	struct pidns *p = ctx;

	/* out of memory: the iterator still finds the process while it lives */
	if (len >= sizeof(struct mt_pidns_pair))
		(void)put(p, data);
	return 0;
}

/* The pairs of processes forked since the last call (no syscall when there are none). */
static void drain_forks(struct pidns *p)
{
	ring_buffer__consume(p->rb);
}

static int own_pidns_ino(unsigned long *ino)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st))
		return -errno;
	*ino = st.st_ino;
	return 0;
}

int pidns__check_proc(void)
{
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);

	if (n <= 0)
		return 0; /* no /proc at all: the readers say so themselves */
	buf[n] = '\0';
	if ((pid_t)strtol(buf, NULL, 10) == getpid())
		return 0;
	mt_err(
	    "/proc belongs to another PID namespace than memtrace (it shows pid %s, memtrace "
	    "is %d): mount a /proc for this namespace, as unshare --pid --fork --mount-proc does",
	    buf, getpid());
	return -EXDEV;
}

void pidns__free(struct pidns *p)
{
	if (!p)
		return;
	ring_buffer__free(p->rb);
	mt_links__destroy(&p->links);
	bpf_link__destroy(p->iter);
	pidns_bpf__destroy(p->skel);
	hashmap__free(p->by_host);
	hashmap__free(p->by_ns);
	free(p);
}

/* The skeleton loaded (tp_btf, else raw_tp for the fork program) and attached; 0 or -errno. */
static int load(struct pidns *p, unsigned long ino)
{
	struct mt_tp_pair fork = { "sched_process_fork", NULL, NULL };
	int err = -EINVAL;

	/* a kernel may list btf_trace_* yet refuse BTF tracepoints: then raw_tp */
	for (int raw = 0; raw < 2 && err; raw++) {
		char summary[64];
		size_t used = 0;

		pidns_bpf__destroy(p->skel);
		p->skel = pidns_bpf__open();
		if (!p->skel)
			return -errno;
		p->skel->rodata->target_ns_inum = ino;
		fork.btf = p->skel->progs.ns_fork;
		fork.raw = p->skel->progs.ns_fork_raw;
		mt_ladder_choose(&fork, 1, raw, summary, sizeof(summary), &used);
		err = pidns_bpf__load(p->skel);
	}
	return err ? err : mt_ladder_attach(&fork, 1, &p->links);
}

int pidns__open(struct pidns **out)
{
	struct pidns *p = NULL;
	unsigned long ino = 0;
	int err;

	*out = NULL;
	err = pidns__check_proc();
	if (err)
		return err;
	err = own_pidns_ino(&ino);
	if (err == -ENOENT || (!err && ino == PIDNS_INIT_INO))
		return 0; /* no nsfs (very old kernel) or the initial namespace */
	if (err) {
		mt_err("cannot read /proc/self/ns/pid: %s", strerror(-err));
		return err;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->by_host = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 256);
	p->by_ns = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 256);
	if (!p->by_host || !p->by_ns) {
		err = -ENOMEM;
		goto fail;
	}
	err = load(p, ino);
	if (err)
		goto fail;
	p->iter = bpf_program__attach_iter(p->skel->progs.pidns_dump, NULL);
	if (!p->iter) {
		err = -errno;
		goto fail;
	}
	/* forks from now on are in the ring; the iterator's first run finds the rest */
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.nsforks), on_fork_pair, p, NULL);
	if (!p->rb) {
		err = -errno;
		goto fail;
	}
	mt_info("in PID namespace %lu: PIDs translated with a BPF task iterator and the fork "
		"tracepoint",
		ino);
	*out = p;
	return 0;
fail:
	mt_err(
	    "memtrace runs in a PID namespace and cannot map its PIDs to the kernel's: loading a "
	    "BPF task iterator and fork tracepoint failed (%s); run it in the host namespace (or "
	    "run "
	    "--procfs)",
	    strerror(-err));
	pidns__free(p);
	return err;
}

/*
 * Every live process of the namespace, from the iterator: replaces what
 * the tables say for these PIDs; an exited process's pairs stay until
 * forgotten.
 */
static int refresh(struct pidns *p)
{
	struct mt_pidns_pair buf[256];
	int fd, err = 0;

	p->refreshed = true;
	drain_forks(p); /* older than what the iterator sees now */
	fd = bpf_iter_create(bpf_link__fd(p->iter));
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		for (size_t i = 0; !err && i < r / sizeof(buf[0]); i++)
			err = put(p, &buf[i]);
		if (err)
			break;
	}
	close(fd);
	return err;
}

uint32_t pidns__to_host(struct pidns *p, uint32_t ns_pid)
{
	uintptr_t host = 0;

	if (!p)
		return ns_pid;
	drain_forks(p);
	/* a new process (a child just forked) is looked for at once, whatever the round */
	if (!hashmap__find(p->by_ns, ns_pid, &host) && refresh(p) == 0)
		hashmap__find(p->by_ns, ns_pid, &host);
	return host;
}

uint32_t pidns__to_ns(struct pidns *p, uint32_t host_tgid)
{
	uintptr_t ns = 0;

	if (!p)
		return host_tgid;
	drain_forks(p);
	if (!hashmap__find(p->by_host, host_tgid, &ns) && !p->refreshed && refresh(p) == 0)
		hashmap__find(p->by_host, host_tgid, &ns);
	return ns;
}

void pidns__forget(struct pidns *p, uint32_t host_tgid)
{
	uintptr_t ns, host;

	if (!p || !hashmap__delete(p->by_host, host_tgid, NULL, &ns))
		return;
	if (hashmap__find(p->by_ns, ns, &host) && host == host_tgid)
		hashmap__delete(p->by_ns, ns, NULL, NULL);
}

void pidns__next_round(struct pidns *p)
{
	if (p)
		p->refreshed = false;
}

uint64_t pidns__lost(const struct pidns *p)
{
	return p && p->skel->bss ? __atomic_load_n(&p->skel->bss->forks_lost, __ATOMIC_RELAXED) : 0;
}
