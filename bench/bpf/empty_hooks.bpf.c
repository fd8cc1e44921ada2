// SPDX-License-Identifier: GPL-2.0
/*
 * The floor for the fault loop under a tracer: the two BTF tracepoints
 * that memtrace's hot path uses (every user page fault passes both), with
 * programs that do nothing. Loaded by bench/empty_hooks.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/page_fault_user")
int BPF_PROG(empty_fault)
{
	return 0;
}

SEC("tp_btf/rss_stat")
int BPF_PROG(empty_rss)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
