// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <mntent.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kfeatures.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static struct btf *vmlinux_btf;
static bool vmlinux_btf_tried;

static struct btf *get_vmlinux_btf(void)
{
	if (!vmlinux_btf_tried) {
		vmlinux_btf_tried = true;
		vmlinux_btf = btf__load_vmlinux_btf();
		if (!vmlinux_btf)
			vmlinux_btf = NULL; /* libbpf returns NULL with errno set */
	}
	return vmlinux_btf;
}

void features__release(void)
{
	btf__free(vmlinux_btf);
	vmlinux_btf = NULL;
	vmlinux_btf_tried = false;
}

bool features__have_btf(void)
{
	return access("/sys/kernel/btf/vmlinux", R_OK) == 0;
}

bool features__have_tp_btf(const char *tp)
{
	struct btf *btf = get_vmlinux_btf();
	char name[128];

	if (!btf)
		return false;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) > 0;
}

int features__probe_fexit(const char *func)
{
	/* r0 = 0; exit: the least a tracing program can be */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT);
	struct btf *btf = get_vmlinux_btf();
	int id, prog_fd, link_fd, err = 0;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, func, BTF_KIND_FUNC);
	if (id <= 0)
		return -ENOENT;
	opts.attach_btf_id = id;
	prog_fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "mt_probe_fexit", "GPL", insns,
				sizeof(insns) / sizeof(insns[0]), &opts);
	if (prog_fd < 0)
		return -errno;
	/* loading checks the target; attaching builds the trampoline */
	link_fd = bpf_link_create(prog_fd, 0, BPF_TRACE_FEXIT, NULL);
	if (link_fd < 0)
		err = -errno;
	else
		close(link_fd);
	close(prog_fd);
	return err;
}

bool features__tracefs_mounted(void)
{
	struct mntent *ent;
	bool found = false;
	FILE *mounts = setmntent("/proc/self/mounts", "r");

	if (!mounts)
		return false;
	while ((ent = getmntent(mounts)))
		if (strcmp(ent->mnt_type, "tracefs") == 0) {
			found = true;
			break;
		}
	endmntent(mounts);
	return found;
}

static bool has_cap(const struct __user_cap_data_struct data[2], int cap)
{
	return data[cap / 32].effective & (1U << (cap % 32));
}

int features__check_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	if (has_cap(data, CAP_SYS_ADMIN))
		return 0;
	if (has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON))
		return 0;
	return -EPERM;
}

static bool probe_batch_ops(void)
{
	__u32 keys[1], vals[1], out_batch;
	__u32 count = 1;
	bool ok;
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "mt_probe", 4, 4, 1, NULL);

	if (fd < 0)
		return false;
	/* an empty map answers ENOENT when batch lookup exists, EINVAL/ENOTSUPP when not */
	ok = bpf_map_lookup_batch(fd, NULL, &out_batch, keys, vals, &count, NULL) == 0 ||
	     errno == ENOENT;
	close(fd);
	return ok;
}

static const char *yesno(bool v)
{
	return v ? "yes" : "no";
}

int features__print(FILE *out)
{
	static const char *const tps[] = { "page_fault_user",	 "rss_stat",
					   "sys_enter",		 "sys_exit",
					   "sched_process_fork", "sched_process_exec",
					   "sched_process_exit" };
	bool priv = features__check_privileges() == 0;

	fprintf(out, "libbpf %u.%u\n", libbpf_major_version(), libbpf_minor_version());
	fprintf(out, "%-34s %s\n", "privileges (CAP_BPF+CAP_PERFMON)", yesno(priv));
	fprintf(out, "%-34s %s\n", "vmlinux BTF", yesno(features__have_btf()));
	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		char label[64];

		snprintf(label, sizeof(label), "tp_btf/%s in BTF", tps[i]);
		fprintf(out, "%-34s %s\n", label, yesno(features__have_tp_btf(tps[i])));
	}
	fprintf(out, "%-34s %s\n", "tracefs mounted (not required)",
		yesno(features__tracefs_mounted()));
	if (!priv) {
		fprintf(out, "(run as root to probe program and map types)\n");
		return 0;
	}
	fprintf(out, "%-34s %s\n", "prog type raw_tracepoint",
		yesno(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL) == 1));
	fprintf(out, "%-34s %s\n", "prog type perf_event",
		yesno(libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_PERF_EVENT, NULL) == 1));
	fprintf(out, "%-34s %s\n", "map type ringbuf",
		yesno(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1));
	fprintf(out, "%-34s %s\n", "map type stack_trace",
		yesno(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_STACK_TRACE, NULL) == 1));
	fprintf(out, "%-34s %s\n", "map type task_storage",
		yesno(libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) == 1));
	fprintf(out, "%-34s %s\n", "batch map lookups", yesno(probe_batch_ops()));
	return 0;
}
