/* What TIME_WAIT protects against, measured on this kernel (internal: for
 * twkit hazards and the tests, not part of libtwkit).
 *
 * A hazard is a fact run twice, in a fresh lab each time: once with its
 * protection in place (TIME_WAIT, tcp_rfc1337, timestamps, a graceful
 * close, an RST that arrives) and once with it removed. Each run records
 * what this kernel did, in numbers, whether that is what it was expected
 * to do, and the TcpExt counters that moved in each namespace. A hazard
 * whose protection has a middle way (tcp_tw_reuse: TIME_WAIT taken over
 * early, safe only with timestamps) runs a third time, "middle"; it goes
 * last in run[] so that run[0] and run[1] mean the same for every hazard.
 */
#ifndef TW_LAB_HAZARDS_H
#define TW_LAB_HAZARDS_H

#include <stdbool.h>
#include <stddef.h>

#define TW_HZ_NVALS 20

enum { TW_HZ_KEPT = 0, TW_HZ_REMOVED = 1, TW_HZ_MIDDLE = 2, TW_HZ_NRUNS = 3 };

struct tw_hazard_run {
    const char *label;    /* the setting, "tcp_rfc1337=1" */
    bool ran;
    bool as_expected;     /* this kernel did what the hazard expects of it */
    char brief[72];       /* the outcome in a few words, for the summary */
    char text[1000];      /* measured, for people */
    char counters[400];   /* "client TWKilled +1; server PAWSEstab +1" */
    char pcap[300];       /* the file written with --pcap, or "" */
    int nvals;
    struct { const char *key; double v; } vals[TW_HZ_NVALS];
};

struct tw_hazard_result {
    /* TW_HZ_KEPT, TW_HZ_REMOVED and, for a hazard with one, TW_HZ_MIDDLE
     * (ran is false when the hazard has no middle run) */
    struct tw_hazard_run run[TW_HZ_NRUNS];
    char err[300];               /* why it could not be measured */
    double seconds;
};

struct tw_hazard_opts {
    const char *pcap_dir; /* write NAME-kept.pcap, NAME-removed.pcap (NAME-middle.pcap) here */
};

struct tw_hazard {
    const char *name;    /* for --only */
    const char *title;   /* the hazard */
    const char *claim;   /* what the classic texts say */
    const char *removed; /* the protection, and how the second run removes it */
    const char *rule;    /* the practical rule, in plain words */
    void (*run)(struct tw_hazard_result *r, const struct tw_hazard_opts *o); /* root */
};

extern const struct tw_hazard tw_hazards[];
extern const size_t tw_nhazards;

/* "kept", "removed", "middle": the run's name in the output and pcap files.
 * Inline: hz_lib.c names its pcap files with it, and a call into hazards.c
 * (which calls the hz_*.c runs) would make the objects call round. */
static inline const char *tw_hazard_run_name(int which)
{
    return which == TW_HZ_KEPT ? "kept" : which == TW_HZ_MIDDLE ? "middle" : "removed";
}

/* The row of that name, or NULL. */
const struct tw_hazard *tw_hazard_find(const char *name);

/* Run one hazard: all its runs, timed. */
void tw_hazard_run(const struct tw_hazard *h, struct tw_hazard_result *r,
                   const struct tw_hazard_opts *o);

/* Every run went (the middle one too, if the hazard has one) and did what
 * this kernel is expected to do. */
bool tw_hazard_held(const struct tw_hazard_result *r);

#endif
