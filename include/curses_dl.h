/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ncurses, loaded with dlopen() by top's terminal UI alone. Linked in, it
 * maps libncurses and libtinfo into every command (about 0.25 MiB of
 * `memtrace top --json`'s RSS, and start-up time: issue 14). src/curses_dl.c
 * defines the curses functions top_tui.c calls, each forwarding to the
 * library's own once it is loaded; top_tui.c includes <curses.h> with
 * NCURSES_NOMACROS, so that every call is a function (no macro reads
 * stdscr), and reads LINES, COLS and stdscr through the functions below.
 */
#ifndef MEMTRACE_CURSES_DL_H
#define MEMTRACE_CURSES_DL_H

#include <stddef.h>
#define NCURSES_NOMACROS
#include <curses.h>

/* Debian's libncurses6 (it pulls libtinfo6): the ABI <curses.h> describes */
#define CURSES_SONAME "libncurses.so.6"

/*
 * Loads the library once; later calls give the first answer. 0, or
 * -ENOENT with what the dynamic loader said in why (len bytes).
 */
int curses_dl__open(char *why, size_t len);

/* The library's LINES, COLS and stdscr; 0 and NULL before it is loaded. */
int curses_dl__lines(void);
int curses_dl__cols(void);
WINDOW *curses_dl__stdscr(void);

#endif /* MEMTRACE_CURSES_DL_H */
