// SPDX-License-Identifier: GPL-2.0
/*
 * The curses functions top_tui.c calls, forwarded to the library loaded at
 * run time (see include/curses_dl.h). Before curses_dl__open() succeeded
 * they fail the way curses documents failure (ERR, NULL).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "curses_dl.h"
#include "dl_syms.h"

static struct {
	__typeof__(attroff) *attroff;
	__typeof__(attron) *attron;
	__typeof__(cbreak) *cbreak;
	__typeof__(clrtoeol) *clrtoeol;
	__typeof__(curs_set) *curs_set;
	__typeof__(delscreen) *delscreen;
	__typeof__(endwin) *endwin;
	__typeof__(erase) *erase;
	__typeof__(getch) *getch;
	__typeof__(isendwin) *isendwin;
	__typeof__(keypad) *keypad;
	__typeof__(move) *move;
	__typeof__(mvaddnstr) *mvaddnstr;
	__typeof__(mvhline) *mvhline;
	__typeof__(newterm) *newterm;
	__typeof__(nodelay) *nodelay;
	__typeof__(noecho) *noecho;
	__typeof__(nonl) *nonl;
	__typeof__(refresh) *refresh;
	__typeof__(set_escdelay) *set_escdelay;
	int *lines, *cols;
	WINDOW **stdscr;
} cu;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int open_err = -ENOENT;
static char open_why[256] = "not loaded";

static void load(void)
{
	static const struct dl_sym syms[] = {
		{ "attroff", (void **)&cu.attroff },
		{ "attron", (void **)&cu.attron },
		{ "cbreak", (void **)&cu.cbreak },
		{ "clrtoeol", (void **)&cu.clrtoeol },
		{ "curs_set", (void **)&cu.curs_set },
		{ "delscreen", (void **)&cu.delscreen },
		{ "endwin", (void **)&cu.endwin },
		{ "erase", (void **)&cu.erase },
		{ "getch", (void **)&cu.getch },
		{ "isendwin", (void **)&cu.isendwin },
		{ "keypad", (void **)&cu.keypad },
		{ "move", (void **)&cu.move },
		{ "mvaddnstr", (void **)&cu.mvaddnstr },
		{ "mvhline", (void **)&cu.mvhline },
		{ "newterm", (void **)&cu.newterm },
		{ "nodelay", (void **)&cu.nodelay },
		{ "noecho", (void **)&cu.noecho },
		{ "nonl", (void **)&cu.nonl },
		{ "refresh", (void **)&cu.refresh },
		{ "set_escdelay", (void **)&cu.set_escdelay },
		{ "LINES", (void **)&cu.lines },
		{ "COLS", (void **)&cu.cols },
		{ "stdscr", (void **)&cu.stdscr },
	};
	if (dl_syms__load(CURSES_SONAME, syms, sizeof(syms) / sizeof(syms[0]), open_why,
			  sizeof(open_why)))
		return; /* top goes on without its UI */
	open_err = 0;
	open_why[0] = '\0';
}

int curses_dl__open(char *why, size_t len)
{
	pthread_once(&once, load);
	if (open_err && why && len)
		snprintf(why, len, "%s", open_why);
	return open_err;
}

int curses_dl__lines(void)
{
	return cu.lines ? *cu.lines : 0;
}

int curses_dl__cols(void)
{
	return cu.cols ? *cu.cols : 0;
}

WINDOW *curses_dl__stdscr(void)
{
	return cu.stdscr ? *cu.stdscr : NULL;
}

int attroff(NCURSES_ATTR_T attrs)
{
	return cu.attroff ? cu.attroff(attrs) : ERR;
}

int attron(NCURSES_ATTR_T attrs)
{
	return cu.attron ? cu.attron(attrs) : ERR;
}

int cbreak(void)
{
	return cu.cbreak ? cu.cbreak() : ERR;
}

int clrtoeol(void)
{
	return cu.clrtoeol ? cu.clrtoeol() : ERR;
}

int curs_set(int visibility)
{
	return cu.curs_set ? cu.curs_set(visibility) : ERR;
}

void delscreen(SCREEN *sp)
{
	if (cu.delscreen)
		cu.delscreen(sp);
}

int endwin(void)
{
	return cu.endwin ? cu.endwin() : ERR;
}

int erase(void)
{
	return cu.erase ? cu.erase() : ERR;
}

int getch(void)
{
	return cu.getch ? cu.getch() : ERR;
}

bool isendwin(void)
{
	return cu.isendwin ? cu.isendwin() : TRUE;
}

int keypad(WINDOW *win, bool bf)
{
	return cu.keypad ? cu.keypad(win, bf) : ERR;
}

int move(int y, int x)
{
	return cu.move ? cu.move(y, x) : ERR;
}

int mvaddnstr(int y, int x, const char *str, int n)
{
	return cu.mvaddnstr ? cu.mvaddnstr(y, x, str, n) : ERR;
}

int mvhline(int y, int x, chtype ch, int n)
{
	return cu.mvhline ? cu.mvhline(y, x, ch, n) : ERR;
}

SCREEN *newterm(const char *type, FILE *outfd, FILE *infd)
{
	return cu.newterm ? cu.newterm(type, outfd, infd) : NULL;
}

int nodelay(WINDOW *win, bool bf)
{
	return cu.nodelay ? cu.nodelay(win, bf) : ERR;
}

int noecho(void)
{
	return cu.noecho ? cu.noecho() : ERR;
}

int nonl(void)
{
	return cu.nonl ? cu.nonl() : ERR;
}

int refresh(void)
{
	return cu.refresh ? cu.refresh() : ERR;
}

int set_escdelay(int ms)
{
	return cu.set_escdelay ? cu.set_escdelay(ms) : ERR;
}
