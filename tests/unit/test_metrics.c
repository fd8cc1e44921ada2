// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "metrics.h"

/* the rendering of one label value, malloc'd */
static char *label(const char *value)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(metrics_write_label_value(f, value), 0);
	fclose(f);
	return buf;
}

static void check_label(const char *value, const char *want)
{
	char *got = label(value);

	assert_string_equal(got, want);
	free(got);
}

static void test_metrics__label_escapes(void **state)
{
	check_label("plain", "\"plain\"");
	check_label("", "\"\"");
	check_label("a\"b\\c\nd", "\"a\\\"b\\\\c\\nd\"");
	/* the exposition format has no other escapes: tabs and '}' pass as they are */
	check_label("t\tx}{,=", "\"t\tx}{,=\"");
	/* valid UTF-8 is kept, byte for byte */
	check_label("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x98",
		    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x98\"");
}

static void test_metrics__label_invalid_utf8(void **state)
{
	/* each bad byte becomes U+FFFD: the formats require UTF-8 */
	check_label("bad\xff\xfe", "\"bad\xef\xbf\xbd\xef\xbf\xbd\"");
	/* overlong '/', a surrogate, beyond U+10FFFF, a cut sequence */
	check_label("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	check_label("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	check_label("\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	check_label("x\xe2\x82", "\"x\xef\xbf\xbd\xef\xbf\xbd\"");
}

static void test_metrics__accept(void **state)
{
	assert_int_equal(metrics_format_for_accept(NULL), METRICS_PROMETHEUS);
	assert_int_equal(metrics_format_for_accept(""), METRICS_PROMETHEUS);
	assert_int_equal(metrics_format_for_accept("text/plain"), METRICS_PROMETHEUS);
	assert_int_equal(metrics_format_for_accept("*/*"), METRICS_PROMETHEUS);
	/* what Prometheus 2.42 sends */
	assert_int_equal(
	    metrics_format_for_accept(
		"application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
		"version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
	    METRICS_OPENMETRICS);
	assert_int_equal(metrics_format_for_accept("text/plain, application/openmetrics-text"),
			 METRICS_OPENMETRICS);
	assert_int_equal(metrics_format_for_accept("Application/OpenMetrics-Text; version=1.0.0"),
			 METRICS_OPENMETRICS);
	/* q=0 refuses it; a longer type is another type */
	assert_int_equal(metrics_format_for_accept("application/openmetrics-text;q=0, text/plain"),
			 METRICS_PROMETHEUS);
	assert_int_equal(metrics_format_for_accept("application/openmetrics-textual"),
			 METRICS_PROMETHEUS);
}

static char *render(enum metrics_format fmt, const struct metrics_group *g, size_t n,
		    const struct metrics_self *self)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(metrics_render(f, fmt, g, n, self), 0);
	fclose(f);
	return buf;
}

static const struct metrics_prog progs[] = { { "handle_fault", 0.25, 1000 } };
static const double le[] = { 0.5, 1.1 };
static const uint64_t le_count[] = { 3, 7 };

static void fixture(struct metrics_group g[2], struct metrics_self *self)
{
	memset(g, 0, 2 * sizeof(*g));
	g[0] = (struct metrics_group){
		.label = "bash",
		.processes = 2,
		.resident_anon_bytes = 4096,
		.resident_file_bytes = 8192,
		.resident_shmem_bytes = 0,
		.resident_peak_bytes = 20480,
		.swap_bytes = 1,
		.have_smaps = true,
		.pss_bytes = 10000,
		.uss_bytes = 3000,
		.swap_pss_bytes = 7,
		.page_faults = 12345678901ULL,
		.mapped_bytes = 65536,
		.unmapped_bytes = 4096,
	};
	g[1] = (struct metrics_group){ .label = "we\"ird\n",
				       .processes = 1,
				       .resident_anon_bytes = 1 };
	memset(self, 0, sizeof(*self));
	self->group_by = "program";
	self->dropped[MT_DROP_PROCS_FULL] = 3;
	self->progs = progs;
	self->nr_progs = 1;
	self->bpf_stats = true;
	self->polls = 9;
	self->poll_le = le;
	self->poll_le_count = le_count;
	self->nr_poll_le = 2;
	self->poll_intervals = 8;
	self->poll_interval_seconds_sum = 7.5;
}

static void test_metrics__render_prometheus(void **state)
{
	struct metrics_group g[2];
	struct metrics_self self;
	char *text;

	fixture(g, &self);
	text = render(METRICS_PROMETHEUS, g, 2, &self);
	assert_non_null(strstr(text, "# TYPE memtrace_resident_bytes gauge\n"));
	assert_non_null(
	    strstr(text, "memtrace_resident_bytes{program=\"bash\",type=\"anon\"} 4096\n"));
	assert_non_null(
	    strstr(text, "memtrace_resident_bytes{program=\"bash\",type=\"file\"} 8192\n"));
	assert_non_null(
	    strstr(text, "memtrace_resident_bytes{program=\"we\\\"ird\\n\",type=\"anon\"} 1\n"));
	/* Prometheus text names the counter family with its _total */
	assert_non_null(strstr(text, "# TYPE memtrace_page_faults_total counter\n"));
	assert_non_null(strstr(text, "memtrace_page_faults_total{program=\"bash\"} 12345678901\n"));
	assert_non_null(strstr(text, "memtrace_pss_bytes{program=\"bash\"} 10000\n"));
	/* no smaps reading: no PSS rather than a zero */
	assert_null(strstr(text, "memtrace_pss_bytes{program=\"we"));
	assert_null(strstr(text, "memtrace_uss_bytes{program=\"we"));
	assert_non_null(
	    strstr(text, "memtrace_dropped_events_total{reason=\"procs_table_full\"} 3\n"));
	assert_non_null(
	    strstr(text, "memtrace_bpf_run_seconds_total{program=\"handle_fault\"} 0.25\n"));
	assert_non_null(strstr(text, "memtrace_polls_total 9\n"));
	/* the poll interval histogram: cumulative buckets, +Inf equal to the count */
	assert_non_null(strstr(text, "# TYPE memtrace_poll_interval_seconds histogram\n"
				     "memtrace_poll_interval_seconds_bucket{le=\"0.5\"} 3\n"
				     "memtrace_poll_interval_seconds_bucket{le=\"1.1\"} 7\n"
				     "memtrace_poll_interval_seconds_bucket{le=\"+Inf\"} 8\n"
				     "memtrace_poll_interval_seconds_sum 7.5\n"
				     "memtrace_poll_interval_seconds_count 8\n"));
	assert_null(strstr(text, "# EOF"));
	/* every family is declared once */
	for (const char *p = text; (p = strstr(p, "# TYPE ")); p++) {
		const char *name = p + 7;
		size_t len = strcspn(name, " ");
		char needle[128];

		snprintf(needle, sizeof(needle), "# TYPE %.*s ", (int)len, name);
		assert_ptr_equal(strstr(text, needle), p);
	}
	free(text);
}

static void test_metrics__render_openmetrics(void **state)
{
	struct metrics_group g[2];
	struct metrics_self self;
	char *text;
	size_t len;

	fixture(g, &self);
	g[0].pid = 42;
	g[1].pid = 43;
	self.bpf_stats = false;
	text = render(METRICS_OPENMETRICS, g, 2, &self);
	len = strlen(text);
	/* OpenMetrics names the family without _total, the samples with it */
	assert_non_null(strstr(text, "# TYPE memtrace_page_faults counter\n"));
	assert_null(strstr(text, "# TYPE memtrace_page_faults_total"));
	assert_non_null(
	    strstr(text, "memtrace_page_faults_total{program=\"bash\",pid=\"42\"} 12345678901\n"));
	assert_non_null(strstr(
	    text, "memtrace_resident_bytes{program=\"bash\",pid=\"42\",type=\"anon\"} 4096\n"));
	/* no BPF statistics: no made-up cost */
	assert_null(strstr(text, "memtrace_bpf_run_seconds"));
	assert_true(len > 6 && strcmp(text + len - 6, "# EOF\n") == 0);
	free(text);
}

static void test_metrics__render_empty(void **state)
{
	struct metrics_self self = { .group_by = "cgroup" };
	char *text = render(METRICS_PROMETHEUS, NULL, 0, &self);

	/* families are declared even with no series, and memtrace's own figures are there */
	assert_non_null(strstr(text, "# TYPE memtrace_resident_bytes gauge\n"));
	assert_null(strstr(text, "memtrace_resident_bytes{"));
	assert_non_null(strstr(text, "memtrace_cut_series 0\n"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics__label_escapes),
		cmocka_unit_test(test_metrics__label_invalid_utf8),
		cmocka_unit_test(test_metrics__accept),
		cmocka_unit_test(test_metrics__render_prometheus),
		cmocka_unit_test(test_metrics__render_openmetrics),
		cmocka_unit_test(test_metrics__render_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
