// SPDX-License-Identifier: GPL-2.0
/*
 * The floor for a syscall loop under memtrace's sys_exit rung: one empty
 * program on the raw sys_exit tracepoint, which also switches every task
 * to the kernel's syscall slow path. Loaded by bench/empty_hooks.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/sys_exit")
int BPF_PROG(empty_sys_exit)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
