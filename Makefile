# SPDX-License-Identifier: GPL-2.0
# memtrace build: out of tree into $(OUTPUT), libbpf-bootstrap's shape.
#   make            build build/memtrace
#   make test       build and run every test (BPF tests need root), the
#                   kernel matrix in qemu included
#   make vmtest     only the kernel matrix (ARCH=arm64: cross build into
#                   build/arm64, run in arm64 guests; tests/vm/README.md)
#   make demo       set up, build and trace the bundled demo workload
#   make V=1        show full commands

CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
PKG_CONFIG ?= pkg-config

HOST_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
		-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')
ARCH := $(HOST_ARCH)
VMLINUX_DIR := vmlinux/$(ARCH)

# ARCH=arm64 on another machine: a cross build (Debian's gcc-aarch64-linux-gnu)
# against the Debian arm64 userland that tests/vm/userland.sh keeps, into
# build/arm64. A CC or OUTPUT given on the command line still wins.
ifneq ($(ARCH),$(HOST_ARCH))
CROSS_arm64 := aarch64-linux-gnu
CROSS := $(CROSS_$(ARCH))
ifeq ($(CROSS),)
$(error no cross build for ARCH=$(ARCH) (arm64))
endif
OUTPUT ?= build/$(ARCH)
VM_CACHE := $(OUTPUT)/vm/cache-$(ARCH)
SYSROOT ?= $(abspath $(VM_CACHE)/sysroot)
CC := $(CROSS)-gcc --sysroot=$(SYSROOT)
CXX := $(CROSS)-g++ --sysroot=$(SYSROOT)
CLANG_TARGET := --target=$(CROSS) --sysroot=$(SYSROOT)
PKG_CONFIG := env PKG_CONFIG_SYSROOT_DIR=$(SYSROOT) \
	PKG_CONFIG_LIBDIR=$(SYSROOT)/usr/lib/$(CROSS)/pkgconfig:$(SYSROOT)/usr/share/pkgconfig pkg-config
endif
OUTPUT ?= build

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARNINGS := -Wall -Wextra -Wshadow -Wformat-security -Wmissing-prototypes \
	    -Wno-unused-parameter -Wno-missing-field-initializers
ifneq ($(filter 1 true,$(WERROR) $(CI)),)
WARNINGS += -Werror
endif

LIBS_PKG := libbpf libelf json-c zlib
# headers only: the commands that need them dlopen() these (include/mhd_dl.h,
# dw_dl.h and curses_dl.h say why)
DL_PKG := libdw ncurses libmicrohttpd libcrypt
CFLAGS ?= -g -O2
ALL_CFLAGS := $(CFLAGS) $(WARNINGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -I$(OUTPUT) \
	      $(shell $(PKG_CONFIG) --cflags $(LIBS_PKG) $(DL_PKG) 2>/dev/null)
LDLIBS := $(shell $(PKG_CONFIG) --libs $(LIBS_PKG) 2>/dev/null || echo -lbpf -lelf -ljson-c -lz) -liberty -lpthread -ldl

# The BPF side sees the same include/ (shared ABI headers) and the arch's
# vmlinux.h; -g keeps BTF for CO-RE relocations.
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
	      -I$(VMLINUX_DIR) -Iinclude -Ibpf -Wall -Wno-unused-function

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

SRCS := $(wildcard src/*.c)
OBJS := $(patsubst src/%.c,$(OUTPUT)/obj/%.o,$(SRCS))
LIB_OBJS := $(filter-out $(OUTPUT)/obj/main.o,$(OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/unit/%,$(UNIT_SRCS))
BPFTEST_SRCS := $(wildcard tests/bpf/test_*.c)
BPFTEST_BINS := $(patsubst tests/bpf/%.c,$(OUTPUT)/tests/bpf/%,$(BPFTEST_SRCS))
WORKLOAD_SRCS := $(wildcard tests/workloads/*.c)
WORKLOAD_BINS := $(patsubst tests/workloads/%.c,$(OUTPUT)/tests/workloads/%,$(WORKLOAD_SRCS)) \
		 $(OUTPUT)/tests/workloads/cxx_nofp $(OUTPUT)/tests/workloads/libchain_nofp.so
PRELOAD_LIB := libmemtrace-preload.so
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(OUTPUT)/bench/%,$(BENCH_SRCS))

.DELETE_ON_ERROR:
# the skeletons too: make deleted them as intermediates, so the next make rebuilt every object
.SECONDARY: $(BPF_OBJS) $(SKELS)
.PHONY: all deps test run-tests unit-tests vmtest vmtest-build demo bench clean check-vmlinux format \
	sanitize sanitize-tests fuzz install uninstall

all: $(OUTPUT)/memtrace $(OUTPUT)/$(PRELOAD_LIB)

deps:
	$(Q)./scripts/setup-deps.sh

check-vmlinux:
	$(Q)test -f $(VMLINUX_DIR)/vmlinux.h || { \
		echo "no $(VMLINUX_DIR)/vmlinux.h for arch '$(ARCH)': run scripts/gen-vmlinux.sh on a kernel with BTF" >&2; \
		exit 1; }

$(OUTPUT) $(OUTPUT)/bpf $(OUTPUT)/obj $(OUTPUT)/tests/unit $(OUTPUT)/tests/bpf \
$(OUTPUT)/tests/workloads $(OUTPUT)/bench:
	$(Q)mkdir -p $@

$(OUTPUT)/bpf/%.bpf.o: bpf/%.bpf.c | $(OUTPUT)/bpf check-vmlinux
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# Every user object may include any skeleton; -MMD then narrows rebuilds
# to the headers each file really includes.
$(OUTPUT)/obj/%.o: src/%.c $(SKELS) | $(OUTPUT)/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/memtrace: $(OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(LDLIBS) -o $@

# The allocator interposer of record --malloc -- CMD, LD_PRELOADed into the
# traced programs: found beside memtrace (here) or in ../lib/memtrace/ (make
# install). Frame pointers: its hooks read their return address from them.
# Never $(CFLAGS): a sanitizer runtime cannot be preloaded into other programs.
$(OUTPUT)/$(PRELOAD_LIB): src/preload/memtrace_preload.c include/preload.h | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) -g -O2 -fno-omit-frame-pointer -fPIC -shared -fvisibility=hidden $(WARNINGS) \
		-std=gnu11 -D_GNU_SOURCE -Iinclude -MMD -MP $< -o $@ -ldl -lpthread

# -lcrypt: test_serve makes its own hashes (memtrace loads libcrypt at run time)
$(OUTPUT)/tests/unit/%: tests/unit/%.c $(LIB_OBJS) | $(OUTPUT)/tests/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -MMD -MP $< $(LIB_OBJS) $(LDLIBS) -lcrypt -lcmocka -o $@

# The unwinder's known chain is built without frame pointers, as Debian
# builds its binaries, so only CFI can walk it.
$(OUTPUT)/tests/unit/unwind_chain.o: tests/unit/unwind_chain.c | $(OUTPUT)/tests/unit
	$(call msg,CC,$@)
	$(Q)$(CC) -g -O2 -fomit-frame-pointer $(WARNINGS) -Iinclude -Itests -Itests/unit -MMD -MP -c $< -o $@

# The symbolizer's C++ (g++) and clang-built (no .debug_aranges) functions.
$(OUTPUT)/tests/unit/symbolize_cxx.o: tests/unit/symbolize_cxx.cc | $(OUTPUT)/tests/unit
	$(call msg,CXX,$@)
	$(Q)$(CXX) -g -O2 -fno-exceptions -fno-rtti -MMD -MP -c $< -o $@

$(OUTPUT)/tests/unit/symbolize_clang.o: tests/unit/symbolize_clang.c | $(OUTPUT)/tests/unit
	$(call msg,CLANG,$@)
	$(Q)$(CLANG) $(CLANG_TARGET) -g -O2 -MMD -MP -c $< -o $@

SYM_OBJS := $(OUTPUT)/tests/unit/symbolize_cxx.o $(OUTPUT)/tests/unit/symbolize_clang.o
$(OUTPUT)/tests/unit/test_symbolize: tests/unit/test_symbolize.c $(SYM_OBJS) $(LIB_OBJS) \
		| $(OUTPUT)/tests/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -MMD -MP $< $(SYM_OBJS) $(LIB_OBJS) $(LDLIBS) -lcmocka -o $@

CHAIN_TESTS := $(OUTPUT)/tests/unit/test_unwind $(OUTPUT)/tests/unit/test_profile \
	$(OUTPUT)/tests/unit/test_mpeak
$(CHAIN_TESTS): $(OUTPUT)/tests/unit/%: tests/unit/%.c $(OUTPUT)/tests/unit/unwind_chain.o \
		$(LIB_OBJS) | $(OUTPUT)/tests/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -Itests/unit -MMD -MP $< $(OUTPUT)/tests/unit/unwind_chain.o \
		$(LIB_OBJS) $(LDLIBS) -lcmocka -o $@

$(OUTPUT)/tests/bpf/%: tests/bpf/%.c $(LIB_OBJS) $(SKELS) | $(OUTPUT)/tests/bpf
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -MMD -MP $< $(LIB_OBJS) $(LDLIBS) -lcmocka -o $@

# Workloads have answers known in advance; frame pointers keep their stacks
# walkable, -O1 keeps the named functions from being merged away.
WORKLOAD_CC ?= $(CC)
$(OUTPUT)/tests/workloads/%: tests/workloads/%.c | $(OUTPUT)/tests/workloads
	$(call msg,CC,$@)
	$(Q)$(WORKLOAD_CC) -g -O1 -fno-omit-frame-pointer -fno-inline $(WARNINGS) -MMD -MP $< -o $@

# writes recordings with the library's writer; no frame pointers, as Debian builds
$(OUTPUT)/bench/ustack_synth: bench/ustack_synth.c $(LIB_OBJS) | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) -g -O2 -fomit-frame-pointer $(WARNINGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -Itests -MMD -MP \
		$< $(LIB_OBJS) $(LDLIBS) -o $@

$(OUTPUT)/bench/unwind_check: bench/unwind_check.c $(LIB_OBJS) | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) -g -O2 $(WARNINGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -MMD -MP \
		$< $(LIB_OBJS) $(LDLIBS) -o $@

# ..._nofp workloads are built as most binaries are: -O2 without frame
# pointers, so only CFI unwinds them (record --unwind dwarf, the default).
NOFP_FLAGS := -g -O2 -fomit-frame-pointer $(WARNINGS)

$(OUTPUT)/tests/workloads/libchain_nofp.so: tests/workloads/lib/chain_nofp.c | $(OUTPUT)/tests/workloads
	$(call msg,CC,$@)
	$(Q)$(WORKLOAD_CC) $(NOFP_FLAGS) -fPIC -shared -MMD -MP $< -o $@

$(OUTPUT)/tests/workloads/%_nofp: tests/workloads/%_nofp.c $(OUTPUT)/tests/workloads/libchain_nofp.so | $(OUTPUT)/tests/workloads
	$(call msg,CC,$@)
	$(Q)$(WORKLOAD_CC) $(NOFP_FLAGS) -MMD -MP $< -L$(OUTPUT)/tests/workloads -lchain_nofp \
		-Wl,-rpath,'$$ORIGIN' -o $@

$(OUTPUT)/tests/workloads/cxx_nofp: tests/workloads/cxx_nofp.cc | $(OUTPUT)/tests/workloads
	$(call msg,CXX,$@)
	$(Q)$(CXX) -g -O2 -fomit-frame-pointer -Wall -Wextra -MMD -MP $< -o $@

$(OUTPUT)/bench/%: bench/%.c | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) -g -O2 $(WARNINGS) -D_GNU_SOURCE -MMD -MP $< $(LDLIBS) -o $@

# make install [PREFIX=/usr/local] [DESTDIR=staging]: the binary, the man
# pages, bash completion and the systemd unit for memtrace serve (its
# ExecStart names the installed binary).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
UNITDIR ?= $(PREFIX)/lib/systemd/system
MAN_PAGES := $(wildcard man/*.8)
# memtrace looks for the interposer in ../lib/memtrace/ from its own directory
PRELOADDIR ?= $(BINDIR)/../lib/memtrace

install: $(OUTPUT)/memtrace $(OUTPUT)/$(PRELOAD_LIB)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -D -m 0755 $(OUTPUT)/memtrace $(DESTDIR)$(BINDIR)/memtrace
	$(Q)install -D -m 0644 $(OUTPUT)/$(PRELOAD_LIB) $(DESTDIR)$(PRELOADDIR)/$(PRELOAD_LIB)
	$(Q)install -d $(DESTDIR)$(MANDIR)/man8
	$(Q)install -m 0644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man8/
	$(Q)install -D -m 0644 completions/memtrace.bash $(DESTDIR)$(BASHCOMPDIR)/memtrace
	$(Q)install -d $(DESTDIR)$(UNITDIR)
	$(Q)sed 's|@BINDIR@|$(BINDIR)|g' packaging/memtrace-serve.service.in \
		>$(DESTDIR)$(UNITDIR)/memtrace-serve.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/memtrace-serve.service

uninstall:
	$(Q)rm -f $(DESTDIR)$(BINDIR)/memtrace $(DESTDIR)$(BASHCOMPDIR)/memtrace \
		$(DESTDIR)$(UNITDIR)/memtrace-serve.service $(DESTDIR)$(PRELOADDIR)/$(PRELOAD_LIB) \
		$(patsubst man/%,$(DESTDIR)$(MANDIR)/man8/%,$(MAN_PAGES))

# The fault-loop floor for bench_top.sh: two empty BTF tracepoint programs.
# The syscall floors: an empty sys_exit program, and empty sys_enter + sys_exit.
EMPTY_BPF_OBJS := $(patsubst bench/bpf/%.bpf.c,$(OUTPUT)/bench/%.bpf.o,$(wildcard bench/bpf/*.bpf.c))

$(OUTPUT)/bench/%.bpf.o: bench/bpf/%.bpf.c | $(OUTPUT)/bench check-vmlinux
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/bench/empty_hooks: bench/empty_hooks.c $(EMPTY_BPF_OBJS) | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) -g -O2 $(WARNINGS) -MMD -MP $< $(LDLIBS) -o $@

# test and demo install missing Debian packages first, then build with
# the flags pkg-config gives once they are there (hence the sub-make).
# test then runs the suites again under ASan+UBSan and the fuzzers briefly.
test: deps
	$(Q)$(MAKE) --no-print-directory run-tests
	$(Q)$(MAKE) --no-print-directory sanitize
	$(Q)$(MAKE) --no-print-directory fuzz

# ---- sanitizers: clang, ASan + UBSan, a finding fails the run ----
# Everything is built again into its own tree; reports go to stderr and the
# process exits at the first one (halt_on_error, -fno-sanitize-recover), so
# a finding fails the test that ran it.
SAN_OUTPUT ?= build-san
SAN_CFLAGS := -g -gdwarf-aranges -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	      -fno-sanitize-recover=all
SAN_ENV := ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1:exitcode=99 \
	   UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=98
SAN_SUITES ?= unit bpf cli
# CLI scripts whose checks do not lean on timing: ASan slows memtrace several
# times, and the other scripts' fixed sleeps and time limits are not for it.
SAN_CLI_TESTS ?= tests/cli/test_safety.sh tests/cli/test_docs.sh

# The workloads stay built by $(CC) as users build their programs: the tests
# read their DWARF as the report would.
sanitize:
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(SAN_OUTPUT) CC=$(CLANG) CFLAGS="$(SAN_CFLAGS)" \
		WORKLOAD_CC=$(CC) sanitize-tests

sanitize-tests: $(OUTPUT)/memtrace $(OUTPUT)/$(PRELOAD_LIB) $(UNIT_BINS) $(BPFTEST_BINS) $(WORKLOAD_BINS)
	$(Q)$(SAN_ENV) CLI_TESTS="$(SAN_CLI_TESTS)" OUTPUT=$(OUTPUT) ./tests/run-tests.sh $(SAN_SUITES)

# ---- libFuzzer: each parser of untrusted text, briefly, from a seed corpus ----
# Seeds are the unit tests' fixtures (tests/fixtures) and tests/fuzz/seeds;
# the corpus grows in $(OUTPUT)/fuzz, never in the tree.
FUZZ_TIME ?= 8
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	       -std=gnu11 -D_GNU_SOURCE -Iinclude
FUZZ_NAMES := recording smaps proc_status proc_stat units perfmap preload
FUZZ_BINS := $(patsubst %,$(OUTPUT)/fuzz/fuzz_%,$(FUZZ_NAMES))
fuzz_srcs_recording := src/recording.c src/outfile.c
fuzz_srcs_smaps := src/smaps.c src/procfs.c
fuzz_srcs_proc_status := src/procfs.c
fuzz_srcs_proc_stat := src/procfs.c
fuzz_srcs_units := src/units.c
fuzz_srcs_perfmap := src/perfmap.c src/sanitize.c src/untrusted.c src/procfs.c
fuzz_srcs_preload := src/preload.c src/hashmap.c
fuzz_libs_preload := -lelf
fuzz_seeds_recording := $(wildcard tests/fixtures/*.data tests/fuzz/seeds/recording/*)
fuzz_seeds_smaps := $(wildcard tests/fixtures/smaps_*)
fuzz_seeds_proc_status := $(wildcard tests/fixtures/status_* tests/fuzz/seeds/proc_status/*)
fuzz_seeds_proc_stat := $(wildcard tests/fixtures/stat_*)
fuzz_seeds_units := $(wildcard tests/fuzz/seeds/units/*)
fuzz_seeds_perfmap := $(wildcard tests/fuzz/seeds/perfmap/*)
fuzz_seeds_preload := $(wildcard tests/fuzz/seeds/preload/*)

$(OUTPUT)/fuzz:
	$(Q)mkdir -p $@

.SECONDEXPANSION:
$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(fuzz_srcs_$$*) | $(OUTPUT)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $^ $(fuzz_libs_$*) -o $@

fuzz: $(FUZZ_BINS)
	$(Q)fail=0; for n in $(FUZZ_NAMES); do \
		c=$(OUTPUT)/fuzz/corpus-$$n; mkdir -p $$c; \
		case $$n in \
		recording) seeds="$(fuzz_seeds_recording)";; smaps) seeds="$(fuzz_seeds_smaps)";; \
		proc_status) seeds="$(fuzz_seeds_proc_status)";; proc_stat) seeds="$(fuzz_seeds_proc_stat)";; \
		units) seeds="$(fuzz_seeds_units)";; perfmap) seeds="$(fuzz_seeds_perfmap)";; \
		preload) seeds="$(fuzz_seeds_preload)";; \
		esac; \
		[ -n "$$seeds" ] && cp $$seeds $$c/; \
		if $(OUTPUT)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_TIME) -max_len=65536 \
			-artifact_prefix=$(OUTPUT)/fuzz/$$n- $$c >$(OUTPUT)/fuzz/$$n.log 2>&1; then \
			echo "ok - fuzz_$$n: $$(grep -o 'Done [0-9]* runs' $(OUTPUT)/fuzz/$$n.log)"; \
		else \
			echo "not ok - fuzz_$$n found a crash:"; tail -30 $(OUTPUT)/fuzz/$$n.log; fail=1; \
		fi; \
	done; exit $$fail

run-tests: $(OUTPUT)/memtrace $(OUTPUT)/$(PRELOAD_LIB) $(UNIT_BINS) $(BPFTEST_BINS) $(WORKLOAD_BINS) \
		$(OUTPUT)/bench/ustack_synth
	$(Q)OUTPUT=$(OUTPUT) ./tests/run-tests.sh

# The guests run this very build over 9p (tests/vm/README.md). Another
# arch: its userland first, since the build's pkg-config flags come from
# its sysroot (hence the sub-make), then the cross build, then the guests.
vmtest-build: $(OUTPUT)/memtrace $(OUTPUT)/$(PRELOAD_LIB) $(UNIT_BINS) $(BPFTEST_BINS) $(WORKLOAD_BINS)
ifeq ($(ARCH),$(HOST_ARCH))
vmtest: vmtest-build
	$(Q)OUTPUT=$(OUTPUT) ARCH=$(ARCH) ./tests/vm/vmtest.sh
else
vmtest:
	$(Q)./tests/vm/userland.sh $(ARCH) $(VM_CACHE)
	$(Q)$(MAKE) --no-print-directory ARCH=$(ARCH) OUTPUT=$(OUTPUT) vmtest-build
	$(Q)OUTPUT=$(OUTPUT) ARCH=$(ARCH) ./tests/vm/vmtest.sh
endif

unit-tests: $(UNIT_BINS)
	$(Q)OUTPUT=$(OUTPUT) ./tests/run-tests.sh unit

demo: deps
	$(Q)$(MAKE) --no-print-directory all $(WORKLOAD_BINS)
	$(Q)OUTPUT=$(OUTPUT) ./scripts/demo.sh

bench: $(OUTPUT)/memtrace $(OUTPUT)/$(PRELOAD_LIB) $(WORKLOAD_BINS) $(BENCH_BINS)
	$(Q)OUTPUT=$(OUTPUT) ./bench/run.sh

format:
	$(Q)clang-format -i $$(./scripts/format-files.sh)

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/bpf/*.d $(OUTPUT)/obj/*.d $(OUTPUT)/tests/*/*.d $(OUTPUT)/bench/*.d)
