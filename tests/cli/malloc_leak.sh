# SPDX-License-Identifier: GPL-2.0
# The leaking program that test_record.sh (--malloc through uprobes) and
# test_malloc.sh (through the interposer) record, with its five children
# (sourced, not run; needs $MEMTRACE):
#   leak_build DIR      # DIR/leak.c and DIR/leak (gcc -g -O1, frame
#                       # pointers): leak_some keeps 100 x 10000 bytes, main
#                       # frees its 100 x 5000 (nets to nothing); 1 without gcc
#   leak_children DIR OUT ERR [OPTION...]
#                       # record --malloc [OPTION...] -o OUT of a shell that
#                       # runs DIR/leak five times, stderr to ERR; its status
leak_build() {
	cat >"$1/leak.c" <<'C'
#include <stdlib.h>
#include <string.h>
__attribute__((noinline)) void *leak_some(size_t n)
{
	void *p = malloc(n);

	memset(p, 1, n);
	return p;
}
int main(void)
{
	for (int i = 0; i < 100; i++)
		leak_some(10000);
	for (int i = 0; i < 100; i++)
		free(malloc(5000)); /* freed: nets to nothing */
	return 0;
}
C
	gcc -g -O1 -fno-omit-frame-pointer -o "$1/leak" "$1/leak.c" 2>/dev/null
}
leak_children() {
	local dir=$1 out=$2 err=$3
	shift 3
	"$MEMTRACE" record -f -o "$out" --malloc "$@" -- sh -c \
		"for i in 1 2 3 4 5; do $dir/leak; done" >/dev/null 2>"$err"
}
