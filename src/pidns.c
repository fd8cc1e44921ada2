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
#include "log.h"
#include "pidns.h"
#include "pidns_api.h"
#include "pidns.skel.h"

/* the initial PID namespace's inode (PROC_PID_INIT_INO in the kernel) */
#define PIDNS_INIT_INO 0xEFFFFFFCU

struct pidns {
	struct pidns_bpf *skel;
	struct bpf_link *link;
	struct mt_pidns_pair *by_host; /* sorted by host_tgid */
	size_t n;
	struct mt_pidns_pair *by_ns; /* the same pairs sorted by ns_tgid */
	bool refreshed;		     /* this round already ran the iterator */
};

static int cmp_host(const void *a, const void *b)
{
	const struct mt_pidns_pair *x = a, *y = b;

	return (x->host_tgid > y->host_tgid) - (x->host_tgid < y->host_tgid);
}

static int cmp_ns(const void *a, const void *b)
{
	const struct mt_pidns_pair *x = a, *y = b;

	return (x->ns_tgid > y->ns_tgid) - (x->ns_tgid < y->ns_tgid);
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
	bpf_link__destroy(p->link);
	pidns_bpf__destroy(p->skel);
	free(p->by_host);
	free(p->by_ns);
	free(p);
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
	p->skel = pidns_bpf__open();
	if (!p->skel) {
		err = -errno;
		goto fail;
	}
	p->skel->rodata->target_ns_inum = ino;
	err = pidns_bpf__load(p->skel);
	if (err)
		goto fail;
	p->link = bpf_program__attach_iter(p->skel->progs.pidns_dump, NULL);
	if (!p->link) {
		err = -errno;
		goto fail;
	}
	mt_info("in PID namespace %lu: PIDs translated with a BPF task iterator", ino);
	*out = p;
	return 0;
fail:
	mt_err(
	    "memtrace runs in a PID namespace and cannot map its PIDs to the kernel's: loading a "
	    "BPF task iterator failed (%s); run it in the host namespace or use --procfs",
	    strerror(-err));
	pidns__free(p);
	return err;
}

static const struct mt_pidns_pair *find(const struct mt_pidns_pair *a, size_t n, uint32_t v,
					bool by_host)
{
	struct mt_pidns_pair key = { .host_tgid = v, .ns_tgid = v };

	if (!n)
		return NULL;
	return bsearch(&key, a, n, sizeof(*a), by_host ? cmp_host : cmp_ns);
}

/* Pairs of an exited process stay until forgotten; a live one's are replaced. */
static int refresh(struct pidns *p)
{
	struct mt_pidns_pair *fresh = NULL, *merged, *ns;
	size_t nfresh = 0, capf = 0, nm = 0;
	int fd, err = 0;

	p->refreshed = true;
	fd = bpf_iter_create(bpf_link__fd(p->link));
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;

		if (nfresh == capf) {
			struct mt_pidns_pair *g;

			capf = capf ? capf * 2 : 1024;
			g = realloc(fresh, capf * sizeof(*g));
			if (!g) {
				err = -ENOMEM;
				goto cleanup;
			}
			fresh = g;
		}
		r = read(fd, fresh + nfresh, (capf - nfresh) * sizeof(*fresh));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		nfresh += r / sizeof(*fresh);
	}
	merged = malloc((nfresh + p->n + 1) * sizeof(*merged));
	ns = malloc((nfresh + p->n + 1) * sizeof(*ns));
	if (!merged || !ns) {
		free(merged);
		free(ns);
		err = -ENOMEM;
		goto cleanup;
	}
	/* an old pair whose namespace PID is live again belongs to a dead process */
	memcpy(ns, fresh, nfresh * sizeof(*ns));
	qsort(ns, nfresh, sizeof(*ns), cmp_ns);
	qsort(fresh, nfresh, sizeof(*fresh), cmp_host);
	/* merge: the fresh pair wins for a host tgid in both */
	for (size_t i = 0, j = 0; i < nfresh || j < p->n;) {
		if (j == p->n || (i < nfresh && fresh[i].host_tgid <= p->by_host[j].host_tgid)) {
			if (j < p->n && fresh[i].host_tgid == p->by_host[j].host_tgid)
				j++;
			merged[nm++] = fresh[i++];
		} else {
			if (!find(ns, nfresh, p->by_host[j].ns_tgid, false))
				merged[nm++] = p->by_host[j];
			j++;
		}
	}
	memcpy(ns, merged, nm * sizeof(*ns));
	qsort(ns, nm, sizeof(*ns), cmp_ns);
	free(p->by_host);
	free(p->by_ns);
	p->by_host = merged;
	p->by_ns = ns;
	p->n = nm;
cleanup:
	free(fresh);
	close(fd);
	return err;
}

uint32_t pidns__to_host(struct pidns *p, uint32_t ns_pid)
{
	const struct mt_pidns_pair *e;

	if (!p)
		return ns_pid;
	e = find(p->by_ns, p->n, ns_pid, false);
	/* a new process (a child just forked) is looked for at once, whatever the round */
	if (!e && refresh(p) == 0)
		e = find(p->by_ns, p->n, ns_pid, false);
	return e ? e->host_tgid : 0;
}

uint32_t pidns__to_ns(struct pidns *p, uint32_t host_tgid)
{
	const struct mt_pidns_pair *e;

	if (!p)
		return host_tgid;
	e = find(p->by_host, p->n, host_tgid, true);
	if (!e && !p->refreshed && refresh(p) == 0)
		e = find(p->by_host, p->n, host_tgid, true);
	return e ? e->ns_tgid : 0;
}

void pidns__forget(struct pidns *p, uint32_t host_tgid)
{
	const struct mt_pidns_pair *e;
	size_t i;

	if (!p || !(e = find(p->by_host, p->n, host_tgid, true)))
		return;
	i = e - p->by_host;
	memmove(&p->by_host[i], &p->by_host[i + 1], (p->n - i - 1) * sizeof(*p->by_host));
	p->n--;
	memcpy(p->by_ns, p->by_host, p->n * sizeof(*p->by_ns));
	qsort(p->by_ns, p->n, sizeof(*p->by_ns), cmp_ns);
}

void pidns__next_round(struct pidns *p)
{
	if (p)
		p->refreshed = false;
}
