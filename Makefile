# SPDX-License-Identifier: GPL-2.0
# memtrace build: out of tree into $(OUTPUT), libbpf-bootstrap's shape.
#   make            build build/memtrace
#   make test       build and run every test (BPF tests need root)
#   make demo       set up, build and trace the bundled demo workload
#   make V=1        show full commands

OUTPUT ?= build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
PKG_CONFIG ?= pkg-config

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
		-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')
VMLINUX_DIR := vmlinux/$(ARCH)

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

LIBS_PKG := libbpf libelf libdw json-c zlib
CFLAGS ?= -g -O2
ALL_CFLAGS := $(CFLAGS) $(WARNINGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -I$(OUTPUT) \
	      $(shell $(PKG_CONFIG) --cflags $(LIBS_PKG) 2>/dev/null)
LDLIBS := $(shell $(PKG_CONFIG) --libs $(LIBS_PKG) 2>/dev/null || echo -lbpf -lelf -ldw -ljson-c -lz) -lm -lpthread

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
WORKLOAD_BINS := $(patsubst tests/workloads/%.c,$(OUTPUT)/tests/workloads/%,$(WORKLOAD_SRCS))
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(OUTPUT)/bench/%,$(BENCH_SRCS))

.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS)
.PHONY: all deps test run-tests unit-tests demo bench clean check-vmlinux format

all: $(OUTPUT)/memtrace

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

$(OUTPUT)/tests/unit/%: tests/unit/%.c $(LIB_OBJS) | $(OUTPUT)/tests/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -MMD -MP $< $(LIB_OBJS) $(LDLIBS) -lcmocka -o $@

$(OUTPUT)/tests/bpf/%: tests/bpf/%.c $(LIB_OBJS) $(SKELS) | $(OUTPUT)/tests/bpf
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -MMD -MP $< $(LIB_OBJS) $(LDLIBS) -lcmocka -o $@

# Workloads have answers known in advance; frame pointers keep their stacks
# walkable, -O1 keeps the named functions from being merged away.
$(OUTPUT)/tests/workloads/%: tests/workloads/%.c | $(OUTPUT)/tests/workloads
	$(call msg,CC,$@)
	$(Q)$(CC) -g -O1 -fno-omit-frame-pointer -fno-inline $(WARNINGS) -MMD -MP $< -o $@

$(OUTPUT)/bench/%: bench/%.c | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) -g -O2 $(WARNINGS) -D_GNU_SOURCE -MMD -MP $< -lpthread -o $@

# The fault-loop floor for bench_top.sh: two empty BTF tracepoint programs.
$(OUTPUT)/bench/empty_hooks.bpf.o: bench/bpf/empty_hooks.bpf.c | $(OUTPUT)/bench check-vmlinux
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/bench/empty_hooks: bench/empty_hooks.c $(OUTPUT)/bench/empty_hooks.bpf.o | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) -g -O2 $(WARNINGS) -MMD -MP $< $(LDLIBS) -o $@

# test and demo install missing Debian packages first, then build with
# the flags pkg-config gives once they are there (hence the sub-make).
test: deps
	$(Q)$(MAKE) --no-print-directory run-tests

run-tests: $(OUTPUT)/memtrace $(UNIT_BINS) $(BPFTEST_BINS) $(WORKLOAD_BINS)
	$(Q)OUTPUT=$(OUTPUT) ./tests/run-tests.sh

unit-tests: $(UNIT_BINS)
	$(Q)OUTPUT=$(OUTPUT) ./tests/run-tests.sh unit

demo: deps
	$(Q)$(MAKE) --no-print-directory all $(WORKLOAD_BINS)
	$(Q)OUTPUT=$(OUTPUT) ./scripts/demo.sh

bench: $(OUTPUT)/memtrace $(WORKLOAD_BINS) $(BENCH_BINS)
	$(Q)OUTPUT=$(OUTPUT) ./bench/run.sh

format:
	$(Q)clang-format -i src/*.c include/*.h bpf/*.c bpf/*.h tests/*/*.c

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/bpf/*.d $(OUTPUT)/obj/*.d $(OUTPUT)/tests/*/*.d $(OUTPUT)/bench/*.d)
