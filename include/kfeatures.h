/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the running kernel offers, decided from BTF and libbpf's probes
 * (never from tracefs, which may not be mounted).
 */
#ifndef MEMTRACE_KFEATURES_H
#define MEMTRACE_KFEATURES_H

#include <stdbool.h>
#include <stdio.h>

struct btf;

/* Whether vmlinux BTF (/sys/kernel/btf/vmlinux) is present. */
bool features__have_btf(void);

/* Whether tracepoint tp is reachable as tp_btf (vmlinux BTF has btf_trace_<tp>). */
bool features__have_tp_btf(const char *tp);

/*
 * Whether an fexit program loads and attaches on kernel function func
 * (BPF trampolines work there): 0, -ENOENT when func is not in BTF, or the
 * kernel's -errno (-EPERM where lockdown or the kernel refuses them).
 */
int features__probe_fexit(const char *func);

/* Whether tracefs is mounted (informational only: nothing depends on it). */
bool features__tracefs_mounted(void);

/*
 * 0 when this process may load and attach tracing BPF programs (root, or
 * CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN); -EPERM otherwise.
 */
int features__check_privileges(void);

/* Free the cached vmlinux BTF (megabytes); later queries load it again. */
void features__release(void);

/* The table behind `memtrace --version -v`; 0 or -errno. */
int features__print(FILE *out);

#endif /* MEMTRACE_KFEATURES_H */
