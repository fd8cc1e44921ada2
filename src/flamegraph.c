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
#define PAD_TOP 30
#define GRAPH_HEAD 22 /* a graph's title line */

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

/*
 * Frames carry their layout (data-x, data-w in px, data-d depth) so the
 * script can zoom and search from it; y grows upwards from the graph's
 * base line as in flamegraph.pl.
 */
static void emit(FILE *out, const struct node *n, uint64_t total, double x, int depth, int height)
{
	double w = total ? SVG_WIDTH * n->value / total : 0;
	char sz[32];
	int r, g, b;

	if (w < 0.1)
		return; /* narrower than a tenth of a pixel: invisible anyway */
	color_of(n->name, &r, &g, &b);
	format_size(sz, sizeof(sz), n->value);
	fprintf(out, "<g class=\"f\" data-x=\"%.3f\" data-w=\"%.3f\" data-d=\"%d\"><title>", x, w,
		depth);
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

/*
 * One graph per event kind (page faults are physical bytes, mmap and brk
 * virtual ones: their sum means nothing). Clicking a frame zooms its
 * graph: the frame's subtree fills the width, its true ancestors (the
 * frames whose span holds it) run full width below, everything else is
 * hidden. Search colours the matches and reports their share of each
 * graph, counting a match inside another match once, as flamegraph.pl.
 */
static const char svg_script[] =
    "<script><![CDATA[\n"
    "var W=1200,E=1e-3;\n"
    "function fr(gr){return gr.querySelectorAll('g.f');}\n"
    "function nm(f){var s=f.querySelector('title').textContent;return "
    "s.substring(0,s.lastIndexOf(' ('));}\n"
    "function fit(f){var "
    "t=f.querySelector('text'),w=+f.querySelector('rect').getAttribute('width'),"
    "s=nm(f),n=Math.floor((w-6)/7);\n"
    " t.textContent=n<3?'':(s.length>n?s.substring(0,n-2)+'..':s);}\n"
    "function place(f,x,w){var r=f.querySelector('rect');r.setAttribute('x',x);"
    "r.setAttribute('width',w);\n"
    " f.querySelector('text').setAttribute('x',x+3);fit(f);}\n"
    "function zoom(gr,g){var x0=+g.dataset.x,w0=+g.dataset.w,d0=+g.dataset.d;\n"
    " fr(gr).forEach(function(f){var x=+f.dataset.x,w=+f.dataset.w,d=+f.dataset.d;\n"
    "  if(d>=d0&&x>=x0-E&&x+w<=x0+w0+E){f.style.display='';place(f,(x-x0)*W/w0,w*W/w0);}\n"
    "  else if(d<d0&&x<=x0+E&&x+w>=x0+w0-E){f.style.display='';place(f,0,W);}\n"
    "  else f.style.display='none';});}\n"
    "function reset(gr){fr(gr).forEach(function(f){f.style.display='';"
    "place(f,+f.dataset.x,+f.dataset.w);});}\n"
    "function search(){var q=prompt('search (regex; empty clears)');if(q===null)return;\n"
    " var re=null;try{re=q?new RegExp(q):null;}catch(e){alert('bad regex: '+e.message);return;}\n"
    " document.querySelectorAll('g.fg').forEach(function(gr){var m={};\n"
    "  fr(gr).forEach(function(f){var hit=re&&re.test(nm(f));"
    "f.querySelector('rect').style.fill=hit?'rgb(230,0,230)':'';\n"
    "   if(hit){var x=+f.dataset.x,w=+f.dataset.w;if(!(x in m)||w>m[x])m[x]=w;}});\n"
    "  var xs=Object.keys(m).map(Number).sort(function(a,b){return a-b;}),sum=0,lx=-1,lw=0;\n"
    "  xs.forEach(function(x){if(x>=lx+lw-E){sum+=m[x];lx=x;lw=m[x];}});\n"
    "  gr.querySelector('.matched').textContent=re?'Matched: '+(100*sum/W).toFixed(2)+'% ('+"
    "(sum/W*(+gr.dataset.bytes)/1048576).toFixed(1)+' MiB)':'';});}\n"
    "document.querySelectorAll('g.fg').forEach(function(gr){fr(gr).forEach(function(f){fit(f);"
    "f.onclick=function(){zoom(gr,f);};});\n"
    " gr.querySelector('.reset').onclick=function(){reset(gr);};});\n"
    "document.getElementById('search').onclick=search;\n"
    "]]></script>\n";

static int add_stack(struct node *root, const struct mt_pstack *ps)
{
	struct node *n;
	char buf[256];

	root->value += ps->bytes;
	n = node_child(root, ps->comm);
	if (!n)
		return -ENOMEM;
	n->value += ps->bytes;
	for (uint32_t f = ps->nframes; f-- > 0;) {
		n = node_child(n, mt_frame_label(&ps->frames[f], buf, sizeof(buf)));
		if (!n)
			return -ENOMEM;
		n->value += ps->bytes;
	}
	return 0;
}

static const char *const graph_what[MT_EV_NR] = {
	"page faults: physical bytes first touched",
	"mmap: virtual bytes mapped",
	"brk: virtual bytes of heap growth",
	"malloc: bytes outstanding",
};

int flamegraph__write_svg(const struct profile *prof, FILE *out, const char *title)
{
	struct node *roots[MT_EV_NR] = {};
	int depth[MT_EV_NR] = {}, height = PAD_TOP, err = 0, y;
	char sz[32];

	for (int ev = 0; ev < MT_EV_NR && !err; ev++)
		if (!(roots[ev] = node_new("all")))
			err = -ENOMEM;
	for (size_t i = 0; i < prof->n && !err; i++) {
		const struct mt_pstack *ps = &prof->stacks[i];

		if (ps->bytes > 0) /* malloc stacks whose blocks were all freed have none */
			err = add_stack(roots[ps->event], ps);
	}
	if (err)
		goto cleanup;
	for (int ev = 0; ev < MT_EV_NR; ev++) {
		if (!roots[ev]->value)
			continue;
		sort_tree(roots[ev]);
		depth[ev] = max_depth(roots[ev]);
		height += GRAPH_HEAD + depth[ev] * FRAME_H + 10;
	}
	fprintf(out,
		"<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n"
		"<style>text{font:12px monospace;pointer-events:none}g.f:hover "
		"rect{stroke:#000}g.f{cursor:pointer}"
		".b{cursor:pointer;fill:#369;font:12px sans-serif;pointer-events:auto}"
		".h{font:13px sans-serif}.matched{font:12px sans-serif;fill:#606}</style>\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#f8f8f0\"/>\n",
		(int)SVG_WIDTH, height, (int)SVG_WIDTH, height);
	fputs("<text x=\"600\" y=\"18\" text-anchor=\"middle\" style=\"font:15px "
	      "sans-serif\">memory growth: ",
	      out);
	put_xml(out, title);
	fputs("</text>\n<text id=\"search\" class=\"b\" x=\"1140\" y=\"18\">search</text>\n", out);
	if (height == PAD_TOP)
		fputs("<text x=\"600\" y=\"34\" text-anchor=\"middle\" class=\"h\">nothing "
		      "recorded</text>\n",
		      out);
	y = PAD_TOP;
	for (int ev = 0; ev < MT_EV_NR; ev++) {
		int gh;

		if (!roots[ev]->value)
			continue;
		gh = GRAPH_HEAD + depth[ev] * FRAME_H;
		format_size(sz, sizeof(sz), roots[ev]->value);
		fprintf(out,
			"<g class=\"fg\" data-event=\"%s\" data-bytes=\"%" PRIu64
			"\" transform=\"translate(0,%d)\">\n"
			"<text class=\"h\" x=\"10\" y=\"14\">%s, %s</text>\n"
			"<text class=\"b reset\" x=\"1100\" y=\"14\">reset zoom</text>\n"
			"<text class=\"matched\" x=\"700\" y=\"14\"></text>\n",
			mt_event_name(ev), roots[ev]->value, y, graph_what[ev], sz);
		emit(out, roots[ev], roots[ev]->value, 0, 0, gh);
		fputs("</g>\n", out);
		y += gh + 10;
	}
	fputs(svg_script, out);
	fputs("</svg>\n", out);
cleanup:
	for (int ev = 0; ev < MT_EV_NR; ev++)
		node_free(roots[ev]);
	return err ? err : (ferror(out) ? -EIO : 0);
}
