/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The recording file written by `memtrace record` and read by `memtrace
 * report`: everything symbolization needs after the traced processes are
 * gone. Layout (host byte order; x86-64 and other little-endian 64-bit
 * hosts):
 *
 *   header   "MEMTRACE" magic, u32 version, u32 flags (0)
 *   records  u32 type, u32 payload length, payload
 *   end      an MT_FREC_END record whose u64 counts every record before it
 *
 * Readers skip record types they do not know (forward compatible within a
 * version) and refuse anything else that does not add up: a bad magic or
 * version, a record running past the end, lengths that disagree with the
 * type, a missing end record (a truncated file). The version changes when
 * a known record's layout does.
 */
#ifndef MEMTRACE_RECORDING_H
#define MEMTRACE_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "stacks.h"

#define MT_REC_MAGIC "MEMTRACE"
#define MT_REC_VERSION 1
#define MT_REC_MAX_PAYLOAD (1U << 20) /* sanity bound for any one record */
#define MT_BUILD_ID_MAX 20
#define MT_REC_COUNTERS 16 /* room for MT_SC_NR counters */

enum mt_frec_type {
	MT_FREC_META = 1,
	MT_FREC_PROC = 2,
	MT_FREC_MAP = 3,
	MT_FREC_STACK = 4,
	MT_FREC_SAMPLE = 5,
	MT_FREC_USTACK = 6,
	MT_FREC_OWNER = 7, /* the user of a process image, after its MT_FREC_PROC */
	MT_FREC_PEAK = 8,  /* --malloc: a heap's peak (struct mt_rec_peak) */
	/* a capture live at a peak whose block was freed before the end (MT_USTACK_AT_*) */
	MT_FREC_PEAK_USTACK = 9,
	MT_FREC_END = 0xff,
};

/* What was recorded and what was lost doing it. */
struct mt_rec_meta {
	uint64_t start_ns; /* CLOCK_REALTIME at start */
	uint64_t duration_ns;
	uint32_t events; /* MT_EVMASK bits */
	uint32_t sample_every;
	uint32_t malloc;		    /* --malloc was on */
	uint32_t ncounters;		    /* valid entries of counters */
	uint64_t counters[MT_REC_COUNTERS]; /* enum mt_stack_counter, summed over CPUs */
	uint64_t maps_missed;		    /* processes with samples but no maps read */
	char *cmdline;			    /* what was traced, for the report header */
};

/* One process image: (pid, gen) changes at every exec. */
struct mt_rec_proc {
	uint32_t pid;
	uint32_t gen;
	uint32_t ppid;
	uint32_t flags; /* reserved */
	char comm[16];
	char *exe; /* may be empty */
	/*
	 * The effective uid /proc showed for the image while it ran (the owner
	 * its /tmp/perf-PID.map must have once it is gone, when the PID may be
	 * another user's): valid when has_uid; written as MT_FREC_OWNER.
	 */
	uint32_t uid;
	uint32_t has_uid;
};

/* One line of /proc/PID/maps of one process image. */
struct mt_rec_map {
	uint64_t start;
	uint64_t end;
	uint64_t pgoff; /* file offset of start, bytes */
	uint32_t pid;
	uint32_t gen;
	uint32_t prot; /* PROT_READ/WRITE/EXEC */
	uint32_t build_id_len;
	uint8_t build_id[MT_BUILD_ID_MAX];
	char *path;	  /* as the process saw it; may be "[vdso]", "" for anon */
	char *cache_path; /* a copy kept by build-id (foreign root), or NULL */
};

struct mt_rec_stack {
	int32_t id;
	uint32_t nr;
	uint64_t *ips; /* nr user addresses, innermost first */
};

struct mt_rec_sample {
	uint32_t pid;
	int32_t stack_id; /* a stack's id, or -errno when none was taken */
	uint32_t gen;
	uint32_t event;	  /* enum mt_stack_event */
	uint32_t class;	  /* enum mt_class */
	uint32_t leaf_nr; /* valid leaf_words */
	uint64_t count;
	int64_t bytes;
	uint64_t leaf_ip;
	uint64_t leaf_sp;
	uint64_t leaf_words[MT_LEAF_WORDS];
};

#define MT_UNWIND_MAX_REGS 33
#define MT_USTACK_MAX 65536 /* largest stack copy accepted, bytes */
enum {
	MT_USTACK_KERNEL_FAULT = 1, /* a kernel-mode fault on user memory; regs are the
				       user registers at syscall entry */
	/*
	 * --malloc: the block was outstanding when its image's heap peaked /
	 * when the heap of every traced process together peaked. Readers that
	 * know no peak ignore both bits: the capture is still one of the end.
	 */
	MT_USTACK_AT_PEAK = 2,
	MT_USTACK_AT_ALL_PEAK = 4,
};

/*
 * A user-stack capture: registers and the top of the user stack at one
 * sampled event, unwound at report time (src/unwind.c). The exact totals
 * stay in the aggregate; a capture's count and bytes are its sampled
 * weight, used to share out its bucket's (u64)-ENODATA aggregate key.
 */
struct mt_rec_ustack {
	uint32_t pid;
	uint32_t gen;
	uint32_t event; /* enum mt_stack_event */
	uint32_t class; /* enum mt_class */
	uint32_t arch;	/* ELF e_machine of the traced task: EM_X86_64, EM_AARCH64 */
	uint32_t nregs; /* valid entries of regs */
	/*
	 * DWARF register numbering of arch:
	 *   x86_64: 0 rax 1 rdx 2 rcx 3 rbx 4 rsi 5 rdi 6 rbp 7 rsp 8..15 r8..r15
	 *           16 rip (nregs = 17)
	 *   arm64:  0..30 x0..x30 31 sp 32 pc (nregs = 33)
	 */
	uint64_t regs[MT_UNWIND_MAX_REGS];
	uint64_t count;	     /* events this capture stands for, before scaling */
	int64_t bytes;	     /* bytes this capture stands for, before scaling */
	uint64_t stack_addr; /* user address of stack[0]: the SP at the event */
	uint32_t stack_len;  /* bytes, <= MT_USTACK_MAX */
	uint32_t flags;	     /* MT_USTACK_* */
	uint8_t *stack;	     /* stack_len bytes copied from stack_addr */
};

/*
 * --malloc: the moment a heap peaked. The bytes and blocks are exact (every
 * allocation and free counted in order, struct mt_mpeak); the call sites at
 * that moment are the captures flagged MT_USTACK_AT_PEAK (or _ALL_PEAK),
 * in MT_FREC_USTACK when still live at the end, else MT_FREC_PEAK_USTACK,
 * and share the bytes out as the end's captures share theirs.
 */
enum {
	MT_PEAK_ALL = 1,      /* every traced process together (pid, gen 0) */
	MT_PEAK_RACED = 2,    /* a racing update was lost: bytes may be short */
	MT_PEAK_NO_SITES = 4, /* no captures were taken (--unwind fp): sites unknown */
};

struct mt_rec_peak {
	uint32_t pid; /* with gen: the process image; 0 with MT_PEAK_ALL */
	uint32_t gen;
	uint32_t flags; /* MT_PEAK_* */
	uint32_t pad;
	int64_t bytes;	   /* outstanding at the peak */
	int64_t blocks;	   /* blocks outstanding then */
	uint64_t ts_ns;	   /* CLOCK_REALTIME of the peak, 0 when unknown */
	int64_t end_bytes; /* outstanding at the end, from the same counter */
};

struct recording;

/* An empty recording, or NULL with errno set. */
struct recording *recording__new(void);
void recording__free(struct recording *rec);

/* Adders copy their argument (strings included); 0 or -ENOMEM. */
int recording__set_meta(struct recording *rec, const struct mt_rec_meta *meta);
int recording__add_proc(struct recording *rec, const struct mt_rec_proc *proc);
int recording__add_map(struct recording *rec, const struct mt_rec_map *map);
int recording__add_stack(struct recording *rec, int32_t id, const uint64_t *ips, uint32_t nr);
int recording__add_sample(struct recording *rec, const struct mt_rec_sample *sample);
/* Copies the capture and its stack bytes; -EINVAL when a length is out of range. */
int recording__add_ustack(struct recording *rec, const struct mt_rec_ustack *u);
/* A capture live at a peak only (MT_FREC_PEAK_USTACK), as recording__add_ustack. */
int recording__add_peak_ustack(struct recording *rec, const struct mt_rec_ustack *u);
/* 0, -ENOMEM; -EINVAL for unknown flags. */
int recording__add_peak(struct recording *rec, const struct mt_rec_peak *peak);

/* Whether (pid, gen) already has maps (the loader reads each image once or more). */
bool recording__has_maps(const struct recording *rec, uint32_t pid, uint32_t gen);
/* Drops the maps of (pid, gen) before a fresh reading replaces them. */
void recording__drop_maps(struct recording *rec, uint32_t pid, uint32_t gen);

/*
 * Writes the file, mode 0600 (it holds raw user-stack bytes); refuses an
 * existing path unless force (-EEXIST). Through outfile.h: a random
 * temporary name beside the target, renamed into place, so a crash never
 * leaves a half file under the final name and a planted symlink is never
 * followed.
 */
int recording__write(const struct recording *rec, const char *path, bool force);

/*
 * Parses a recording; on failure returns NULL, sets errno (EINVAL for a
 * malformed file) and writes a one-line reason into err.
 */
struct recording *recording__read(const char *path, char *err, size_t errlen);
struct recording *recording__parse(const void *buf, size_t len, char *err, size_t errlen);

/* Read-only views; valid until the recording is freed or changed. */
const struct mt_rec_meta *recording__meta(const struct recording *rec);
const struct mt_rec_proc *recording__procs(const struct recording *rec, size_t *n);
const struct mt_rec_map *recording__maps(const struct recording *rec, size_t *n);
const struct mt_rec_sample *recording__samples(const struct recording *rec, size_t *n);
/* In the order added (or read); each stack points into the recording. */
const struct mt_rec_ustack *recording__ustacks(const struct recording *rec, size_t *n);
/* Captures live at a peak only: freed before the end. */
const struct mt_rec_ustack *recording__peak_ustacks(const struct recording *rec, size_t *n);
const struct mt_rec_peak *recording__peaks(const struct recording *rec, size_t *n);
/* The stack with this id, or NULL (binary search: stacks are kept sorted on read). */
const struct mt_rec_stack *recording__stack(const struct recording *rec, int32_t id);
const struct mt_rec_proc *recording__proc(const struct recording *rec, uint32_t pid, uint32_t gen);

/* "fault", "mmap", "brk", "malloc"; NULL for an unknown kind. */
const char *mt_event_name(uint32_t event);
/* "stack map full"... for an enum mt_stack_counter; NULL beyond. */
const char *mt_counter_name(uint32_t counter);
/* "anon", "file", "shmem", "-" */
const char *mt_class_name(uint32_t class);
/* Parses "fault,mmap,brk" into MT_EVMASK bits; -EINVAL names nothing. */
int mt_parse_events(const char *text, uint32_t *mask);

#endif /* MEMTRACE_RECORDING_H */
