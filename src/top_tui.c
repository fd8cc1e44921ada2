// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace top's terminal UI, drawn with ncurses as htop and atop draw:
 * a fixed header with totals, columns fitted to the window, a selection
 * that follows its process, and htop's keys (see the help screen).
 * This file is over 800 lines: header, columns, rows, selection, keys and
 * the help screen share struct top_tui's private state (the ncurses
 * windows and the sorted rows), which no other file should see.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "curses_dl.h"
#include "log.h"
#include "pidmap.h"
#include "procfs.h"
#include "snapshot.h"
#include "top.h"
#include "units.h"

#define CMDLINE_MAX 4096 /* longer command lines are cut (with "...") */
#define PROMPT_MAX 64
#define TREE_MAX_DEPTH 32
#define HEADER_LINES 4 /* title, totals, memory, losses; then the column header */

enum group_by { GROUP_NONE, GROUP_PROGRAM, GROUP_USER, GROUP_CGROUP, GROUP_NR };
static const char *const group_names[GROUP_NR] = { "none", "program", "user", "cgroup" };

enum col_id {
	COL_PID,
	COL_USER,
	COL_RSS,
	COL_PSS,
	COL_SWAP,
	COL_ANON,
	COL_FILE,
	COL_SHMEM,
	COL_GROWTH,
	COL_DRSS,
	COL_FAULTS,
	COL_MAPPED,
	COL_UNMAPPED,
	COL_COMMAND,
	COL_NR,
};

/* Shown left to right in this order; dropped lowest priority (largest number) first. */
static const struct column {
	const char *name;
	int width;
	int priority;
	enum top_sort sort; /* the sort key the column shows, or -1 */
} columns[COL_NR] = {
	[COL_PID] = { "PID", 7, 0, TOP_SORT_PID },
	[COL_USER] = { "USER", 9, 8, -1 },
	[COL_RSS] = { "RSS", 10, 1, TOP_SORT_RSS },
	[COL_PSS] = { "PSS", 10, 3, TOP_SORT_PSS },
	[COL_SWAP] = { "SWAP", 11, 2, TOP_SORT_SWAP },
	[COL_ANON] = { "ANON", 10, 7, -1 },
	[COL_FILE] = { "FILE", 10, 9, -1 },
	[COL_SHMEM] = { "SHMEM", 10, 10, -1 },
	[COL_GROWTH] = { "GROWTH", 11, 4, TOP_SORT_GROWTH },
	[COL_DRSS] = { "dRSS", 11, 11, -1 },
	[COL_FAULTS] = { "FLT/s", 8, 5, TOP_SORT_FAULTS },
	[COL_MAPPED] = { "MAPPED", 10, 6, TOP_SORT_MAPPED },
	[COL_UNMAPPED] = { "UNMAPPED", 10, 12, -1 },
	[COL_COMMAND] = { "COMMAND", 12, 0, TOP_SORT_COMM },
};

static const enum top_sort sort_cycle[] = {
	TOP_SORT_PID,	 TOP_SORT_RSS,	  TOP_SORT_PSS,	   TOP_SORT_SWAP,
	TOP_SORT_GROWTH, TOP_SORT_FAULTS, TOP_SORT_MAPPED, TOP_SORT_COMM,
};
static const char *const sort_names[] = {
	[TOP_SORT_GROWTH] = "growth", [TOP_SORT_RSS] = "rss",	    [TOP_SORT_PSS] = "pss",
	[TOP_SORT_SWAP] = "swap",     [TOP_SORT_FAULTS] = "faults", [TOP_SORT_MAPPED] = "mapped",
	[TOP_SORT_PID] = "pid",	      [TOP_SORT_COMM] = "comm",
};

/* What /proc says about a process beyond the counters, read once per process. */
struct proc_info {
	uint64_t start_ns;
	char comm[MT_COMM_LEN]; /* comm when read: an exec changes it, and the command line */
	char *cmdline;		/* sanitized, NULL until wanted */
	char *cgroup;		/* NULL until wanted */
	char user[32];		/* "" until wanted */
	char program[64];	/* "" until wanted */
	uint64_t seen;		/* update generation */
};

/* One line of the view: a process, or a group of them. */
struct view_line {
	/*
	 * a process's row in tui->rows, or a group's sum in tui->groups: not a
	 * copy (a line per process, tens of thousands); valid until the rows
	 * are rewritten (top_tui__rows() drops the lines) or the view rebuilt
	 */
	const struct top_row *row;
	const struct proc_info *info; /* NULL for a group */
	const char *label;	      /* group label */
	uint32_t count;		      /* processes in a group */
	int depth;		      /* tree depth */
	bool last_child;
	bool pss_unknown; /* a group with members not yet reconciled */
};

struct top_tui {
	SCREEN *screen;
	FILE *tty_out;
	struct top_row *rows; /* the latest figures (frozen while paused) */
	size_t nr_rows, cap_rows;
	struct top_row *groups; /* the sums that group lines point to */
	size_t cap_groups;
	struct top_summary summary;
	struct pidmap *infos; /* pid -> struct proc_info */
	uint64_t generation;
	/* the view */
	struct view_line *lines;
	size_t nr_lines, cap_lines;
	char *labels; /* group labels, one block */
	enum top_sort sort;
	bool invert, paused, tree, cmdline, help;
	enum group_by group;
	char filter[PROMPT_MAX], search[PROMPT_MAX];
	enum { PROMPT_NONE, PROMPT_FILTER, PROMPT_SEARCH } prompt;
	char prompt_buf[PROMPT_MAX];
	size_t top_line;       /* first line shown */
	size_t selected;       /* index into lines */
	uint32_t selected_pid; /* the selection follows its process */
	bool visible[COL_NR];
	int command_width;
	uint64_t mem_available, mem_total;
};

/* ---- /proc readers ---------------------------------------------------- */

/* Control bytes and non-ASCII bytes become '?': what reaches the terminal is plain. */
static void sanitize(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '\0')
			s[i] = ' ';
		else if (c < 0x20 || c >= 0x7f)
			s[i] = '?';
	}
}

/* A file of the process, opened as files of traced processes are (see STYLE.md). */
static ssize_t read_proc_text(uint32_t pid, const char *name, char *buf, size_t cap)
{
	char path[64];
	struct stat st;
	ssize_t n, len = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/%s", pid, name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	while ((size_t)len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	return len;
}

static void load_cmdline(struct proc_info *info, uint32_t pid)
{
	char buf[CMDLINE_MAX + 1];
	ssize_t len = read_proc_text(pid, "cmdline", buf, sizeof(buf));

	free(info->cmdline);
	if (len <= 0) {
		/* kernel threads and zombies have none: shown as ps shows them */
		snprintf(buf, sizeof(buf), "[%s]", info->comm);
		len = strlen(buf);
	} else {
		while (len > 0 && buf[len - 1] == '\0')
			len--;
		if (len == CMDLINE_MAX)
			memcpy(buf + len - 3, "...", 3);
	}
	sanitize(buf, len);
	buf[len] = '\0';
	info->cmdline = strdup(buf);
}

static void load_user(struct proc_info *info, uint32_t pid)
{
	struct proc_status st;
	struct passwd *pw;

	if (proc_status__read(pid, &st)) {
		snprintf(info->user, sizeof(info->user), "-");
		return;
	}
	pw = getpwuid(st.uid);
	if (pw)
		snprintf(info->user, sizeof(info->user), "%s", pw->pw_name);
	else
		snprintf(info->user, sizeof(info->user), "%u", st.uid);
	sanitize(info->user, strlen(info->user));
}

static void load_cgroup(struct proc_info *info, uint32_t pid)
{
	char buf[4096], *line, *v2, *colon;
	ssize_t len = read_proc_text(pid, "cgroup", buf, sizeof(buf));

	line = "-";
	if (len > 0) {
		/* the v2 line ("0::/path"), else the first hierarchy's, as snapshot groups */
		v2 = strstr(buf, "0::");
		line = (v2 == buf || (v2 && v2[-1] == '\n')) ? v2 : buf;
		colon = strchr(line, ':');
		colon = colon ? strchr(colon + 1, ':') : NULL;
		line = colon ? colon + 1 : "-";
		line[strcspn(line, "\n")] = '\0';
	}
	info->cgroup = strdup(line);
	if (info->cgroup)
		sanitize(info->cgroup, strlen(info->cgroup));
}

static void load_program(struct proc_info *info, uint32_t pid)
{
	char path[64], link[4096];
	ssize_t n;
	bool exists = false;

	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n >= 0) {
		link[n] = '\0';
		if (n > 10 && strcmp(link + n - 10, " (deleted)") == 0) {
			link[n - 10] = '\0';
			exists = access(link, F_OK) == 0;
			link[n - 10] = ' ';
		}
	}
	snap_program_name(n >= 0 ? link : NULL, exists, info->comm, info->program,
			  sizeof(info->program));
	sanitize(info->program, strlen(info->program));
}

static void free_info(struct proc_info *info)
{
	if (!info)
		return;
	free(info->cmdline);
	free(info->cgroup);
	free(info);
}

/* The info of a row, (re)made when the PID names a new process or exec'd. */
static struct proc_info *info_of(struct top_tui *tui, const struct top_row *r)
{
	struct proc_info *info = pidmap__get(tui->infos, r->pid);

	if (info && (info->start_ns != r->start_ns || strncmp(info->comm, r->comm, MT_COMM_LEN))) {
		free_info(pidmap__delete(tui->infos, r->pid));
		info = NULL;
	}
	if (!info) {
		info = calloc(1, sizeof(*info));
		if (!info || pidmap__set(tui->infos, r->pid, info)) {
			free(info);
			return NULL;
		}
		info->start_ns = r->start_ns;
		memcpy(info->comm, r->comm, MT_COMM_LEN);
		info->comm[MT_COMM_LEN - 1] = '\0';
		sanitize(info->comm, strlen(info->comm));
	}
	info->seen = tui->generation;
	return info;
}

static void read_meminfo(struct top_tui *tui)
{
	char buf[8192], *p;
	ssize_t len;
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);

	tui->mem_available = tui->mem_total = 0;
	if (fd < 0)
		return;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return;
	buf[len] = '\0';
	if ((p = strstr(buf, "MemTotal:")))
		tui->mem_total = strtoull(p + 9, NULL, 10) * 1024;
	if ((p = strstr(buf, "MemAvailable:")))
		tui->mem_available = strtoull(p + 13, NULL, 10) * 1024;
}

/* ---- building the view ------------------------------------------------- */

static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	if (!n)
		return true;
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

static bool row_matches(struct top_tui *tui, const struct top_row *r, struct proc_info *info,
			const char *text)
{
	if (contains_nocase(info->comm, text))
		return true;
	if (!info->cmdline)
		load_cmdline(info, r->pid);
	return info->cmdline && contains_nocase(info->cmdline, text);
}

static int64_t sort_value(const struct top_row *r, enum top_sort key)
{
	switch (key) {
	case TOP_SORT_GROWTH:
		return r->growth_key;
	case TOP_SORT_RSS:
		return (int64_t)r->rss_bytes;
	case TOP_SORT_PSS:
		return r->have_smaps ? (int64_t)r->pss_bytes : -1;
	case TOP_SORT_SWAP:
		return (int64_t)top_row_swap(r);
	case TOP_SORT_FAULTS:
		return (int64_t)r->faults_delta;
	case TOP_SORT_MAPPED:
		return (int64_t)r->mapped_delta_bytes;
	case TOP_SORT_PID:
		return -(int64_t)r->pid; /* ascending PID first */
	case TOP_SORT_COMM:
		return 0;
	}
	return 0;
}

static enum top_sort cmp_sort;
static bool cmp_invert;

static int compare_lines(const void *pa, const void *pb)
{
	const struct view_line *a = pa, *b = pb;
	int64_t ka = sort_value(a->row, cmp_sort), kb = sort_value(b->row, cmp_sort);
	int c = 0;

	if (cmp_sort == TOP_SORT_COMM) {
		const char *na = a->label ? a->label : a->row->comm;
		const char *nb = b->label ? b->label : b->row->comm;

		c = strcmp(na, nb);
	} else if (ka != kb) {
		c = ka < kb ? 1 : -1;
	} else if (a->row->rss_bytes != b->row->rss_bytes) {
		c = a->row->rss_bytes < b->row->rss_bytes ? 1 : -1;
	}
	if (!c)
		c = a->row->pid < b->row->pid ? -1 : a->row->pid > b->row->pid;
	return cmp_invert ? -c : c;
}

static void sort_lines(struct top_tui *tui, struct view_line *lines, size_t n)
{
	cmp_sort = tui->sort;
	cmp_invert = tui->invert;
	qsort(lines, n, sizeof(*lines), compare_lines);
}

static int reserve_lines(struct top_tui *tui, size_t n)
{
	struct view_line *grown;

	if (n <= tui->cap_lines)
		return 0;
	grown = realloc(tui->lines, n * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	tui->lines = grown;
	tui->cap_lines = n;
	return 0;
}

static const char *group_key(struct top_tui *tui, struct proc_info *info, uint32_t pid)
{
	switch (tui->group) {
	case GROUP_PROGRAM:
		if (!info->program[0])
			load_program(info, pid);
		return info->program;
	case GROUP_USER:
		if (!info->user[0])
			load_user(info, pid);
		return info->user;
	case GROUP_CGROUP:
		if (!info->cgroup)
			load_cgroup(info, pid);
		return info->cgroup ? info->cgroup : "-";
	default:
		return "";
	}
}

static int compare_labels(const void *pa, const void *pb)
{
	const struct view_line *a = pa, *b = pb;

	return strcmp(a->label, b->label);
}

static void add_row(struct top_row *sum, const struct top_row *r)
{
	sum->rss_bytes += r->rss_bytes;
	sum->rss_anon_bytes += r->rss_anon_bytes;
	sum->rss_file_bytes += r->rss_file_bytes;
	sum->rss_shmem_bytes += r->rss_shmem_bytes;
	sum->swap_bytes += r->swap_bytes;
	sum->swap_pss_bytes += top_row_swap(r);
	sum->pss_bytes += r->have_smaps ? r->pss_bytes : 0;
	sum->rss_delta_bytes += r->rss_delta_bytes;
	sum->growth_bytes += r->growth_bytes;
	sum->growth_key += r->growth_key;
	sum->faults_delta += r->faults_delta;
	sum->faults_per_sec += r->faults_per_sec;
	sum->mapped_delta_bytes += r->mapped_delta_bytes;
	sum->unmapped_delta_bytes += r->unmapped_delta_bytes;
}

/* Lines sharing a label become one line each; labels are copied to tui->labels. */
static int group_lines(struct top_tui *tui)
{
	size_t n = tui->nr_lines, out = 0, bytes = 0;
	char *labels, *p;

	size_t nr_groups = 0;

	qsort(tui->lines, n, sizeof(*tui->lines), compare_labels);
	for (size_t i = 0; i < n; i++) {
		bytes += strlen(tui->lines[i].label) + 1;
		nr_groups += !i || strcmp(tui->lines[i].label, tui->lines[i - 1].label) != 0;
	}
	if (nr_groups > tui->cap_groups) {
		struct top_row *grown = realloc(tui->groups, nr_groups * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		tui->groups = grown;
		tui->cap_groups = nr_groups;
	}
	nr_groups = 0;
	labels = malloc(bytes + 1);
	if (!labels)
		return -ENOMEM;
	p = labels;
	for (size_t i = 0; i < n;) {
		struct view_line g = { .count = 0 };
		struct top_row *sum = &tui->groups[nr_groups++];
		size_t j;

		memset(sum, 0, sizeof(*sum));
		strcpy(p, tui->lines[i].label);
		g.label = p;
		p += strlen(p) + 1;
		for (j = i; j < n && strcmp(tui->lines[j].label, g.label) == 0; j++) {
			add_row(sum, tui->lines[j].row);
			g.pss_unknown |= !tui->lines[j].row->have_smaps;
			g.count++;
		}
		/* a group is reconciled as a whole: SWAP adds SwapPss where known */
		sum->have_smaps = true;
		sum->pid = tui->lines[i].row->pid;
		g.row = sum;
		tui->lines[out++] = g;
		i = j;
	}
	free(tui->labels);
	tui->labels = labels;
	tui->nr_lines = out;
	return 0;
}

/* Parent before children, siblings in sort order: an iterative depth-first walk. */
static int tree_lines(struct top_tui *tui)
{
	size_t n = tui->nr_lines, out = 0, sp = 0;
	struct view_line *sorted = tui->lines, *result;
	size_t *first_child, *next_sibling, *stack;
	struct pidmap *index = pidmap__new(n ? n : 1);
	bool *visited;
	int err = -ENOMEM;

	result = calloc(n ? n : 1, sizeof(*result));
	first_child = malloc((n + 1) * sizeof(*first_child));
	next_sibling = malloc((n + 1) * sizeof(*next_sibling));
	stack = malloc((n + 1) * sizeof(*stack));
	visited = calloc(n + 1, sizeof(*visited));
	if (!index || !result || !first_child || !next_sibling || !stack || !visited)
		goto cleanup;
	for (size_t i = 0; i < n; i++)
		if (pidmap__set(index, sorted[i].row->pid, (void *)(uintptr_t)(i + 1)))
			goto cleanup;
	/* children lists built back to front keep the sort order; slot n holds the roots */
	for (size_t i = 0; i <= n; i++)
		first_child[i] = next_sibling[i] = n;
	for (size_t i = n; i-- > 0;) {
		uintptr_t parent = sorted[i].row->ppid != sorted[i].row->pid
				       ? (uintptr_t)pidmap__get(index, sorted[i].row->ppid)
				       : 0;
		size_t p = parent ? parent - 1 : n;

		next_sibling[i] = first_child[p];
		first_child[p] = i;
	}
	for (size_t root = first_child[n]; root < n; root = next_sibling[root]) {
		sorted[root].depth = 0;
		stack[sp++] = root;
		while (sp) {
			size_t i = stack[--sp], base = sp;

			if (visited[i])
				continue;
			visited[i] = true;
			result[out] = sorted[i];
			result[out].last_child = next_sibling[i] == n;
			out++;
			for (size_t k = first_child[i]; k < n && sp < n; k = next_sibling[k]) {
				sorted[k].depth = sorted[i].depth < TREE_MAX_DEPTH
						      ? sorted[i].depth + 1
						      : TREE_MAX_DEPTH;
				stack[sp++] = k;
			}
			for (size_t lo = base, hi = sp; hi > lo + 1; lo++, hi--) {
				size_t t = stack[lo];

				stack[lo] = stack[hi - 1];
				stack[hi - 1] = t;
			}
		}
	}
	/* parent links that loop (stale ppids after PID reuse) leave lines unvisited: flat */
	for (size_t i = 0; i < n && out < n; i++)
		if (!visited[i]) {
			result[out] = sorted[i];
			result[out].depth = 0;
			out++;
		}
	memcpy(tui->lines, result, out * sizeof(*result));
	tui->nr_lines = out;
	err = 0;
cleanup:
	pidmap__free(index);
	free(result);
	free(first_child);
	free(next_sibling);
	free(stack);
	free(visited);
	return err;
}

static void build_view(struct top_tui *tui)
{
	size_t out = 0;

	if (reserve_lines(tui, tui->nr_rows ? tui->nr_rows : 1))
		return;
	for (size_t i = 0; i < tui->nr_rows; i++) {
		const struct top_row *r = &tui->rows[i];
		struct proc_info *info = info_of(tui, r);
		struct view_line *l;

		if (!info)
			continue;
		if (tui->filter[0] && !row_matches(tui, r, info, tui->filter))
			continue;
		l = &tui->lines[out++];
		memset(l, 0, sizeof(*l));
		l->row = r;
		l->info = info;
		l->count = 1;
		if (tui->group != GROUP_NONE)
			l->label = group_key(tui, info, r->pid);
		else if (tui->cmdline && !info->cmdline)
			load_cmdline(info, r->pid);
		if (tui->visible[COL_USER] && !info->user[0])
			load_user(info, r->pid);
	}
	tui->nr_lines = out;
	if (tui->group != GROUP_NONE && group_lines(tui))
		tui->group = GROUP_NONE;
	sort_lines(tui, tui->lines, tui->nr_lines);
	if (tui->tree && tui->group == GROUP_NONE)
		tree_lines(tui);
}

/* ---- drawing ----------------------------------------------------------- */

/* Columns by priority while they fit; COMMAND takes what is left. */
static void fit_columns(struct top_tui *tui, int width)
{
	int used = columns[COL_PID].width + 1 + columns[COL_COMMAND].width;

	memset(tui->visible, 0, sizeof(tui->visible));
	tui->visible[COL_PID] = tui->visible[COL_COMMAND] = true;
	for (int prio = 1; prio <= 12; prio++)
		for (int c = 0; c < COL_NR; c++)
			if (columns[c].priority == prio && used + columns[c].width + 1 <= width) {
				tui->visible[c] = true;
				used += columns[c].width + 1;
			}
	tui->command_width = width - used + columns[COL_COMMAND].width;
}

/* Write text at (y, x) cut to the window: nothing ever wraps. */
static void put(int y, int x, const char *text)
{
	int room = curses_dl__cols() - x;

	if (y == curses_dl__lines() - 1)
		room--; /* the last cell of the screen would scroll on some terminals */
	if (room > 0)
		mvaddnstr(y, x, text, room);
}

static void format_cell(const struct top_tui *tui, const struct view_line *l, int c, char *buf,
			size_t len)
{
	const struct top_row *r = l->row;
	bool group = l->label != NULL;

	switch (c) {
	case COL_PID:
		if (group)
			snprintf(buf, len, "%*u", columns[c].width, l->count);
		else
			snprintf(buf, len, "%*u", columns[c].width, r->pid);
		return;
	case COL_USER:
		snprintf(buf, len, "%-*.*s", columns[c].width, columns[c].width,
			 group ? "" : l->info->user);
		return;
	case COL_RSS:
		format_size(buf, len, r->rss_bytes);
		break;
	case COL_PSS:
		if (!r->have_smaps) {
			snprintf(buf, len, "-");
			break;
		}
		format_size(buf, len, r->pss_bytes);
		if (group && l->pss_unknown)
			strncat(buf, "+", len - strlen(buf) - 1);
		break;
	case COL_SWAP:
		if (group) {
			format_size(buf, len - 1, r->swap_pss_bytes);
			strncat(buf, l->pss_unknown ? "~" : " ", len - strlen(buf) - 1);
		} else {
			top_format_swap(buf, len, r);
		}
		break;
	case COL_ANON:
		format_size(buf, len, r->rss_anon_bytes);
		break;
	case COL_FILE:
		format_size(buf, len, r->rss_file_bytes);
		break;
	case COL_SHMEM:
		format_size(buf, len, r->rss_shmem_bytes);
		break;
	case COL_GROWTH:
		format_size_delta(buf, len, r->growth_bytes);
		break;
	case COL_DRSS:
		format_size_delta(buf, len, r->rss_delta_bytes);
		break;
	case COL_FAULTS:
		snprintf(buf, len, "%.0f", r->faults_per_sec);
		break;
	case COL_MAPPED:
		format_size(buf, len, r->mapped_delta_bytes);
		break;
	case COL_UNMAPPED:
		format_size(buf, len, r->unmapped_delta_bytes);
		break;
	default:
		buf[0] = '\0';
		break;
	}
	/* right-aligned in the column */
	{
		char tmp[64];
		size_t n = strlen(buf);
		int w = columns[c].width;

		if ((int)n < w) {
			snprintf(tmp, sizeof(tmp), "%*s", w, buf);
			snprintf(buf, len, "%s", tmp);
		}
	}
}

static void format_command(const struct top_tui *tui, const struct view_line *l, char *buf,
			   size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if (l->label) {
		snprintf(buf, len, "%s (%u)", l->label, l->count);
		return;
	}
	if (tui->tree && l->depth) {
		for (int d = 1; d < l->depth && off + 3 < len; d++) {
			memcpy(buf + off, "   ", 3);
			off += 3;
		}
		if (off + 3 < len) {
			memcpy(buf + off, l->last_child ? "`- " : "|- ", 3);
			off += 3;
		}
		buf[off] = '\0';
	}
	snprintf(buf + off, len - off, "%s%s",
		 tui->cmdline && l->info->cmdline ? l->info->cmdline : l->info->comm,
		 l->row->exited ? " (exited)" : "");
}

static const char *const help_text[] = {
	"memtrace top: keys (as in htop)",
	"",
	"  Up/Down, PgUp/PgDn, Home/End   move the selection and scroll",
	"  F6, < and >                    sort by the previous / next column",
	"  M / N                          sort by RSS / by PID",
	"  I                              invert the sort order",
	"  F4 or \\                        filter by name or command line (Esc clears)",
	"  F3 or /                        search by name or command line (Enter: next)",
	"  Space or Z                     pause / resume the figures (keys still work)",
	"  F5 or t                        tree: children under their parent",
	"  g                              group by program, user, cgroup, then none",
	"  p                              command name / full command line",
	"  h, F1 or ?                     this help (any key returns)",
	"  q, F10 or Ctrl-C               quit",
	"",
	"Columns: RSS = ANON + FILE + SHMEM, the kernel's counters, exact after each",
	"  reconcile (smaps_rollup and /proc/PID/status read every --reconcile);",
	"  PSS from smaps_rollup ('-' until read); SWAP is SwapPss once reconciled",
	"  ('~': the counter's swap, shared swap counted in full, until then);",
	"  GROWTH is the RSS change over the last 5 intervals. The growth sort ranks",
	"  by it through a key that moves only when the growth leaves a band of an",
	"  eighth of it or 64 KiB, so rows do not jump every interval; ties by RSS.",
	"  Narrow windows drop columns: UNMAPPED, dRSS, SHMEM, FILE, USER, ANON first.",
	"  Group lines: the PID column holds the number of processes.",
};

static void draw_help(void)
{
	erase();
	for (size_t i = 0;
	     i < sizeof(help_text) / sizeof(help_text[0]) && (int)i < curses_dl__lines() - 1; i++)
		put(i, 0, help_text[i]);
	attron(A_REVERSE);
	put(curses_dl__lines() - 1, 0, "press any key to return");
	attroff(A_REVERSE);
	refresh();
}

static void draw_header(struct top_tui *tui)
{
	const struct top_summary *s = &tui->summary;
	uint64_t rss = 0, pss = 0, swap = 0, drops = 0, unread = 0;
	double faults = 0;
	char line[512], a[24], b[24], c[24], d[24], e[24], f[24], procs[40];
	time_t now = time(NULL);
	struct tm tm;
	size_t shown_to;

	for (size_t i = 0; i < tui->nr_lines; i++) {
		const struct view_line *l = &tui->lines[i];

		rss += l->row->rss_bytes;
		pss += l->row->have_smaps ? l->row->pss_bytes : 0;
		unread += l->label ? l->pss_unknown : !l->row->have_smaps;
		swap += l->label ? l->row->swap_pss_bytes : top_row_swap(l->row);
		faults += l->row->faults_per_sec;
	}
	for (int i = 0; i < MT_CNT_NR; i++)
		drops += s->losses[i];
	localtime_r(&now, &tm);
	shown_to = tui->top_line + (size_t)(curses_dl__lines() - HEADER_LINES - 2);
	if (shown_to > tui->nr_lines)
		shown_to = tui->nr_lines;
	snprintf(line, sizeof(line), "memtrace top %02d:%02d:%02d  sort: %s%s%s%s%s%s%s",
		 tm.tm_hour, tm.tm_min, tm.tm_sec, sort_names[tui->sort],
		 tui->invert ? " (inverted)" : "", tui->paused ? "  [PAUSED]" : "",
		 tui->tree ? "  [tree]" : "", tui->group ? "  [group: " : "",
		 tui->group ? group_names[tui->group] : "", tui->group ? "]" : "");
	put(0, 0, line);
	snprintf(line, sizeof(line), "shown: RSS %s  PSS %s%s  Swap %s  Faults/s %.0f",
		 format_size(a, sizeof(a), rss), format_size(b, sizeof(b), pss), unread ? "+" : "",
		 format_size(c, sizeof(c), swap), faults);
	put(1, 0, line);
	/* the process count only where it differs from the lines (a filter,
	 * groups): with 10,000 processes both would push the position past 80 columns */
	procs[0] = '\0';
	if (s->nr_procs != tui->nr_lines)
		snprintf(procs, sizeof(procs), "procs %zu, ", s->nr_procs);
	snprintf(line, sizeof(line), "MemAvailable %s of %s  %slines %zu-%zu of %zu, at %zu",
		 format_size(d, sizeof(d), tui->mem_available),
		 format_size(e, sizeof(e), tui->mem_total), procs,
		 tui->nr_lines ? tui->top_line + 1 : 0, shown_to, tui->nr_lines,
		 tui->nr_lines ? tui->selected + 1 : 0);
	put(2, 0, line);
	/* what the user set first: a narrow window cuts the tool's own figures */
	snprintf(line, sizeof(line),
		 "%s%s%s%s%s%sdrops %llu  interval %s  smaps %llu reads  bpf %llu ns/event",
		 tui->filter[0] ? "[filter: " : "", tui->filter, tui->filter[0] ? "]  " : "",
		 tui->search[0] ? "[search: " : "", tui->search, tui->search[0] ? "]  " : "",
		 (unsigned long long)drops, format_duration(f, sizeof(f), s->interval_ns),
		 (unsigned long long)s->smaps.reads,
		 (unsigned long long)(s->cost.total_run_cnt
					  ? s->cost.total_run_time_ns / s->cost.total_run_cnt
					  : 0));
	put(3, 0, line);
}

static void draw_columns(struct top_tui *tui, int y)
{
	char line[1024], cell[64];
	size_t off = 0;

	for (int c = 0; c < COL_NR && off < sizeof(line) - 80; c++) {
		const char *name = columns[c].name;
		bool sorted = (int)columns[c].sort == (int)tui->sort;

		if (!tui->visible[c])
			continue;
		if (c == COL_COMMAND) {
			snprintf(cell, sizeof(cell), "%s%s%s",
				 tui->group	? "GROUP"
				 : tui->cmdline ? "COMMAND LINE"
						: name,
				 sorted ? (tui->invert ? "^" : "v") : "", "");
			off += snprintf(line + off, sizeof(line) - off, "%s", cell);
			break;
		}
		if (c == COL_PID && tui->group)
			name = "PROCS";
		snprintf(cell, sizeof(cell), "%s%s", name, sorted ? (tui->invert ? "^" : "v") : "");
		off += snprintf(line + off, sizeof(line) - off, c == COL_USER ? "%-*s " : "%*s ",
				columns[c].width, cell);
	}
	attron(A_REVERSE);
	mvhline(y, 0, ' ', curses_dl__cols());
	put(y, 0, line);
	attroff(A_REVERSE);
}

static void draw_line(struct top_tui *tui, int y, const struct view_line *l, bool selected)
{
	char line[CMDLINE_MAX + 512], cell[64];
	size_t off = 0;

	for (int c = 0; c < COL_NR; c++) {
		if (!tui->visible[c])
			continue;
		if (c == COL_COMMAND) {
			format_command(tui, l, line + off, sizeof(line) - off);
			break;
		}
		format_cell(tui, l, c, cell, sizeof(cell));
		off += snprintf(line + off, sizeof(line) - off, "%s ", cell);
	}
	if (selected) {
		attron(A_REVERSE);
		mvhline(y, 0, ' ', curses_dl__cols());
	}
	put(y, 0, line);
	if (selected)
		attroff(A_REVERSE);
}

static void draw_footer(struct top_tui *tui)
{
	char line[256];
	int y = curses_dl__lines() - 1;

	move(y, 0);
	clrtoeol();
	if (tui->prompt != PROMPT_NONE) {
		snprintf(line, sizeof(line), "%s: %s_  (Enter: %s, Esc: %s)",
			 tui->prompt == PROMPT_FILTER ? "Filter" : "Search", tui->prompt_buf,
			 tui->prompt == PROMPT_FILTER ? "keep" : "next",
			 tui->prompt == PROMPT_FILTER ? "clear" : "done");
		put(y, 0, line);
		return;
	}
	attron(A_REVERSE);
	put(y, 0,
	    "h Help  F6 Sort  I Invert  \\ Filter  / Search  t Tree  g Group  p Cmd  "
	    "Z Pause  q Quit");
	attroff(A_REVERSE);
}

/* Keep the selection on its process and inside the window. */
static void place_selection(struct top_tui *tui)
{
	size_t rows = curses_dl__lines() > HEADER_LINES + 2
			  ? (size_t)(curses_dl__lines() - HEADER_LINES - 2)
			  : 1;

	for (size_t i = 0; tui->selected_pid && i < tui->nr_lines; i++)
		if (tui->lines[i].row->pid == tui->selected_pid) {
			tui->selected = i;
			break;
		}
	if (tui->selected >= tui->nr_lines)
		tui->selected = tui->nr_lines ? tui->nr_lines - 1 : 0;
	if (tui->selected < tui->top_line)
		tui->top_line = tui->selected;
	if (tui->selected >= tui->top_line + rows)
		tui->top_line = tui->selected - rows + 1;
	if (tui->top_line + rows > tui->nr_lines)
		tui->top_line = tui->nr_lines > rows ? tui->nr_lines - rows : 0;
	if (tui->nr_lines)
		tui->selected_pid = tui->lines[tui->selected].row->pid;
}

void top_tui__draw(struct top_tui *tui)
{
	int rows;

	if (tui->help) {
		draw_help();
		return;
	}
	fit_columns(tui, curses_dl__cols());
	build_view(tui);
	place_selection(tui);
	erase();
	draw_header(tui);
	draw_columns(tui, HEADER_LINES);
	rows = curses_dl__lines() - HEADER_LINES - 2;
	for (int i = 0; i < rows && tui->top_line + i < tui->nr_lines; i++)
		draw_line(tui, HEADER_LINES + 1 + i, &tui->lines[tui->top_line + i],
			  tui->top_line + i == tui->selected);
	draw_footer(tui);
	refresh();
}

/* ---- keys -------------------------------------------------------------- */

static bool line_matches(struct top_tui *tui, const struct view_line *l, const char *text)
{
	if (l->label)
		return contains_nocase(l->label, text);
	return row_matches(tui, l->row, (struct proc_info *)l->info, text);
}

/* Select the first line from `from` on (wrapping) that matches the search. */
static void search_from(struct top_tui *tui, size_t from)
{
	for (size_t k = 0; k < tui->nr_lines; k++) {
		size_t i = (from + k) % tui->nr_lines;

		if (line_matches(tui, &tui->lines[i], tui->search)) {
			tui->selected = i;
			tui->selected_pid = tui->lines[i].row->pid;
			return;
		}
	}
}

static void cycle_sort(struct top_tui *tui, int step)
{
	size_t n = sizeof(sort_cycle) / sizeof(sort_cycle[0]), i = 0;

	while (i < n && sort_cycle[i] != tui->sort)
		i++;
	tui->sort = sort_cycle[(i + n + step) % n];
}

static void prompt_key(struct top_tui *tui, int ch)
{
	size_t len = strlen(tui->prompt_buf);
	bool filter = tui->prompt == PROMPT_FILTER;

	if (ch == 27) { /* Esc */
		if (filter)
			tui->filter[0] = '\0';
		tui->prompt = PROMPT_NONE;
		return;
	}
	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		if (filter)
			tui->prompt = PROMPT_NONE;
		else if (tui->nr_lines)
			search_from(tui, tui->selected + 1);
		return;
	}
	if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (len)
			tui->prompt_buf[len - 1] = '\0';
	} else if (ch >= 0x20 && ch < 0x7f && len + 1 < sizeof(tui->prompt_buf)) {
		tui->prompt_buf[len] = (char)ch;
		tui->prompt_buf[len + 1] = '\0';
	} else {
		return;
	}
	if (filter) {
		snprintf(tui->filter, sizeof(tui->filter), "%s", tui->prompt_buf);
	} else {
		snprintf(tui->search, sizeof(tui->search), "%s", tui->prompt_buf);
		if (tui->nr_lines)
			search_from(tui, tui->selected);
	}
}

static void move_selection(struct top_tui *tui, long delta)
{
	long target = (long)tui->selected + delta;

	if (target < 0)
		target = 0;
	if (target >= (long)tui->nr_lines)
		target = tui->nr_lines ? (long)tui->nr_lines - 1 : 0;
	tui->selected = (size_t)target;
	if (tui->nr_lines)
		tui->selected_pid = tui->lines[tui->selected].row->pid;
}

/* One key; false when it asks to quit. */
static bool handle_key(struct top_tui *tui, int ch)
{
	long page =
	    curses_dl__lines() > HEADER_LINES + 2 ? curses_dl__lines() - HEADER_LINES - 2 : 1;

	if (tui->help) {
		if (ch != KEY_RESIZE)
			tui->help = false;
		return true;
	}
	if (tui->prompt != PROMPT_NONE && ch != KEY_RESIZE && ch != KEY_F(10)) {
		prompt_key(tui, ch);
		return true;
	}
	switch (ch) {
	case 'q':
	case 'Q':
	case KEY_F(10):
		return false;
	case 'h':
	case '?':
	case KEY_F(1):
		tui->help = true;
		break;
	case KEY_UP:
		move_selection(tui, -1);
		break;
	case KEY_DOWN:
		move_selection(tui, 1);
		break;
	case KEY_PPAGE: /* view and selection move together, as in htop */
		tui->top_line = tui->top_line > (size_t)page ? tui->top_line - page : 0;
		move_selection(tui, -page);
		break;
	case KEY_NPAGE:
		tui->top_line += page; /* place_selection clamps it */
		move_selection(tui, page);
		break;
	case KEY_HOME:
		move_selection(tui, -(long)tui->nr_lines);
		break;
	case KEY_END:
		move_selection(tui, (long)tui->nr_lines);
		break;
	case '<':
	case ',':
		cycle_sort(tui, -1);
		break;
	case '>':
	case '.':
	case KEY_F(6):
		cycle_sort(tui, 1);
		break;
	case 'M':
		tui->sort = TOP_SORT_RSS;
		break;
	case 'N':
		tui->sort = TOP_SORT_PID;
		break;
	case 'I':
		tui->invert = !tui->invert;
		break;
	case '\\':
	case KEY_F(4):
		tui->prompt = PROMPT_FILTER;
		snprintf(tui->prompt_buf, sizeof(tui->prompt_buf), "%s", tui->filter);
		break;
	case '/':
	case KEY_F(3):
		tui->prompt = PROMPT_SEARCH;
		tui->prompt_buf[0] = '\0';
		break;
	case ' ':
	case 'Z':
	case 'z':
		tui->paused = !tui->paused;
		break;
	case 't':
	case KEY_F(5):
		tui->tree = !tui->tree;
		if (tui->tree)
			tui->group = GROUP_NONE;
		break;
	case 'g':
		/* a group line's PID is only its first member's: start over at the top */
		tui->selected = tui->top_line = 0;
		tui->selected_pid = 0;
		tui->group = (tui->group + 1) % GROUP_NR;
		if (tui->group)
			tui->tree = false;
		break;
	case 'p':
		tui->cmdline = !tui->cmdline;
		break;
	default:
		break;
	}
	return true;
}

bool top_tui__keys(struct top_tui *tui)
{
	bool keep = true;
	int ch;

	while (keep && (ch = getch()) != ERR)
		keep = handle_key(tui, ch);
	if (keep)
		top_tui__draw(tui);
	return keep;
}

/* ---- life cycle --------------------------------------------------------- */

/* The terminal is given back even on exit() paths that skip top_tui__free. */
static struct top_tui *active_tui;

static void restore_at_exit(void)
{
	if (active_tui && !isendwin())
		endwin();
}

struct top_tui *top_tui__new(enum top_sort sort)
{
	static bool atexit_set;
	struct top_tui *tui;
	const char *term = getenv("TERM");
	char why[256];
	int err;

	if (curses_dl__open(why, sizeof(why))) {
		mt_warn("cannot load %s: %s (install Debian's libncurses6): plain refreshing table",
			CURSES_SONAME, why);
		errno = ENOENT;
		return NULL;
	}
	tui = calloc(1, sizeof(*tui));
	if (!tui)
		return NULL;
	tui->sort = sort;
	tui->infos = pidmap__new(1024);
	if (!tui->infos) {
		err = ENOMEM;
		goto fail;
	}
	/* newterm, unlike initscr, returns an error instead of exiting */
	tui->tty_out = fdopen(dup(STDOUT_FILENO), "w");
	if (!tui->tty_out) {
		err = errno;
		goto fail;
	}
	tui->screen = newterm(term && *term ? term : "vt100", tui->tty_out, stdin);
	if (!tui->screen) {
		err = ENOTTY;
		goto fail;
	}
	if (!atexit_set) {
		atexit(restore_at_exit);
		atexit_set = true;
	}
	active_tui = tui;
	set_escdelay(25);
	cbreak(); /* Ctrl-C still raises SIGINT: the loop's handler ends it cleanly */
	noecho();
	nonl();
	keypad(curses_dl__stdscr(), TRUE);
	nodelay(curses_dl__stdscr(), TRUE);
	curs_set(0);
	return tui;
fail:
	top_tui__free(tui);
	errno = err;
	return NULL;
}

void top_tui__free(struct top_tui *tui)
{
	size_t cursor = 0;
	struct proc_info *info;

	if (!tui)
		return;
	if (tui->screen) {
		endwin();
		delscreen(tui->screen);
	}
	if (active_tui == tui)
		active_tui = NULL;
	if (tui->tty_out)
		fclose(tui->tty_out);
	while (tui->infos && (info = pidmap__next(tui->infos, &cursor, NULL)))
		free_info(info);
	pidmap__free(tui->infos);
	free(tui->rows);
	free(tui->groups);
	free(tui->lines);
	free(tui->labels);
	free(tui);
}

/* Forget what /proc said about processes that left the table. */
static void prune_infos(struct top_tui *tui)
{
	size_t cursor = 0, n = 0, cap = pidmap__count(tui->infos);
	struct proc_info *info;
	uint32_t pid, *gone;

	if (!cap)
		return;
	gone = malloc(cap * sizeof(*gone));
	if (!gone)
		return;
	while ((info = pidmap__next(tui->infos, &cursor, &pid)))
		if (info->seen + 2 < tui->generation && n < cap)
			gone[n++] = pid;
	for (size_t i = 0; i < n; i++)
		free_info(pidmap__delete(tui->infos, gone[i]));
	free(gone);
}

int top_tui__rows(struct top_tui *tui, size_t n, struct top_row **rows)
{
	*rows = NULL;
	if (tui->paused)
		return 0;
	tui->nr_lines = 0; /* they point into the rows about to be rewritten */
	if (n > tui->cap_rows) {
		struct top_row *grown = realloc(tui->rows, n * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		tui->rows = grown;
		tui->cap_rows = n;
	}
	*rows = tui->rows;
	return 0;
}

int top_tui__update(struct top_tui *tui, size_t n, const struct top_summary *s)
{
	if (tui->paused || n > tui->cap_rows)
		return 0;
	tui->nr_rows = n;
	tui->summary = *s;
	tui->generation++;
	read_meminfo(tui);
	prune_infos(tui);
	return 0;
}
