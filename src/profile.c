// SPDX-License-Identifier: GPL-2.0
/*
 * Recording + symbolizer → symbolized stacks with the leaf fix applied.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "profile.h"

static const char *const lost_names[] = {
    "[no stack: hash collision]",
    "[no stack: stack map full]",
    "[no stack]",
};

static const char *lost_name(int32_t id)
{
	if (id == -17 /* EEXIST */)
		return lost_names[0];
	if (id == -12 /* ENOMEM */)
		return lost_names[1];
	return lost_names[2];
}

static bool wanted(const struct mt_rec_sample *s, const struct profile_opts *opts)
{
	if (!(opts->events & MT_EVMASK(s->event)))
		return false;
	if (!opts->npids)
		return true;
	for (size_t i = 0; i < opts->npids; i++)
		if ((uint32_t)opts->pids[i] == s->pid)
			return true;
	return false;
}

static int build_one(const struct recording *rec, struct symbolizer *sym,
		     const struct mt_rec_sample *s, struct mt_pstack *ps, struct profile *prof)
{
	const struct mt_rec_stack *stack =
	    s->stack_id >= 0 ? recording__stack(rec, s->stack_id) : NULL;
	const struct mt_rec_proc *proc = recording__proc(rec, s->pid, s->gen);
	uint32_t nr = stack ? stack->nr : 0, n = 0;
	uint64_t fixed_ret = 0;

	memset(ps, 0, sizeof(*ps));
	ps->pid = s->pid;
	ps->event = s->event;
	ps->class = s->class;
	ps->count = s->count;
	ps->bytes = s->bytes;
	ps->comm = proc && proc->comm[0] ? proc->comm : "[unknown]";
	ps->fp_frames = nr;

	if (nr && s->leaf_nr &&
	    !symbolizer__leaf_return(sym, s->pid, s->gen, stack->ips[0], s->leaf_sp, s->leaf_words,
				     s->leaf_nr, &fixed_ret) &&
	    (nr < 2 || stack->ips[1] != fixed_ret))
		ps->leaf_fixed = true;

	ps->frames = calloc(nr + 2, sizeof(*ps->frames));
	ps->ips = calloc(nr + 2, sizeof(*ps->ips));
	if (!ps->frames || !ps->ips)
		return -ENOMEM;
	if (!stack) {
		ps->frames[0].func = lost_name(s->stack_id);
		ps->frames[0].module = "[memtrace]";
		ps->nframes = 1;
		return 0;
	}
	for (uint32_t i = 0; i < nr; i++) {
		if (i == 1 && ps->leaf_fixed) {
			ps->ips[n] = fixed_ret;
			symbolizer__lookup(sym, s->pid, s->gen, fixed_ret, true, &ps->frames[n]);
			n++;
		}
		ps->ips[n] = stack->ips[i];
		symbolizer__lookup(sym, s->pid, s->gen, stack->ips[i], i > 0, &ps->frames[n]);
		n++;
	}
	if (nr == 1 && ps->leaf_fixed) {
		ps->ips[n] = fixed_ret;
		symbolizer__lookup(sym, s->pid, s->gen, fixed_ret, true, &ps->frames[n]);
		n++;
	}
	ps->nframes = n;
	ps->site = 0;
	while (ps->site + 1 < n && ps->frames[ps->site].system)
		ps->site++;
	if (ps->frames[ps->site].system)
		ps->site = 0;
	if (ps->leaf_fixed)
		prof->leaf_fixes++;
	prof->walked_events += s->count;
	if (nr <= 2)
		prof->short_events += s->count;
	return 0;
}

struct profile *profile__build(const struct recording *rec, struct symbolizer *sym,
			       const struct profile_opts *opts)
{
	const struct mt_rec_sample *samples;
	struct profile *prof;
	size_t ns;

	prof = calloc(1, sizeof(*prof));
	samples = recording__samples(rec, &ns);
	if (!prof || !(prof->stacks = calloc(ns ? ns : 1, sizeof(*prof->stacks)))) {
		free(prof);
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < ns; i++) {
		const struct mt_rec_sample *s = &samples[i];

		if (!wanted(s, opts))
			continue;
		if (build_one(rec, sym, s, &prof->stacks[prof->n], prof)) {
			prof->n++;
			profile__free(prof);
			errno = ENOMEM;
			return NULL;
		}
		prof->n++;
		prof->total_count[s->event] += s->count;
		prof->total_bytes[s->event] += s->bytes;
	}
	return prof;
}

void profile__free(struct profile *prof)
{
	if (!prof)
		return;
	for (size_t i = 0; i < prof->n; i++) {
		free(prof->stacks[i].frames);
		free(prof->stacks[i].ips);
	}
	free(prof->stacks);
	free(prof);
}

const char *mt_frame_label(const struct mt_frame *f, char *buf, size_t len)
{
	if (f->func)
		return f->func;
	snprintf(buf, len, "%s+0x%" PRIx64, f->module, f->mod_off);
	return buf;
}
