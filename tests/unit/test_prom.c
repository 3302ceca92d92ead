/* The Prometheus text writer (util/prom.c) behind serve's and probe's
 * /metrics: label escaping, and HELP/TYPE once per family, before its
 * first sample, never for a family without one. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/prom.h"

static FILE *f;
static char *out;
static size_t len;
static struct tu_prom p;

static void open_out(void)
{
    out = NULL;
    cr_assert_not_null(f = open_memstream(&out, &len));
    tu_prom_init(&p, f);
}

/* What was written so far, NUL-terminated; the stream stays open. */
static const char *written(void)
{
    cr_assert_eq(fflush(f), 0);
    return out;
}

static void close_out(void)
{
    fclose(f);
    free(out);
}

TestSuite(prom, .init = open_out, .fini = close_out);

Test(prom, label_values_escape_backslash_quote_and_newline)
{
    tu_prom_family(&p, "t", TU_PROM_GAUGE, NULL);
    tu_prom_sample_label(&p, "v", "a\\b\"c\nd", "%d", 1);
    tu_prom_sample_label(&p, "v", "plain 'text' {,} =", "%d", 2);
    tu_prom_sample_label(&p, "v", "", "%d", 3);
    tu_prom_sample_label(&p, "v", "\\\\\"\n\n", "%d", 4);
    cr_assert_str_eq(written(), "# TYPE t gauge\n"
                                "t{v=\"a\\\\b\\\"c\\nd\"} 1\n"
                                "t{v=\"plain 'text' {,} =\"} 2\n"
                                "t{v=\"\"} 3\n"
                                "t{v=\"\\\\\\\\\\\"\\n\\n\"} 4\n");
}

Test(prom, a_rendered_label_set_is_escaped_the_same_way)
{
    char *set = NULL;
    size_t n = 0;
    FILE *s = open_memstream(&set, &n);

    cr_assert_not_null(s);
    tu_prom_render_label(s, "name", "x\"y");
    fputc(',', s);
    tu_prom_render_label(s, "path", "C:\\tmp\nz");
    cr_assert_eq(fclose(s), 0);
    cr_assert_str_eq(set, "name=\"x\\\"y\",path=\"C:\\\\tmp\\nz\"");

    tu_prom_family(&p, "t", TU_PROM_GAUGE, NULL);
    tu_prom_begin(&p, NULL);
    tu_prom_labels(&p, set);
    tu_prom_label(&p, "phase", "a\"b");
    tu_prom_value(&p, "%.1f", 0.5);
    cr_assert_str_eq(written(), "# TYPE t gauge\n"
                                "t{name=\"x\\\"y\",path=\"C:\\\\tmp\\nz\",phase=\"a\\\"b\"} 0.5\n");
    free(set);
}

Test(prom, help_and_type_once_per_family_before_its_first_sample)
{
    tu_prom_family(&p, "a_total", TU_PROM_COUNTER, "Things counted.");
    tu_prom_sample_label(&p, "k", "x", "%d", 1);
    tu_prom_sample_label(&p, "k", "y", "%d", 2);
    tu_prom_family(&p, "a_total", TU_PROM_COUNTER, "Things counted."); /* again: no new head */
    tu_prom_sample_label(&p, "k", "z", "%d", 3);
    tu_prom_family(&p, "b", TU_PROM_GAUGE, "A gauge.");
    tu_prom_sample(&p, NULL, "%d", 7);
    cr_assert_str_eq(written(), "# HELP a_total Things counted.\n"
                                "# TYPE a_total counter\n"
                                "a_total{k=\"x\"} 1\n"
                                "a_total{k=\"y\"} 2\n"
                                "a_total{k=\"z\"} 3\n"
                                "# HELP b A gauge.\n"
                                "# TYPE b gauge\n"
                                "b 7\n");
}

Test(prom, a_family_without_samples_writes_nothing)
{
    tu_prom_family(&p, "empty", TU_PROM_GAUGE, "Never sampled.");
    tu_prom_family(&p, "also_empty", TU_PROM_COUNTER, "Nor this.");
    cr_assert_str_eq(written(), "");
    tu_prom_family(&p, "c", TU_PROM_GAUGE, "Sampled.");
    tu_prom_sample(&p, "", "%d", 0);
    cr_assert_str_eq(written(), "# HELP c Sampled.\n# TYPE c gauge\nc 0\n");
}

Test(prom, help_text_escapes_backslash_and_newline_not_quotes)
{
    tu_prom_family(&p, "h", TU_PROM_GAUGE, "a \"b\" c\\d\ne");
    tu_prom_sample(&p, NULL, "%d", 1);
    cr_assert_str_eq(written(), "# HELP h a \"b\" c\\\\d\\ne\n# TYPE h gauge\nh 1\n");
}

Test(prom, a_histogram_s_suffixes_share_one_head)
{
    tu_prom_family(&p, "lat_seconds", TU_PROM_HISTOGRAM, "Latency.");
    tu_prom_begin(&p, "_bucket");
    tu_prom_label(&p, "le", "0.5");
    tu_prom_value(&p, "%d", 1);
    tu_prom_begin(&p, "_bucket");
    tu_prom_label(&p, "le", "+Inf");
    tu_prom_value(&p, "%d", 2);
    tu_prom_begin(&p, "_sum");
    tu_prom_value(&p, "%.3f", 0.75);
    tu_prom_begin(&p, "_count");
    tu_prom_value(&p, "%d", 2);
    cr_assert_str_eq(written(), "# HELP lat_seconds Latency.\n"
                                "# TYPE lat_seconds histogram\n"
                                "lat_seconds_bucket{le=\"0.5\"} 1\n"
                                "lat_seconds_bucket{le=\"+Inf\"} 2\n"
                                "lat_seconds_sum 0.750\n"
                                "lat_seconds_count 2\n");
}
