// SPDX-License-Identifier: GPL-2.0
/*
 * The syscalls' tracepoint rung (syscalls:sys_exit_{mmap,munmap,mremap,brk}
 * through perf events), forced with MEMTRACE_TEST_SYSCALLS=tracepoint: a
 * workload whose mmap, munmap, mremap and brk bytes are known, counted
 * exactly and against the kernel's VmSize, with the event ids taken from a
 * mounted tracefs, then from the loader's private mount when tracefs is
 * unmounted, and the fall to tp_btf when the ids cannot be had. Each case
 * runs in a mount namespace of its own (the host's mounts never change).
 * Needs root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include "workload.h"
#include "kfeatures.h"
#include "log.h"
#include "tracefs_ids.h"
#include "tracer_api.h"

#define PAGES 256UL		       /* 1 MiB touched */
#define MAP_BYTES (32UL << 20)	       /* mapped, never touched */
#define UNMAP_BYTES (8UL << 20)	       /* unmapped out of those */
#define MREMAP_BYTES (4UL << 20)       /* the rest grown by */
#define BRK_BYTES ((1UL << 20) + 8192) /* one brk() */

static long page_size;

/* The ids of one event as the loader takes them; 0 or -errno, source and why filled. */
static int mmap_event_id(int private_only, char *source, size_t len, char *why, size_t why_len)
{
	static const char *const mmap_only[] = { "mmap" };
	const struct tracefs_ids_opts opts = { .private_only = private_only };
	uint32_t id = 0;
	int err = tracefs_ids__sys_exits(mmap_only, 1, &opts, &id, source, len, why, why_len);

	if (!err && !id)
		fail_msg("tracefs_ids__get gave id 0 from %s", source);
	return err;
}

/* VmSize from /proc/PID/status, bytes. */
static uint64_t vm_size(pid_t pid)
{
	char path[64], line[256];
	unsigned long long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	assert_true(kb > 0);
	return kb * 1024;
}

/* Our own mount namespace, every mount private: what we mount or unmount stays here. */
static void private_mounts(void)
{
	if (unshare(CLONE_NEWNS))
		fail_msg("unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		fail_msg("making the mounts private: %s", strerror(errno));
}

/* Unmount every tracefs (in our namespace); false when one stays. */
static bool unmount_tracefs(void)
{
	for (int i = 0; i < 8 && features__tracefs_mounted(); i++) {
		umount2("/sys/kernel/tracing", MNT_DETACH);
		umount2("/sys/kernel/debug/tracing", MNT_DETACH);
	}
	return !features__tracefs_mounted();
}

/* The "hook syscalls" line of the ladder (--version -v), into out. */
static void ladder_line(char *out, size_t len)
{
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	char *line;

	assert_non_null(f);
	assert_int_equal(tracer__print_ladder(f), 0);
	fclose(f);
	line = strstr(buf, "hook syscalls");
	assert_non_null(line);
	snprintf(out, len, "%.*s", (int)strcspn(line, "\n"), line);
}

/*
 * memload maps PAGES pages and touches them, maps MAP_BYTES more, unmaps
 * UNMAP_BYTES of those, grows the rest by MREMAP_BYTES and the break by
 * BRK_BYTES: each counted exactly on the rung the tracer took (rung), and
 * their sum against the kernel's VmSize growth.
 */
static void counts_known_workload(const char *rung)
{
	char pages[32], map[32], unmap[32], grow[32], brk[32], want[64];
	char *argv[] = { "memload", "--wait", "--hold",	  "--pages", pages,   "--map", map,
			 "--unmap", unmap,    "--mremap", grow,	     "--brk", brk,     NULL };
	int pids[1];
	struct tracer_opts opts = { .pids = pids, .nr_pids = 1, .seed_existing = true };
	uint64_t losses[MT_CNT_NR], vm_before, vm_after;
	struct mt_proc_stats before, after;
	int64_t counted;
	struct workload w = { -1, -1, -1 };
	struct tracer *t;

	snprintf(pages, sizeof(pages), "%lu", PAGES);
	snprintf(map, sizeof(map), "%lu", MAP_BYTES);
	snprintf(unmap, sizeof(unmap), "%lu", UNMAP_BYTES);
	snprintf(grow, sizeof(grow), "%lu", MREMAP_BYTES);
	snprintf(brk, sizeof(brk), "%lu", BRK_BYTES);
	assert_int_equal(workload_start(&w, argv), 0);
	pids[0] = w.pid;
	t = tracer__new(&opts);
	if (!t)
		fail_msg("tracer__new: %s", strerror(errno));
	snprintf(want, sizeof(want), "syscalls: %s,", rung);
	if (!strstr(tracer__attach_summary(t), want))
		fail_msg("attach: %s, expected %s", tracer__attach_summary(t), want);
	vm_before = vm_size(w.pid);
	assert_int_equal(tracer__lookup(t, w.pid, &before), 0);
	assert_int_equal(workload_go(&w), 0);
	assert_int_equal(tracer__lookup(t, w.pid, &after), 0);
	vm_after = vm_size(w.pid);

	assert_int_equal(after.mmap_calls - before.mmap_calls, 2);
	assert_int_equal(after.mmap_bytes - before.mmap_bytes, PAGES * page_size + MAP_BYTES);
	assert_int_equal(after.munmap_calls - before.munmap_calls, 1);
	assert_int_equal(after.munmap_bytes - before.munmap_bytes, UNMAP_BYTES);
	assert_int_equal(after.mremap_calls - before.mremap_calls, 1);
	assert_int_equal(after.mremap_grow_bytes - before.mremap_grow_bytes, MREMAP_BYTES);
	assert_int_equal(after.mremap_shrink_bytes - before.mremap_shrink_bytes, 0);
	assert_int_equal(after.brk_calls - before.brk_calls, 1);
	assert_int_equal(after.brk_bytes - before.brk_bytes, (int64_t)BRK_BYTES);
	/* the kernel's own figure: the address space grew by what was counted */
	counted = (int64_t)(after.mmap_bytes - before.mmap_bytes) -
		  (int64_t)(after.munmap_bytes - before.munmap_bytes) +
		  (int64_t)(after.mremap_grow_bytes - before.mremap_grow_bytes) -
		  (int64_t)(after.mremap_shrink_bytes - before.mremap_shrink_bytes) +
		  (after.brk_bytes - before.brk_bytes);
	if (counted != (int64_t)(vm_after - vm_before))
		fail_msg("counted %lld bytes of address space, the kernel's VmSize grew %lld (%llu "
			 "-> %llu)",
			 (long long)counted, (long long)(vm_after - vm_before),
			 (unsigned long long)vm_before, (unsigned long long)vm_after);
	print_message("%s rung: counted %lld bytes, VmSize grew %lld\n", rung, (long long)counted,
		      (long long)(vm_after - vm_before));
	assert_int_equal(tracer__losses(t, losses), 0);
	for (int i = 0; i < MT_CNT_NR; i++)
		if (losses[i])
			fail_msg("loss counter %d = %llu, expected 0", i,
				 (unsigned long long)losses[i]);
	assert_int_equal(workload_finish(&w), 0);
	tracer__free(t);
}

/* With tracefs mounted (mounted here if it was not): its ids, and exact counts. */
static void test_syscall_tp__ids_from_mounted_tracefs(void **state)
{
	char source[64], why[256];
	int err;

	private_mounts();
	if (!features__tracefs_mounted() &&
	    mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL))
		fail_msg("cannot mount tracefs for the test: %s", strerror(errno));
	err = mmap_event_id(0, source, sizeof(source), why, sizeof(why));
	if (err == -ENOENT)
		skip(); /* no CONFIG_FTRACE_SYSCALLS: the fallback case below tests this kernel */
	if (err)
		fail_msg("event ids from a mounted tracefs: %s", why);
	assert_true(strstr(source, "/sys/kernel/") == source);
	counts_known_workload("tracepoint");
}

/* tracefs unmounted: the ids come from a private mount, which leaves nothing behind. */
static void test_syscall_tp__ids_from_a_private_mount(void **state)
{
	char source[64], why[256], line[256];
	const char *tmp = getenv("TMPDIR");
	struct dirent *d;
	DIR *dir;
	int err;

	private_mounts();
	if (!unmount_tracefs())
		skip(); /* mounted elsewhere and busy: cannot test here */
	err = mmap_event_id(0, source, sizeof(source), why, sizeof(why));
	if (err == -ENOENT)
		skip();
	if (err)
		fail_msg("event ids without tracefs: %s", why);
	assert_string_equal(source, "a private tracefs mount");
	assert_false(features__tracefs_mounted()); /* the child's mount stayed in the child */
	dir = opendir(tmp && tmp[0] == '/' ? tmp : "/tmp");
	assert_non_null(dir);
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, "memtrace-tracefs-", 17))
			fail_msg("the private mount's directory %s was left behind", d->d_name);
	closedir(dir);
	counts_known_workload("tracepoint");
	ladder_line(line, sizeof(line));
	print_message("%s\n", line);
	assert_non_null(strstr(line, "hook syscalls"));
	assert_non_null(strstr(line, " tracepoint"));
}

static int set_effective_sys_admin(bool on)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	if (on)
		data[CAP_SYS_ADMIN / 32].effective |= 1U << (CAP_SYS_ADMIN % 32);
	else
		data[CAP_SYS_ADMIN / 32].effective &= ~(1U << (CAP_SYS_ADMIN % 32));
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/*
 * No tracefs and no CAP_SYS_ADMIN to mount one (a container): the hook
 * falls to tp_btf, says why, and still counts exactly.
 */
static void test_syscall_tp__falls_to_tp_btf_without_ids(void **state)
{
	char source[64], why[256], line[512];
	int err;

	private_mounts();
	if (!unmount_tracefs())
		skip();
	if (!features__have_tp_btf("sys_exit"))
		skip(); /* the next rung is raw_tp there: test_tracer's fallback case */
	assert_int_equal(set_effective_sys_admin(false), 0);
	err = mmap_event_id(0, source, sizeof(source), why, sizeof(why));
	if (err != -EPERM || !strstr(why, "CAP_SYS_ADMIN")) {
		set_effective_sys_admin(true);
		fail_msg("event ids without tracefs or CAP_SYS_ADMIN: %d (%s), expected -EPERM",
			 err, why);
	}
	ladder_line(line, sizeof(line));
	print_message("%s\n", line);
	if (!strstr(line, " tp_btf (") || !strstr(line, "tracepoint: tracefs not mounted")) {
		set_effective_sys_admin(true);
		fail_msg("'%s': expected tp_btf, and why the tracepoint rung was passed", line);
	}
	counts_known_workload("tp_btf");
	assert_int_equal(set_effective_sys_admin(true), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syscall_tp__ids_from_mounted_tracefs),
		cmocka_unit_test(test_syscall_tp__ids_from_a_private_mount),
		cmocka_unit_test(test_syscall_tp__falls_to_tp_btf_without_ids),
	};

	page_size = sysconf(_SC_PAGESIZE);
	mt_setup_libbpf_log();
	setenv("MEMTRACE_TEST_SYSCALLS", "tracepoint", 1);
	return cmocka_run_group_tests_name("syscall tracepoint rung (BPF)", tests, NULL, NULL);
}
