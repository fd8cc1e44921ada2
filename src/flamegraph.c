// SPDX-License-Identifier: GPL-2.0
/*
 * Folded stacks and a self-contained SVG flame graph, both weighed in
 * bytes. Stacks run root first: the process name, then the event kind when
 * the profile mixes kinds, then the frames outermost to innermost.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "profile.h"
#include "sanitize.h"
#include "units.h"

static bool mixed_events(const struct profile *prof)
{
	int kinds = 0;

	for (int ev = 0; ev < MT_EV_NR; ev++)
		kinds += prof->total_count[ev] != 0;
	return kinds > 1;
}

/* flamegraph.pl splits on ';' and the last space: keep both out of names */
static void put_name(FILE *out, const char *s)
{
	char safe[1024];

	s = mt_safe_str(s, safe, sizeof(safe)); /* names are the traced user's bytes */
	for (; *s; s++)
		fputc(*s == ';' ? ':' : (*s == ' ' || *s == '\n') ? '_' : *s, out);
}

int flamegraph__write_folded(const struct profile *prof, FILE *out)
{
	bool mixed = mixed_events(prof);
	char buf[256];

	for (size_t i = 0; i < prof->n; i++) {
		const struct mt_pstack *ps = &prof->stacks[i];

		if (ps->bytes <= 0)
			continue; /* malloc stacks whose blocks were all freed */
		put_name(out, ps->comm);
		if (mixed)
			fprintf(out, ";%s", mt_event_name(ps->event));
		for (uint32_t f = ps->nframes; f-- > 0;) {
			fputc(';', out);
			put_name(out, mt_frame_label(&ps->frames[f], buf, sizeof(buf)));
		}
		fprintf(out, " %" PRId64 "\n", ps->bytes);
	}
	return ferror(out) ? -EIO : 0;
}

struct node {
	char *name;
	uint64_t value;
	struct node **kids;
	size_t nkids, capkids;
};

static struct node *node_new(const char *name)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	return n;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n);
}

static struct node *node_child(struct node *n, const char *name)
{
	struct node *k;

	for (size_t i = 0; i < n->nkids; i++)
		if (strcmp(n->kids[i]->name, name) == 0)
			return n->kids[i];
	if (n->nkids == n->capkids) {
		size_t cap = n->capkids ? n->capkids * 2 : 4;
		struct node **p = realloc(n->kids, cap * sizeof(*p));

		if (!p)
			return NULL;
		n->kids = p;
		n->capkids = cap;
	}
	k = node_new(name);
	if (k)
		n->kids[n->nkids++] = k;
	return k;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct node *const *)a)->name, (*(struct node *const *)b)->name);
}

static void put_xml(FILE *out, const char *s)
{
	char safe[1024];

	s = mt_safe_str(s, safe, sizeof(safe)); /* and XML 1.0 forbids most control bytes */
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				fputc(*s, out);
		}
	}
}

#define SVG_WIDTH 1200.0
#define FRAME_H 16
#define PAD_TOP 40

static int max_depth(const struct node *n)
{
	int d = 0;

	for (size_t i = 0; i < n->nkids; i++) {
		int k = max_depth(n->kids[i]);

		if (k > d)
			d = k;
	}
	return d + 1;
}

/* Same hue family as the classic flame graph; varied by name so neighbours differ. */
static void color_of(const char *name, int *r, int *g, int *b)
{
	unsigned h = 5381;

	for (const char *s = name; *s; s++)
		h = h * 33 + (unsigned char)*s;
	*r = 205 + h % 50;
	*g = 80 + (h >> 8) % 150;
	*b = 40 + (h >> 16) % 40;
}

static void emit(FILE *out, const struct node *n, uint64_t total, double x, int depth, int height)
{
	double w = total ? SVG_WIDTH * n->value / total : 0;
	char sz[32];
	int r, g, b;

	if (w < 0.1)
		return; /* narrower than a tenth of a pixel: invisible anyway */
	color_of(n->name, &r, &g, &b);
	format_size(sz, sizeof(sz), n->value);
	fprintf(out, "<g class=\"f\" data-x=\"%.3f\" data-w=\"%.3f\"><title>", x, w);
	put_xml(out, n->name);
	fprintf(out,
		" (%s, %.2f%%)</title><rect x=\"%.3f\" y=\"%d\" width=\"%.3f\" height=\"%d\" "
		"fill=\"rgb(%d,%d,%d)\" rx=\"2\"/><text x=\"%.3f\" y=\"%d\">",
		sz, 100.0 * n->value / total, x, height - (depth + 1) * FRAME_H, w, FRAME_H - 1, r,
		g, b, x + 3, height - depth * FRAME_H - 4);
	put_xml(out, n->name);
	fputs("</text></g>\n", out);
	for (size_t i = 0; i < n->nkids; i++) {
		emit(out, n->kids[i], total, x, depth + 1, height);
		x += total ? SVG_WIDTH * n->kids[i]->value / total : 0;
	}
}

static void sort_tree(struct node *n)
{
	if (!n->nkids)
		return; /* leaves have no array to sort (qsort wants one) */
	qsort(n->kids, n->nkids, sizeof(*n->kids), by_name);
	for (size_t i = 0; i < n->nkids; i++)
		sort_tree(n->kids[i]);
}

/* Zoom: frames keep their data-x/-w; a click rescales every frame from them. */
static const char svg_script[] =
    "<script><![CDATA[\n"
    "var W=1200,fs=document.querySelectorAll('g.f');\n"
    "function fit(g){var "
    "t=g.querySelector('text'),r=g.querySelector('rect'),w=+r.getAttribute('width');\n"
    " var s=g.querySelector('title').textContent;s=s.substring(0,s.lastIndexOf(' ('));\n"
    " var n=Math.floor((w-6)/7);t.textContent=n<3?'':(s.length>n?s.substring(0,n-2)+'..':s);}\n"
    "function zoom(g){var "
    "x0=+g.dataset.x,w0=+g.dataset.w,y0=+g.querySelector('rect').getAttribute('y');\n"
    " fs.forEach(function(f){var "
    "x=+f.dataset.x,w=+f.dataset.w,r=f.querySelector('rect'),t=f.querySelector('text');\n"
    "  var y=+r.getAttribute('y');var inside=x>=x0-1e-6&&x+w<=x0+w0+1e-6;\n"
    "  var nx=(x-x0)*W/w0,nw=w*W/w0;if(!inside&&y<=y0){f.style.display='none';return;}\n"
    "  "
    "if(!inside){nx=0;nw=W;}f.style.display='';r.setAttribute('x',nx);r.setAttribute('width',nw);\n"
    "  t.setAttribute('x',nx+3);fit(f);});}\n"
    "fs.forEach(function(g){fit(g);g.onclick=function(){zoom(g)};});\n"
    "document.getElementById('reset').onclick=function(){fs.forEach(function(f){f.style.display='';"
    "\n"
    " var "
    "r=f.querySelector('rect');r.setAttribute('x',f.dataset.x);r.setAttribute('width',f.dataset.w);"
    "\n"
    " f.querySelector('text').setAttribute('x',+f.dataset.x+3);fit(f);});};\n"
    "document.getElementById('search').onclick=function(){var q=prompt('search "
    "(regex)');if(!q)return;\n"
    " var re=new RegExp(q);fs.forEach(function(f){var s=f.querySelector('title').textContent;\n"
    "  f.querySelector('rect').style.fill=re.test(s)?'rgb(230,0,230)':'';});};\n"
    "]]></script>\n";

int flamegraph__write_svg(const struct profile *prof, FILE *out, const char *title)
{
	bool mixed = mixed_events(prof);
	struct node *root = node_new("all");
	char buf[256], sz[32];
	int depth, height, err = 0;

	if (!root)
		return -ENOMEM;
	for (size_t i = 0; i < prof->n && !err; i++) {
		const struct mt_pstack *ps = &prof->stacks[i];
		struct node *n = root;

		if (ps->bytes <= 0)
			continue;
		root->value += ps->bytes;
		n = node_child(n, ps->comm);
		if (n && mixed)
			n = node_child(n, mt_event_name(ps->event));
		if (n)
			n->value += ps->bytes;
		for (uint32_t f = ps->nframes; n && f-- > 0;) {
			n = node_child(n, mt_frame_label(&ps->frames[f], buf, sizeof(buf)));
			if (n)
				n->value += ps->bytes;
		}
		if (!n)
			err = -ENOMEM;
	}
	if (!err) {
		sort_tree(root);
		depth = max_depth(root);
		height = PAD_TOP + depth * FRAME_H + 10;
		fprintf(out,
			"<?xml version=\"1.0\" standalone=\"no\"?>\n"
			"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
			"xmlns=\"http://www.w3.org/2000/svg\">\n"
			"<style>text{font:12px monospace;pointer-events:none}g.f:hover "
			"rect{stroke:#000}"
			".b{cursor:pointer;fill:#369;font:12px sans-serif}</style>\n"
			"<rect width=\"100%%\" height=\"100%%\" fill=\"#f8f8f0\"/>\n",
			(int)SVG_WIDTH, height, (int)SVG_WIDTH, height);
		fputs("<text x=\"600\" y=\"18\" text-anchor=\"middle\" style=\"font:15px "
		      "sans-serif\">memory growth: ",
		      out);
		put_xml(out, title);
		format_size(sz, sizeof(sz), root->value);
		fprintf(out,
			" (%s)</text>\n"
			"<text id=\"reset\" class=\"b\" x=\"10\" y=\"18\">reset zoom</text>\n"
			"<text id=\"search\" class=\"b\" x=\"1120\" y=\"18\">search</text>\n",
			sz);
		emit(out, root, root->value, 0, 0, height - 10);
		fputs(svg_script, out);
		fputs("</svg>\n", out);
	}
	node_free(root);
	return err ? err : (ferror(out) ? -EIO : 0);
}
