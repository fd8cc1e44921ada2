/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The user-stack captures of bpf/stacks.bpf.c (--unwind dwarf, auto): the
 * registers and the top of the user stack into the "ustacks" ring, and the
 * byte sampling that decides which faults are captured. Included once, by
 * stacks.bpf.c, after its rodata, maps and count(): a part of that object
 * kept in its own file so that each reads in one sitting.
 */
#ifndef MEMTRACE_STACKS_CAPTURE_BPF_H
#define MEMTRACE_STACKS_CAPTURE_BPF_H

/* Set on this CPU while one of our programs reads user memory (see on_kernel_fault). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inprog SEC(".maps");

static __always_inline void set_busy(__u32 on)
{
	__u32 zero = 0, *busy = bpf_map_lookup_elem(&inprog, &zero);

	if (busy)
		*busy = on;
}

/* The end of the VMA holding the user stack pointer sp, cached per CPU like the class. */
struct stk_vma_cache {
	__u64 mm, start, end, epoch;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stk_vma_cache);
} stkvma SEC(".maps");

/* Bumped by what can move a VMA's end (not by every mmap, as vma_epoch is). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} stk_epoch SEC(".maps");

static long stk_vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct stk_vma_cache *c = data;

	c->start = BPF_CORE_READ(vma, vm_start);
	c->end = BPF_CORE_READ(vma, vm_end);
	return 0;
}

/*
 * Bytes from sp to the end of its VMA: a copy never reads past it. The
 * lookup shares bpf_find_vma()'s one per-CPU slot with the class lookup of
 * the same fault (interrupts are off at the tracepoint, so the second call
 * of an event is refused): then only the rest of sp's page is taken.
 */
static __always_inline __u64 stack_room(__u64 sp)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct stk_vma_cache *c, found = {};
	__u64 mm = (__u64)task->mm, *epoch, page_rest = 4096 - (sp & 4095);
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&stkvma, &zero);
	epoch = bpf_map_lookup_elem(&stk_epoch, &zero);
	if (!c || !epoch)
		return page_rest;
	if (c->mm != mm || c->epoch != *epoch || sp < c->start || sp >= c->end) {
		/*
		 * Busy (another lookup holds this CPU's irq_work, or the mmap
		 * lock): try the whole copy, which fails only where the stack
		 * ends sooner, and then falls back to sp's own page. Returning
		 * that page alone cut deep stacks (cc1's) short on a loaded
		 * machine, where a traced process that maps often (a new epoch
		 * each time) looks its stack up at nearly every capture.
		 */
		if (bpf_find_vma(task, sp, stk_vma_cb, &found, 0) || !found.end)
			return MT_MAX_STACK_BYTES;
		c->mm = mm;
		c->epoch = *epoch;
		c->start = found.start;
		c->end = found.end;
	}
	return sp < c->end && sp >= c->start ? c->end - sp : 0;
}

/* The user registers in DWARF numbering (struct mt_rec_ustack). */
static __always_inline void copy_user_regs(struct mt_ustack_event *e, struct pt_regs *uregs)
{
#if defined(__TARGET_ARCH_x86)
	struct pt_regs r = {};

	bpf_probe_read_kernel(&r, sizeof(r), uregs);
	e->regs[0] = r.ax;
	e->regs[1] = r.dx;
	e->regs[2] = r.cx;
	e->regs[3] = r.bx;
	e->regs[4] = r.si;
	e->regs[5] = r.di;
	e->regs[6] = r.bp;
	e->regs[7] = r.sp;
	e->regs[8] = r.r8;
	e->regs[9] = r.r9;
	e->regs[10] = r.r10;
	e->regs[11] = r.r11;
	e->regs[12] = r.r12;
	e->regs[13] = r.r13;
	e->regs[14] = r.r14;
	e->regs[15] = r.r15;
	e->regs[16] = r.ip;
	e->nregs = 17;
	e->arch = EM_X86_64;
#elif defined(__TARGET_ARCH_arm64)
	/* arm64's pt_regs (336 bytes) does not fit the BPF stack: read into the event */
	bpf_probe_read_kernel(e->regs, 31 * sizeof(__u64),
			      __builtin_preserve_access_index(&uregs->regs));
	e->regs[31] = BPF_CORE_READ(uregs, sp);
	e->regs[32] = BPF_CORE_READ(uregs, pc);
	e->nregs = 33;
	e->arch = EM_AARCH64;
#else
	e->nregs = 0; /* an arch without a register map: report shows [unknown] */
#endif
}

#define PREFIX_STEPS 5 /* halvings: 2^5 > the 17 pages of a 64 KiB copy */

/*
 * The longest prefix of [sp, sp + len) that reads, in whole pages after
 * sp's own, when the copy of all of it failed: the stack ended sooner than
 * stack_room() could tell (a busy VMA lookup), or a page above is not
 * there. perf keeps what it could copy the same way. A failed read zeroes
 * the buffer, so the best prefix is read again if a later try failed.
 * Bytes copied; 0 when not even sp's own page reads.
 */
static __always_inline __u64 copy_prefix(struct mt_ustack_event *e, __u64 sp, __u64 len)
{
	__u64 first = 4096 - (sp & 4095), lo = 0, hi, mid, n, best = 0;
	bool last_ok = false;

	if (first >= len)
		return 0; /* the whole copy was sp's own page */
	/* k further pages: k < lo read, k >= hi do not (hi: the whole copy) */
	hi = (len - first + 4095) / 4096;
	for (int i = 0; i < PREFIX_STEPS; i++) {
		if (lo >= hi)
			break;
		mid = (lo + hi) / 2;
		n = first + mid * 4096;
		if (n > len)
			n = len;
		if (n > stack_bytes || n > MT_MAX_STACK_BYTES)
			return 0;
		last_ok = !bpf_probe_read_user(e->stack, n, (void *)sp);
		if (last_ok) {
			best = n;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (best && !last_ok) {
		if (best > stack_bytes || best > MT_MAX_STACK_BYTES ||
		    bpf_probe_read_user(e->stack, best, (void *)sp))
			return 0;
	}
	return best;
}

#define GROW_PROBE_PAGES 8 /* pages above an absent sp page looked at: 32 KiB */

/*
 * A fault that grows the stack has nothing at sp to copy: the frame was
 * just allocated (sub rsp, then a first write such as a call's return
 * address), so sp's own page is not there yet. The frame's caller, with
 * the return address, is above it: copies from the first present page
 * above sp instead, up to room bytes from sp. The unwinder reads nothing
 * below stack_addr, so a register or slot it needed there ends the chain
 * as unknown. Bytes copied (0: none), the copy's address in *addr.
 */
static __always_inline __u64 copy_above(struct mt_ustack_event *e, __u64 sp, __u64 room,
					__u64 *addr)
{
	__u64 page = (sp | 4095) + 1, len;
	char probe;

	for (int i = 0; i < GROW_PROBE_PAGES; i++, page += 4096) {
		if (page - sp >= room)
			return 0;
		if (bpf_probe_read_user(&probe, 1, (void *)page))
			continue;
		len = room - (page - sp);
		if (len > stack_bytes)
			len = stack_bytes;
		if (len > MT_MAX_STACK_BYTES)
			len = MT_MAX_STACK_BYTES;
		if (bpf_probe_read_user(e->stack, len, (void *)page)) {
			/* a hole further up: that page alone */
			len = 4096;
			if (len > stack_bytes || bpf_probe_read_user(e->stack, len, (void *)page))
				return 0;
		}
		*addr = page;
		return len;
	}
	return 0;
}

/*
 * Sends one capture: the user registers and the top of the user stack.
 * A full ring loses the capture, counted in events and bytes; the bytes
 * are in the aggregate already. id: nonzero for --malloc captures, which a
 * later MT_USTACK_EV_RELEASE may name. Whether it was sent.
 */
static __always_inline bool capture(struct pt_regs *uregs, __u32 flags, __u32 gen, __u32 ev,
				    __u32 class, __u64 n, __s64 bytes, __u64 id)
{
	struct mt_ustack_event *e;
	__u64 sp, len, room, addr;

	e = bpf_ringbuf_reserve(&ustacks, sizeof(*e) + stack_bytes, 0);
	if (!e) {
		count(MT_SC_USTACK_LOST);
		mt_percpu_add(&stcnt, MT_SC_USTACK_LOST_BYTES, bytes);
		return false;
	}
	copy_user_regs(e, uregs);
	sp = PT_REGS_SP_CORE(uregs);
	addr = sp;
	len = room = stack_room(sp);
	if (len > stack_bytes)
		len = stack_bytes;
	if (len > MT_MAX_STACK_BYTES)
		len = MT_MAX_STACK_BYTES;
	if (len && bpf_probe_read_user(e->stack, len, (void *)sp)) {
		/* something above is not present: what reads, sp's own page at least */
		len = copy_prefix(e, sp, len);
		if (!len)
			len = copy_above(e, sp, room, &addr); /* sp's page is absent */
	}
	e->stack_addr = addr;
	e->stack_len = len;
	e->tgid = bpf_get_current_pid_tgid() >> 32;
	e->gen = gen;
	e->event = ev;
	e->class = class;
	e->count = n;
	e->bytes = bytes;
	e->flags = flags;
	e->id = id;
	if (id) /* --malloc: the heap peaks this capture comes after */
		mpeak_fill(&e->image_peak, &e->all_peak, e->tgid, gen);
	else
		e->image_peak = e->all_peak = 0;
	/*
	 * Waking the reader for every capture costs a context switch each on
	 * the traced task's CPUs: wake it once a quarter of the ring is
	 * waiting; it also reads at every poll timeout (100 ms).
	 */
	bpf_ringbuf_submit(e, bpf_ringbuf_query(&ustacks, BPF_RB_AVAIL_DATA) >
				      bpf_ringbuf_query(&ustacks, BPF_RB_RING_SIZE) / 4
				  ? BPF_RB_FORCE_WAKEUP
				  : BPF_RB_NO_WAKEUP);
	count(MT_SC_USTACKS);
	return true;
}

/* An exponential countdown of mean sample_bytes, from -ln(U) with a fixed-point log2. */
static __always_inline __s64 draw_countdown(void)
{
	__u32 r = bpf_get_prandom_u32() | 1, v = r, msb = 0;
	__u64 frac, neglog2, x;

	if (v >> 16) {
		v >>= 16;
		msb += 16;
	}
	if (v >> 8) {
		v >>= 8;
		msb += 8;
	}
	if (v >> 4) {
		v >>= 4;
		msb += 4;
	}
	if (v >> 2) {
		v >>= 2;
		msb += 2;
	}
	if (v >> 1)
		msb += 1;
	/* log2(r) in Q16, log2(1 + f) taken as f: the mean comes out about 4% long */
	frac = msb >= 16 ? (r >> (msb - 16)) & 0xffff : (r << (16 - msb)) & 0xffff;
	neglog2 = (32ULL << 16) - (((__u64)msb << 16) | frac); /* -log2(r / 2^32) */
	x = (sample_bytes * neglog2) >> 16;
	return (__s64)((x * 45426) >> 16); /* ln 2 in Q16 */
}

enum { SMP_MALLOC = 0 }; /* index of smpstate */

/*
 * Byte sampling of allocations (which): whether this event ends an
 * interval, and the interval's weight (events, bytes).
 */
static __always_inline bool bytes_sampled(__u32 which, __u64 weight, __u64 events, __u64 *n,
					  __s64 *bytes)
{
	struct smp_state *st = bpf_map_lookup_elem(&smpstate, &which);

	if (!st)
		return false;
	st->count += events;
	st->bytes += weight;
	st->countdown -= weight;
	if (st->countdown > 0)
		return false;
	*n = st->count;
	*bytes = st->bytes;
	st->count = 0;
	st->bytes = 0;
	st->countdown = draw_countdown();
	return true;
}

/*
 * Whether a fault of weight bytes (events events) is captured, and what
 * its capture stands for: each fault on its own with probability
 * weight / period (every fault at or above the period), and a capture then
 * weighs weight / that probability, the period. Each fault draws its own
 * random number, so no periodic pattern of the program can alias with the
 * sampling, and every capture of a period weighs the same (the bytes since
 * the previous capture, which the countdown of the allocations gives its
 * capture, vary as much as their mean: twice the variance of a share).
 * With a capture rate (window_captures per MT_RATE_WINDOW_NS), a window
 * that reaches it doubles the period from then on, and a window that ends
 * under a quarter of it halves the period, down to fault_period: a short
 * run is captured densely, a fault storm costs at most the rate. The
 * probability is known before each fault, from what came before it, so the
 * weights stay unbiased (Horvitz-Thompson) while the period moves.
 */
static __always_inline bool fault_sampled(__u64 weight, __u64 events, __u64 *n, __s64 *bytes)
{
	__u32 zero = 0;
	struct flt_state *st = bpf_map_lookup_elem(&fltstate, &zero);
	__u64 period, now;

	if (!st)
		return false;
	period = st->period ? st->period : fault_period;
	if (weight < period) {
		/* weight < period: the threshold fits 32 bits */
		if (bpf_get_prandom_u32() >= (__u32)((weight << 32) / period))
			return false;
		*n = events * period / weight;
		*bytes = period;
	} else {
		*n = events;
		*bytes = weight;
	}
	if (!window_captures)
		return true;
	now = bpf_ktime_get_ns();
	if (!st->period) {
		st->period = period;
		st->win_ns = now;
	}
	st->caps++;
	if (now - st->win_ns >= MT_RATE_WINDOW_NS) {
		if (st->caps * 4 < window_captures && st->period > fault_period)
			st->period /= 2;
		st->win_ns = now;
		st->caps = 0;
	} else if (st->caps >= window_captures) {
		if (st->period < MT_MAX_FAULT_PERIOD)
			st->period *= 2;
		st->win_ns = now;
		st->caps = 0;
	}
	return true;
}

#endif /* MEMTRACE_STACKS_CAPTURE_BPF_H */
