/* The Prometheus text exposition format (version 0.0.4), written to a
 * stdio stream: `twkit serve`'s and `twkit probe`'s /metrics.
 *
 *   # HELP twkit_probes_total Probe results by definition
 *   # TYPE twkit_probes_total counter
 *   twkit_probes_total{name="api",kind="http",result="success"} 12
 *
 * A family is declared with tu_prom_family; its HELP and TYPE lines go out
 * just before its first sample, once, so a family with no sample writes
 * nothing (an announced family without samples is noise to promtool).
 * Write each family's samples before declaring the next: the format wants
 * a family's lines together. Label values are escaped here (\\, \", \n),
 * and so is the HELP text (\\, \n); names are the caller's constants.
 *
 * The caller picks the stream: probe's /metrics, one line per target, can
 * be megabytes and goes to an open_memstream; so does serve's, which is a
 * few KiB. Stream errors stay in the stream (ferror, fclose).
 */
#ifndef TW_UTIL_PROM_H
#define TW_UTIL_PROM_H

#include <stdbool.h>
#include <stdio.h>

enum tu_prom_type { TU_PROM_COUNTER, TU_PROM_GAUGE, TU_PROM_HISTOGRAM };

struct tu_prom {
    FILE *f;
    const char *name, *help; /* the family being written; help may be NULL */
    enum tu_prom_type type;
    bool head_done;          /* its HELP and TYPE lines are out */
    unsigned nlabels;        /* labels so far in the sample being written */
};

void tu_prom_init(struct tu_prom *p, FILE *f);

/* The family the next samples belong to. Declaring the family that is
 * already current again changes nothing (no second head). name and help
 * must live until the next family is declared. */
void tu_prom_family(struct tu_prom *p, const char *name, enum tu_prom_type type,
                    const char *help);

/* A sample of the current family, value printed by fmt: with the labels
 * of `labels`, a set rendered earlier with tu_prom_render_label (NULL or ""
 * for none), or with one label key="value". */
void tu_prom_sample(struct tu_prom *p, const char *labels, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tu_prom_sample_label(struct tu_prom *p, const char *key, const char *value,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A sample in steps, for a suffix (_bucket, _sum, _count) or several
 * labels: begin, then labels in the order wanted, then the value. */
void tu_prom_begin(struct tu_prom *p, const char *suffix); /* suffix may be NULL */
void tu_prom_label(struct tu_prom *p, const char *key, const char *value);
void tu_prom_labels(struct tu_prom *p, const char *labels); /* rendered; NULL/"": none */
void tu_prom_value(struct tu_prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* key="value" with the value escaped, to f: for a label set rendered once
 * and reused for every sample (probe's per-target labels). Separate the
 * labels of a set with ','. */
void tu_prom_render_label(FILE *f, const char *key, const char *value);

#endif
