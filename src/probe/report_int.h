/* twkit probe: the SLA report's data, between its builder (report.c reads
 * the history) and its writers (report_out.c: text, JSON, HTML). */
#ifndef TW_PROBE_REPORT_INT_H
#define TW_PROBE_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "probe/store.h"
#include "probe/store_hist.h"

enum { RP_DAY, RP_WEEK, RP_MONTH, RP_NUNITS };

/* Time in a period or the whole range: span is the time of the range the
 * target was known in (from its first result on); unknown is span less up
 * and down. */
struct rp_acc {
    double up, down, local, span;
};

struct rp_incident {
    double start, end;        /* end: when it ended, or until if ongoing */
    bool recovered;           /* ended by a change to up (counts in MTTR) */
    bool ongoing;             /* still down at until, in the running prober */
    bool by_run;              /* ended with the prober's run (stopped or
                                 killed), not by a state change */
    const char *reason, *detail;
};

/* A target, or the sum of a probe's targets (target NULL). */
struct rp_item {
    const char *probe, *target, *kind, *labels;
    int64_t id;
    double first_seen;        /* its first result; 0: unknown */
    double from;              /* where its part of the range starts */
    double last_data;         /* the end of its last row; 0: none */
    struct rp_acc all;
    struct rp_acc *per[RP_NUNITS];
    uint64_t ok, fail, local;
    uint64_t lat_sum_us, lat_min_us, lat_max_us; /* of successes */
    uint32_t hist[TP_LH_N];
    struct rp_incident *inc;
    size_t ninc;
    /* outages, over inc (probes: over their targets') */
    size_t incidents, recovered;
    double longest, recovered_sum;
    size_t ntargets;          /* a probe's */
};

struct rp_period {
    int64_t start, end;       /* the whole period; the range may cut it */
};

struct rp_probe {
    struct rp_item sum;
    size_t first, n;          /* its targets in items */
};

struct rp {
    const struct tp_report_opts *o;
    const char *zone;         /* NULL: UTC */
    double since, until;      /* the range, since rounded to the rows */
    double since_asked, now;
    struct rp_period *per[RP_NUNITS];
    size_t nper[RP_NUNITS];
    struct rp_item *items;    /* by probe, then target */
    size_t nitems;
    struct rp_probe *probes;
    size_t nprobes;
    char note[256];           /* "" or what the reader should know */
};

/* The writers (report_out.c). */
void rp_write_text(const struct rp *r, FILE *f);
void rp_write_json(const struct rp *r, FILE *f);
void rp_write_html(const struct rp *r, FILE *f);

/* A period's name: "2026-12-01", "2026-W49", "2026-12". */
void rp_period_name(const struct rp *r, int unit, int64_t start, char *buf, size_t len);
/* t as "2026-12-01T10:00:00Z" in UTC, or with the report zone's offset. */
void rp_time_str(const struct rp *r, double t, char *buf, size_t len);

#endif
