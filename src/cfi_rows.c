// SPDX-License-Identifier: GPL-2.0
/*
 * CFI rows by pc from libdw's frame API, and one unwinding step over a row.
 * libdw describes each register's rule as a short DWARF expression it
 * synthesizes (DW_OP_call_frame_cfa, DW_OP_plus_uconst N, DW_OP_stack_value
 * for a value; DW_OP_bregN for a CFA of register + offset); those shapes
 * are recognized here and everything else is left to libdw.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <stdlib.h>
#include "cfi_rows.h"
#include "hashmap.h"

struct cfi_rows {
	Dwfl *dwfl;
	struct hashmap *by_pc; /* pc -> struct cfi_row * */
};

struct cfi_rows *cfi_rows__new(Dwfl *dwfl)
{
	struct cfi_rows *rows = calloc(1, sizeof(*rows));

	if (!rows)
		return NULL;
	rows->dwfl = dwfl;
	rows->by_pc = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 1024);
	if (!rows->by_pc) {
		free(rows);
		errno = ENOMEM;
		return NULL;
	}
	return rows;
}

void cfi_rows__free(struct cfi_rows *rows)
{
	uintptr_t key, row;
	size_t cur = 0;

	if (!rows)
		return;
	while (hashmap__next(rows->by_pc, &cur, &key, &row))
		free((void *)row);
	hashmap__free(rows->by_pc);
	free(rows);
}

static bool op_reg(const Dwarf_Op *op, uint8_t *reg, int64_t *off)
{
	if (op->atom >= DW_OP_breg0 && op->atom <= DW_OP_breg31 &&
	    op->atom - DW_OP_breg0 < CFI_NREGS) {
		*reg = op->atom - DW_OP_breg0;
		*off = (int64_t)op->number;
		return true;
	}
	if (op->atom == DW_OP_bregx && op->number < CFI_NREGS) {
		*reg = (uint8_t)op->number;
		*off = (int64_t)op->number2;
		return true;
	}
	return false;
}

static bool op_in_reg(const Dwarf_Op *op, uint8_t *reg)
{
	if (op->atom >= DW_OP_reg0 && op->atom <= DW_OP_reg31 &&
	    op->atom - DW_OP_reg0 < CFI_NREGS) {
		*reg = op->atom - DW_OP_reg0;
		return true;
	}
	if (op->atom == DW_OP_regx && op->number < CFI_NREGS) {
		*reg = (uint8_t)op->number;
		return true;
	}
	return false;
}

/* One register's rule from libdw's description of it; false: not a shape taken here. */
static bool compile_rule(Dwarf_Frame *frame, int regno, struct cfi_rule *r)
{
	Dwarf_Op mem[3], *ops;
	size_t nops, n;
	bool value;

	if (dwarf_frame_register(frame, regno, mem, &ops, &nops))
		return false;
	r->off = 0;
	r->reg = 0;
	if (!nops) {
		r->kind = ops == mem ? CFI_RULE_UNDEF : CFI_RULE_SAME;
		return true;
	}
	if (nops == 1 && op_in_reg(&ops[0], &r->reg)) {
		r->kind = CFI_RULE_REG;
		return true;
	}
	value = ops[nops - 1].atom == DW_OP_stack_value;
	n = value ? nops - 1 : nops;
	if (n == 0 || n > 2)
		return false;
	if (ops[0].atom == DW_OP_call_frame_cfa)
		r->kind = value ? CFI_RULE_VAL_CFA : CFI_RULE_AT_CFA;
	else if (op_reg(&ops[0], &r->reg, &r->off))
		r->kind = value ? CFI_RULE_VAL_REG : CFI_RULE_AT_REG;
	else
		return false;
	if (n == 2) {
		if (ops[1].atom != DW_OP_plus_uconst)
			return false;
		r->off += (int64_t)ops[1].number;
	}
	return true;
}

static void compile_row(Dwfl *dwfl, uint64_t pc, struct cfi_row *row)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
	Dwarf_Frame *frame = NULL;
	Dwarf_Addr bias, start, end;
	bool signal = false;
	Dwarf_CFI *cfi;
	Dwarf_Op *ops;
	size_t nops;

	row->kind = CFI_ROW_NONE;
	if (!mod)
		return;
	cfi = dwfl_module_eh_cfi(mod, &bias);
	if (!cfi || dwarf_cfi_addrframe(cfi, pc - bias, &frame)) {
		frame = NULL;
		cfi = dwfl_module_dwarf_cfi(mod, &bias);
		if (!cfi || dwarf_cfi_addrframe(cfi, pc - bias, &frame))
			return;
	}
	row->kind = CFI_ROW_SLOW;
	if (dwarf_frame_info(frame, &start, &end, &signal) != CFI_NREGS - 1 || signal)
		goto out;
	if (dwarf_frame_cfa(frame, &ops, &nops) || nops != 1 ||
	    !op_reg(&ops[0], &row->cfa_reg, &row->cfa_off))
		goto out;
	for (int i = 0; i < CFI_NREGS; i++)
		if (!compile_rule(frame, i, &row->r[i]))
			goto out;
	row->kind = CFI_ROW_FAST;
out:
	free(frame);
}

const struct cfi_row *cfi_rows__get(struct cfi_rows *rows, uint64_t pc)
{
	struct cfi_row *row;
	uintptr_t v;

	if (!rows)
		return NULL;
	if (hashmap__find(rows->by_pc, pc, &v))
		return (const struct cfi_row *)v;
	row = malloc(sizeof(*row));
	if (!row)
		return NULL;
	compile_row(rows->dwfl, pc, row);
	if (hashmap__add(rows->by_pc, pc, (uintptr_t)row)) {
		free(row);
		return NULL;
	}
	return row;
}

int cfi_row__step(const struct cfi_row *row, const uint64_t *val, uint32_t valid, uint64_t *nval,
		  uint32_t *nvalid, cfi_read_fn read, void *ctx)
{
	uint64_t cfa, v;

	if (!(valid & 1U << row->cfa_reg))
		return -EINVAL;
	cfa = val[row->cfa_reg] + row->cfa_off;
	*nvalid = 0;
	for (int i = 0; i < CFI_NREGS; i++) {
		const struct cfi_rule *r = &row->r[i];
		int from = r->kind == CFI_RULE_SAME ? i : r->reg;

		switch (r->kind) {
		case CFI_RULE_UNDEF:
			continue;
		case CFI_RULE_SAME:
		case CFI_RULE_REG:
			if (!(valid & 1U << from))
				continue;
			v = val[from];
			break;
		case CFI_RULE_VAL_CFA:
			v = cfa + r->off;
			break;
		case CFI_RULE_AT_CFA:
			if (!read(cfa + r->off, &v, ctx))
				continue;
			break;
		default: /* CFI_RULE_AT_REG, CFI_RULE_VAL_REG */
			if (!(valid & 1U << r->reg))
				return -EINVAL;
			v = val[r->reg] + r->off;
			if (r->kind == CFI_RULE_AT_REG && !read(v, &v, ctx))
				continue;
			break;
		}
		nval[i] = v;
		*nvalid |= 1U << i;
	}
	return 0;
}
