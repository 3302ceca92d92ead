/* twkit probe: the status page, GET / on --listen (statuspage.c renders
 * it, statuspage_engine.c feeds it from the engine; docs/PROBE.md, "Status
 * page").
 *
 * One HTML document, nothing else fetched: inline CSS, an inline SVG for
 * each bar and sparkline, no script (it refreshes itself with <meta
 * http-equiv=refresh>). Every byte of user data (probe names, targets,
 * labels, details) goes through one escaper.
 *
 * The renderer knows nothing of the engine: it takes rows (struct
 * tp_status_row), the engine's view of each target now, and optionally a
 * history (struct tp_status_history), which a store of past results
 * implements; without one, the 90-day bar shows the day the engine knows
 * (today, since the prober started) and says that history is not
 * configured.
 */
#ifndef TW_PROBE_STATUSPAGE_H
#define TW_PROBE_STATUSPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "probe/probe.h"

#define TP_STATUS_REFRESH_S 30  /* default <meta refresh> */
#define TP_STATUS_SAMPLES 60    /* default durations kept per target */
#define TP_STATUS_DAYS 90       /* days in a bar */
#define TP_STATUS_BIG 50        /* a probe with more targets than this shows
                                   its down ones in full, the rest collapsed */
#define TP_STATUS_FULL_MAX 300  /* rows drawn in full (bar, sparkline) on one
                                   page; past it every row is a compact line */
#define TP_STATUS_SERIES 96     /* a history's sparkline: points over 24 h */

/* The past of a target, from a store (optional; NULL: none). Targets are
 * named by the probe's name and the target as shown (a URL's password as
 * xxxxx: the history never holds a secret). Days are UTC days:
 * day0 is the unix time of 00:00 UTC of the first. Called on the prober's
 * main thread while the page is built, only for the rows drawn in full
 * (TP_STATUS_FULL_MAX at most a page): they must not block for long.
 *
 * daily_uptime: for each of ndays days from day0, the target's uptime
 *   that day, 0..1 (the history's: up time over up and down time), or -1
 *   where the store knows nothing; into out[0..ndays-1]. Local errors count
 *   neither way. Today, when the store knows nothing of it yet, is the
 *   engine's: the share of today's results that succeeded.
 * latency_series: NULL, or the mean duration (seconds) of the successful
 *   results in each of npoints equal spans of [from, to), or -1 for a span
 *   without one; into out[0..npoints-1]. With it the sparkline shows the
 *   last 24 h (TP_STATUS_SERIES points); without, the engine's latest
 *   results.
 * Each returns 0, or -errno: the page then shows what the engine knows for
 * that target and says the history could not be read. */
struct tp_status_history {
    void *arg;
    int (*daily_uptime)(void *arg, const char *probe, const char *target, time_t day0, int ndays,
                        float *out);
    int (*latency_series)(void *arg, const char *probe, const char *target, time_t from,
                          time_t to, int npoints, float *out);
};

/* One target as the page shows it. Rows of one probe come together (the
 * engine's order: probes in config order, their targets in order). */
struct tp_status_row {
    const char *probe;         /* the probe's name */
    const char *kind;          /* "tcp", "http"... */
    const char *target;        /* shown (a URL's password as xxxxx) */
    const char *group;         /* the value of the grouping label; NULL: the
                                  target has none */
    enum tp_state state;
    double since;              /* unix seconds: the state's start (or when the
                                  prober first knew the target); 0: unknown */
    bool have_last;            /* a success or failure came */
    enum tp_outcome outcome;   /* of the last one */
    const char *reason;        /* failure: the log's reason word */
    const char *detail;        /* failure: text for people; may be "" */
    double duration;           /* seconds */
    int local_err;             /* the last attempt was a local error: its errno */
    const struct tp_recent *recent; /* the engine's memory; NULL: none */
};

struct tp_status_view {
    const struct tp_status_row *rows;
    size_t nrows;
    const char *group_label;   /* grouped by this label (with the probes in
                                  each group); NULL: by probe */
    unsigned refresh_s;        /* <meta refresh>; 0: none */
    double now;                /* unix seconds */
    const struct tp_status_history *history;
    bool blackbox;             /* /probe is served (the footer says so) */
};

/* The page. Returns 0, or -ENOMEM (f then holds part of it). */
int tp_status_render(const struct tp_status_view *v, FILE *f);

/* The targets of a view as rows (statuspage_engine.c), in the config's order,
 * grouped by label (NULL or "name": the probe; "kind": the kind; any
 * other: that label of the target, its targets-file line's over its
 * probe's). Returns 0 and *rows (malloc'd, *n of them; they point into
 * v's targets, valid until they change), or -ENOMEM. */
int tp_status_rows(const struct tp_view *v, const char *group_label,
                   struct tp_status_row **rows, size_t *n);

/* The page for /probe alone (no CONFIG): the endpoints. */
void tp_status_endpoints(bool blackbox, FILE *f);

/* s escaped for HTML text and double-quoted attribute values: & < > " '
 * as character references, C0 and C1 controls (but tab and newline) and
 * bytes that are not UTF-8 as U+FFFD. */
void tp_html_esc(FILE *f, const char *s);

#endif
