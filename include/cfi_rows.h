/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CFI rows of a Dwfl's modules, one per pc, as libdw gives them
 * (dwarf_cfi_addrframe, then dwarf_frame_cfa and dwarf_frame_register for
 * each register), kept in a compact form and applied without libdw: the
 * fast walk of src/unwind.c. A row takes only the rules libdw's own
 * unwinder applies the same way; any other (a DWARF expression, a signal
 * frame, a return address column other than 16) makes the row
 * CFI_ROW_SLOW, for libdw's walk. x86-64 registers (DWARF 0-16).
 */
#ifndef MEMTRACE_CFI_ROWS_H
#define MEMTRACE_CFI_ROWS_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stdint.h>

#define CFI_NREGS 17 /* x86-64 DWARF registers 0-16; 16 is the return address */

enum cfi_rule_kind {
	CFI_RULE_UNDEF,	  /* the caller's value cannot be recovered */
	CFI_RULE_SAME,	  /* unchanged */
	CFI_RULE_AT_CFA,  /* in memory at CFA + off */
	CFI_RULE_VAL_CFA, /* CFA + off */
	CFI_RULE_AT_REG,  /* in memory at reg + off */
	CFI_RULE_VAL_REG, /* reg + off */
	CFI_RULE_REG,	  /* in reg */
};

struct cfi_rule {
	uint8_t kind; /* enum cfi_rule_kind */
	uint8_t reg;
	int64_t off;
};

enum cfi_row_kind {
	CFI_ROW_FAST, /* rules below */
	CFI_ROW_NONE, /* no CFI covers the pc */
	CFI_ROW_SLOW, /* CFI that only libdw's walk applies */
};

struct cfi_row {
	uint8_t kind; /* enum cfi_row_kind */
	uint8_t cfa_reg;
	int64_t cfa_off; /* CFA = cfa_reg + cfa_off */
	struct cfi_rule r[CFI_NREGS];
};

struct cfi_rows;

/* dwfl must outlive the table. NULL with errno on failure. */
struct cfi_rows *cfi_rows__new(Dwfl *dwfl);
void cfi_rows__free(struct cfi_rows *rows);

/*
 * The row of pc (the address to look up: a return address minus one),
 * from the module's .eh_frame, else its .debug_frame, as libdw's unwinder
 * looks it up. Looked up once per pc. NULL when out of memory (or rows is
 * NULL).
 */
const struct cfi_row *cfi_rows__get(struct cfi_rows *rows, uint64_t pc);

/* Reads one word of the unwound process's memory; false when it cannot. */
typedef bool (*cfi_read_fn)(uint64_t addr, uint64_t *out, void *ctx);

/*
 * The caller's registers from a CFI_ROW_FAST row and the callee's
 * registers val (bit i of valid: val[i] is known), as libdw's unwinder
 * sets them: a register whose memory read fails is left unknown (bit
 * clear in *nvalid). -EINVAL when a rule needs a register that is not
 * known (libdw's walk tells what then).
 */
int cfi_row__step(const struct cfi_row *row, const uint64_t *val, uint32_t valid, uint64_t *nval,
		  uint32_t *nvalid, cfi_read_fn read, void *ctx);

#endif /* MEMTRACE_CFI_ROWS_H */
