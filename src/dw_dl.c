// SPDX-License-Identifier: GPL-2.0
/*
 * The libdw functions memtrace calls, forwarded to the library loaded at
 * run time (see include/dw_dl.h). Each loads the library on first use, as
 * dw_dl__open() does: a caller that never opened it (buildid.c under record,
 * session 6) would otherwise read "not loaded yet" as libdw's own failure.
 * Where it cannot be loaded they fail the way libdw documents failure (NULL,
 * -1, false).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include "dl_syms.h"
#include "dw_dl.h"
#include "log.h"

static struct {
	__typeof__(dwarf_cfi_addrframe) *dwarf_cfi_addrframe;
	__typeof__(dwarf_frame_cfa) *dwarf_frame_cfa;
	__typeof__(dwarf_frame_info) *dwarf_frame_info;
	__typeof__(dwarf_frame_register) *dwarf_frame_register;
	__typeof__(dwarf_getsrc_die) *dwarf_getsrc_die;
	__typeof__(dwarf_lineno) *dwarf_lineno;
	__typeof__(dwarf_linesrc) *dwarf_linesrc;
	__typeof__(dwarf_nextcu) *dwarf_nextcu;
	__typeof__(dwarf_offdie) *dwarf_offdie;
	__typeof__(dwarf_ranges) *dwarf_ranges;
	__typeof__(dwelf_elf_gnu_build_id) *dwelf_elf_gnu_build_id;
	__typeof__(dwfl_addrmodule) *dwfl_addrmodule;
	__typeof__(dwfl_attach_state) *dwfl_attach_state;
	__typeof__(dwfl_begin) *dwfl_begin;
	__typeof__(dwfl_build_id_find_elf) *dwfl_build_id_find_elf;
	__typeof__(dwfl_end) *dwfl_end;
	__typeof__(dwfl_errmsg) *dwfl_errmsg;
	__typeof__(dwfl_frame_pc) *dwfl_frame_pc;
	__typeof__(dwfl_getthread_frames) *dwfl_getthread_frames;
	__typeof__(dwfl_lineinfo) *dwfl_lineinfo;
	__typeof__(dwfl_linux_proc_find_elf) *dwfl_linux_proc_find_elf;
	__typeof__(dwfl_linux_proc_report) *dwfl_linux_proc_report;
	__typeof__(dwfl_module_addrinfo) *dwfl_module_addrinfo;
	__typeof__(dwfl_module_build_id) *dwfl_module_build_id;
	__typeof__(dwfl_module_dwarf_cfi) *dwfl_module_dwarf_cfi;
	__typeof__(dwfl_module_eh_cfi) *dwfl_module_eh_cfi;
	__typeof__(dwfl_module_getdwarf) *dwfl_module_getdwarf;
	__typeof__(dwfl_module_getelf) *dwfl_module_getelf;
	__typeof__(dwfl_module_getsrc) *dwfl_module_getsrc;
	__typeof__(dwfl_module_getsym_info) *dwfl_module_getsym_info;
	__typeof__(dwfl_module_getsymtab) *dwfl_module_getsymtab;
	__typeof__(dwfl_offline_section_address) *dwfl_offline_section_address;
	__typeof__(dwfl_report_begin) *dwfl_report_begin;
	__typeof__(dwfl_report_elf) *dwfl_report_elf;
	__typeof__(dwfl_report_end) *dwfl_report_end;
	__typeof__(dwfl_report_offline) *dwfl_report_offline;
	__typeof__(dwfl_standard_find_debuginfo) *dwfl_standard_find_debuginfo;
	__typeof__(dwfl_thread_state_register_pc) *dwfl_thread_state_register_pc;
	__typeof__(dwfl_thread_state_registers) *dwfl_thread_state_registers;
} dw;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int open_err = -ENOENT;

static void load(void)
{
	static const struct dl_sym syms[] = {
		{ "dwarf_cfi_addrframe", (void **)&dw.dwarf_cfi_addrframe },
		{ "dwarf_frame_cfa", (void **)&dw.dwarf_frame_cfa },
		{ "dwarf_frame_info", (void **)&dw.dwarf_frame_info },
		{ "dwarf_frame_register", (void **)&dw.dwarf_frame_register },
		{ "dwarf_getsrc_die", (void **)&dw.dwarf_getsrc_die },
		{ "dwarf_lineno", (void **)&dw.dwarf_lineno },
		{ "dwarf_linesrc", (void **)&dw.dwarf_linesrc },
		{ "dwarf_nextcu", (void **)&dw.dwarf_nextcu },
		{ "dwarf_offdie", (void **)&dw.dwarf_offdie },
		{ "dwarf_ranges", (void **)&dw.dwarf_ranges },
		{ "dwelf_elf_gnu_build_id", (void **)&dw.dwelf_elf_gnu_build_id },
		{ "dwfl_addrmodule", (void **)&dw.dwfl_addrmodule },
		{ "dwfl_attach_state", (void **)&dw.dwfl_attach_state },
		{ "dwfl_begin", (void **)&dw.dwfl_begin },
		{ "dwfl_build_id_find_elf", (void **)&dw.dwfl_build_id_find_elf },
		{ "dwfl_end", (void **)&dw.dwfl_end },
		{ "dwfl_errmsg", (void **)&dw.dwfl_errmsg },
		{ "dwfl_frame_pc", (void **)&dw.dwfl_frame_pc },
		{ "dwfl_getthread_frames", (void **)&dw.dwfl_getthread_frames },
		{ "dwfl_lineinfo", (void **)&dw.dwfl_lineinfo },
		{ "dwfl_linux_proc_find_elf", (void **)&dw.dwfl_linux_proc_find_elf },
		{ "dwfl_linux_proc_report", (void **)&dw.dwfl_linux_proc_report },
		{ "dwfl_module_addrinfo", (void **)&dw.dwfl_module_addrinfo },
		{ "dwfl_module_build_id", (void **)&dw.dwfl_module_build_id },
		{ "dwfl_module_dwarf_cfi", (void **)&dw.dwfl_module_dwarf_cfi },
		{ "dwfl_module_eh_cfi", (void **)&dw.dwfl_module_eh_cfi },
		{ "dwfl_module_getdwarf", (void **)&dw.dwfl_module_getdwarf },
		{ "dwfl_module_getelf", (void **)&dw.dwfl_module_getelf },
		{ "dwfl_module_getsrc", (void **)&dw.dwfl_module_getsrc },
		{ "dwfl_module_getsym_info", (void **)&dw.dwfl_module_getsym_info },
		{ "dwfl_module_getsymtab", (void **)&dw.dwfl_module_getsymtab },
		{ "dwfl_offline_section_address", (void **)&dw.dwfl_offline_section_address },
		{ "dwfl_report_begin", (void **)&dw.dwfl_report_begin },
		{ "dwfl_report_elf", (void **)&dw.dwfl_report_elf },
		{ "dwfl_report_end", (void **)&dw.dwfl_report_end },
		{ "dwfl_report_offline", (void **)&dw.dwfl_report_offline },
		{ "dwfl_standard_find_debuginfo", (void **)&dw.dwfl_standard_find_debuginfo },
		{ "dwfl_thread_state_register_pc", (void **)&dw.dwfl_thread_state_register_pc },
		{ "dwfl_thread_state_registers", (void **)&dw.dwfl_thread_state_registers },
	};
	char why[256];

	if (dl_syms__load(DW_SONAME, syms, sizeof(syms) / sizeof(syms[0]), why, sizeof(why))) {
		mt_err("cannot load %s: %s (install Debian's libdw1)", DW_SONAME, why);
		return; /* the command fails on this error */
	}
	open_err = 0;
}

/* Whether the library is loaded, loading it the first time; errno is kept. */
static bool loaded(void)
{
	int saved = errno;

	pthread_once(&once, load);
	errno = saved;
	return !open_err;
}

int dw_dl__open(void)
{
	pthread_once(&once, load);
	if (open_err)
		errno = -open_err;
	return open_err;
}

int dwarf_cfi_addrframe(Dwarf_CFI *cache, Dwarf_Addr address, Dwarf_Frame **frame)
{
	return loaded() ? dw.dwarf_cfi_addrframe(cache, address, frame) : -1;
}

int dwarf_frame_cfa(Dwarf_Frame *frame, Dwarf_Op **ops, size_t *nops)
{
	return loaded() ? dw.dwarf_frame_cfa(frame, ops, nops) : -1;
}

int dwarf_frame_info(Dwarf_Frame *frame, Dwarf_Addr *start, Dwarf_Addr *end, bool *signalp)
{
	return loaded() ? dw.dwarf_frame_info(frame, start, end, signalp) : -1;
}

int dwarf_frame_register(Dwarf_Frame *frame, int regno, Dwarf_Op ops_mem[3], Dwarf_Op **ops,
			 size_t *nops)
{
	return loaded() ? dw.dwarf_frame_register(frame, regno, ops_mem, ops, nops) : -1;
}

Dwarf_Line *dwarf_getsrc_die(Dwarf_Die *cudie, Dwarf_Addr addr)
{
	return loaded() ? dw.dwarf_getsrc_die(cudie, addr) : NULL;
}

int dwarf_lineno(Dwarf_Line *line, int *linep)
{
	return loaded() ? dw.dwarf_lineno(line, linep) : -1;
}

const char *dwarf_linesrc(Dwarf_Line *line, Dwarf_Word *mtime, Dwarf_Word *length)
{
	return loaded() ? dw.dwarf_linesrc(line, mtime, length) : NULL;
}

int dwarf_nextcu(Dwarf *dwarf, Dwarf_Off off, Dwarf_Off *next_off, size_t *header_sizep,
		 Dwarf_Off *abbrev_offsetp, uint8_t *address_sizep, uint8_t *offset_sizep)
{
	return loaded() ? dw.dwarf_nextcu(dwarf, off, next_off, header_sizep, abbrev_offsetp,
					  address_sizep, offset_sizep)
			: -1;
}

Dwarf_Die *dwarf_offdie(Dwarf *dbg, Dwarf_Off offset, Dwarf_Die *result)
{
	return loaded() ? dw.dwarf_offdie(dbg, offset, result) : NULL;
}

ptrdiff_t dwarf_ranges(Dwarf_Die *die, ptrdiff_t offset, Dwarf_Addr *basep, Dwarf_Addr *startp,
		       Dwarf_Addr *endp)
{
	return loaded() ? dw.dwarf_ranges(die, offset, basep, startp, endp) : -1;
}

ssize_t dwelf_elf_gnu_build_id(Elf *elf, const void **build_idp)
{
	return loaded() ? dw.dwelf_elf_gnu_build_id(elf, build_idp) : -1;
}

Dwfl_Module *dwfl_addrmodule(Dwfl *dwfl, Dwarf_Addr address)
{
	return loaded() ? dw.dwfl_addrmodule(dwfl, address) : NULL;
}

bool dwfl_attach_state(Dwfl *dwfl, Elf *elf, pid_t pid,
		       const Dwfl_Thread_Callbacks *thread_callbacks, void *dwfl_arg)
{
	return loaded() ? dw.dwfl_attach_state(dwfl, elf, pid, thread_callbacks, dwfl_arg) : false;
}

Dwfl *dwfl_begin(const Dwfl_Callbacks *callbacks)
{
	return loaded() ? dw.dwfl_begin(callbacks) : NULL;
}

int dwfl_build_id_find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			   char **file_name, Elf **elfp)
{
	return loaded() ? dw.dwfl_build_id_find_elf(mod, userdata, modname, base, file_name, elfp)
			: -1;
}

void dwfl_end(Dwfl *dwfl)
{
	if (loaded())
		dw.dwfl_end(dwfl);
}

const char *dwfl_errmsg(int err)
{
	return loaded() ? dw.dwfl_errmsg(err) : "libdw is not loaded";
}

bool dwfl_frame_pc(Dwfl_Frame *state, Dwarf_Addr *pc, bool *isactivation)
{
	return loaded() ? dw.dwfl_frame_pc(state, pc, isactivation) : false;
}

int dwfl_getthread_frames(Dwfl *dwfl, pid_t tid, int (*callback)(Dwfl_Frame *thread, void *arg),
			  void *arg)
{
	return loaded() ? dw.dwfl_getthread_frames(dwfl, tid, callback, arg) : -1;
}

const char *dwfl_lineinfo(Dwfl_Line *line, Dwarf_Addr *addr, int *linep, int *colp,
			  Dwarf_Word *mtime, Dwarf_Word *length)
{
	return loaded() ? dw.dwfl_lineinfo(line, addr, linep, colp, mtime, length) : NULL;
}

/* these two for tests/unit/test_cfi_rows.c, which reports its own process */
int dwfl_linux_proc_find_elf(Dwfl_Module *mod, void **userdata, const char *module_name,
			     Dwarf_Addr base, char **file_name, Elf **elfp)
{
	return loaded()
		   ? dw.dwfl_linux_proc_find_elf(mod, userdata, module_name, base, file_name, elfp)
		   : -1;
}

int dwfl_linux_proc_report(Dwfl *dwfl, pid_t pid)
{
	return loaded() ? dw.dwfl_linux_proc_report(dwfl, pid) : -1;
}

const char *dwfl_module_addrinfo(Dwfl_Module *mod, GElf_Addr address, GElf_Off *offset,
				 GElf_Sym *sym, GElf_Word *shndxp, Elf **elfp, Dwarf_Addr *bias)
{
	return loaded() ? dw.dwfl_module_addrinfo(mod, address, offset, sym, shndxp, elfp, bias)
			: NULL;
}

int dwfl_module_build_id(Dwfl_Module *mod, const unsigned char **bits, GElf_Addr *vaddr)
{
	return loaded() ? dw.dwfl_module_build_id(mod, bits, vaddr) : -1;
}

Dwarf_CFI *dwfl_module_dwarf_cfi(Dwfl_Module *mod, Dwarf_Addr *bias)
{
	return loaded() ? dw.dwfl_module_dwarf_cfi(mod, bias) : NULL;
}

Dwarf_CFI *dwfl_module_eh_cfi(Dwfl_Module *mod, Dwarf_Addr *bias)
{
	return loaded() ? dw.dwfl_module_eh_cfi(mod, bias) : NULL;
}

Dwarf *dwfl_module_getdwarf(Dwfl_Module *mod, Dwarf_Addr *bias)
{
	return loaded() ? dw.dwfl_module_getdwarf(mod, bias) : NULL;
}

Elf *dwfl_module_getelf(Dwfl_Module *mod, GElf_Addr *bias)
{
	return loaded() ? dw.dwfl_module_getelf(mod, bias) : NULL;
}

Dwfl_Line *dwfl_module_getsrc(Dwfl_Module *mod, Dwarf_Addr addr)
{
	return loaded() ? dw.dwfl_module_getsrc(mod, addr) : NULL;
}

const char *dwfl_module_getsym_info(Dwfl_Module *mod, int ndx, GElf_Sym *sym, GElf_Addr *addr,
				    GElf_Word *shndxp, Elf **elfp, Dwarf_Addr *bias)
{
	return loaded() ? dw.dwfl_module_getsym_info(mod, ndx, sym, addr, shndxp, elfp, bias)
			: NULL;
}

int dwfl_module_getsymtab(Dwfl_Module *mod)
{
	return loaded() ? dw.dwfl_module_getsymtab(mod) : -1;
}

int dwfl_offline_section_address(Dwfl_Module *mod, void **userdata, const char *modname,
				 Dwarf_Addr base, const char *secname, GElf_Word shndx,
				 const GElf_Shdr *shdr, Dwarf_Addr *addr)
{
	return loaded() ? dw.dwfl_offline_section_address(mod, userdata, modname, base, secname,
							  shndx, shdr, addr)
			: -1;
}

void dwfl_report_begin(Dwfl *dwfl)
{
	if (loaded())
		dw.dwfl_report_begin(dwfl);
}

Dwfl_Module *dwfl_report_elf(Dwfl *dwfl, const char *name, const char *file_name, int fd,
			     GElf_Addr base, bool add_p_vaddr)
{
	return loaded() ? dw.dwfl_report_elf(dwfl, name, file_name, fd, base, add_p_vaddr) : NULL;
}

int dwfl_report_end(Dwfl *dwfl,
		    int (*removed)(Dwfl_Module *, void *, const char *, Dwarf_Addr, void *arg),
		    void *arg)
{
	return loaded() ? dw.dwfl_report_end(dwfl, removed, arg) : -1;
}

Dwfl_Module *dwfl_report_offline(Dwfl *dwfl, const char *name, const char *file_name, int fd)
{
	return loaded() ? dw.dwfl_report_offline(dwfl, name, file_name, fd) : NULL;
}

int dwfl_standard_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
				 Dwarf_Addr base, const char *file_name, const char *debuglink_file,
				 GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	return loaded() ? dw.dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name,
							  debuglink_file, debuglink_crc,
							  debuginfo_file_name)
			: -1;
}

void dwfl_thread_state_register_pc(Dwfl_Thread *thread, Dwarf_Word pc)
{
	if (loaded())
		dw.dwfl_thread_state_register_pc(thread, pc);
}

bool dwfl_thread_state_registers(Dwfl_Thread *thread, int firstreg, unsigned nregs,
				 const Dwarf_Word *regs)
{
	return loaded() ? dw.dwfl_thread_state_registers(thread, firstreg, nregs, regs) : false;
}
