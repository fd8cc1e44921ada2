// SPDX-License-Identifier: GPL-2.0
/*
 * What the syscall path cost before memtrace dropped its sys_enter
 * program: empty programs on both raw syscall tracepoints. Loaded by
 * bench/empty_hooks.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/sys_enter")
int BPF_PROG(empty_sys_enter)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(empty_sys_exit)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
