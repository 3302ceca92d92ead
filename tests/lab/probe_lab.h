/* The probe lab tests' shared part (probe_lab.c): every tests/lab/test_probe*.c
 * suite runs with .init = pl_setup, .fini = pl_teardown and uses these.
 * Targets run in the server namespace, the prober in the client namespace;
 * every process spawned is killed and reaped in pl_teardown. */
#ifndef TW_TEST_PROBE_LAB_H
#define TW_TEST_PROBE_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "need_root.h"
#include "lab/lab.h"

/* spawn/run's side for the test's own network namespace (no lab). */
#define PL_HERE ((enum tw_lab_side)2)

extern struct tw_lab lab;
extern char tmpdir[64];
extern char
    *scratch; /* the latest read of a polled file, freed in pl_teardown */

void *keep(void *p);
void pl_setup(void);
void pl_setup_here(void);
void pl_teardown(void);
char *tpath(char *buf, size_t len, const char *name);
__attribute__((format(printf, 2, 3))) void write_file(const char *name,
                                                      const char *fmt, ...);
char *read_all(const char *name);
char *slurp(const char *name);
int count_of(const char *text, const char *needle);
int wait_for(const char *name, const char *needle, int min, uint64_t ms);
__attribute__((format(printf, 2, 3))) pid_t spawn(enum tw_lab_side side,
                                                  const char *fmt, ...);
void forget(pid_t pid);
bool wait_exit(pid_t pid, uint64_t ms, int *status);
int stop(pid_t pid, int sig, uint64_t ms);
__attribute__((format(printf, 3, 4))) int
run(enum tw_lab_side side, uint64_t ms, const char *fmt, ...);
void drop_proto_port(const char *proto, unsigned port);
void drop_port(unsigned port);
void wait_listening(enum tw_lab_side side, uint16_t port, const char *what);
uint32_t time_wait(enum tw_lab_side side);
/* TIME_WAIT sockets of side's namespace whose peer is not a loopback
 * address: the probes', not those of the test's own curl to /probe. */
int time_wait_off_loopback(enum tw_lab_side side);
pid_t start_twp_server(uint16_t port);
char *fetch_from(enum tw_lab_side side, const char *url, const char *opts, const char *out);
char *fetch(const char *url, const char *out);
char **split_lines(char *text, size_t *n);
const char *jfind(const char *line, const char *key);
bool jstr(const char *line, const char *key, char *out, size_t len);
bool jnum(const char *line, const char *key, double *out);
double jphase(const char *line, const char *phase);
const char *line_of(char **lines, size_t n, const char *name);
void expect_str(const char *line, const char *key, const char *want);
double expect_num(const char *line, const char *key);
double sample(const char *text, const char *series);
void expect_sample(const char *text, const char *series, double lo, double hi);
void make_cert_named(const char *cert, const char *key, long from_s, long to_s, const char *cn,
                     const char *org, const char *san);
void make_cert(const char *cert, const char *key, long from_s, long to_s);
pid_t start_tls_server(uint16_t port, const char *cert, const char *key);
void prom_value(const char *json, const char *label, const char *value,
                char *out, size_t len);

/* One sample of a /probe answer. */
struct pl_series {
    char name[160]; /* name{labels} as written */
    char fam[96];   /* the name alone */
    double v;
};

struct pl_answer {
    struct pl_series s[64];
    size_t n;
};

void pl_parse(const char *text, struct pl_answer *a);
const struct pl_series *pl_find(const struct pl_answer *a, const char *name);
/* /probe of module and target from the exporter on port (scrape timeout
 * 2 s), from the client namespace; the answer (slurped from out). */
char *pl_probe(unsigned port, const char *module, const char *target, const char *out);
/* Both exporters' answers (blackbox_exporter on bb_port, twkit on
 * tw_port) for module and target: the same series, the same values, and
 * with timed, durations within a factor of 2 or 5 ms (probed again, 3
 * times at most, when only durations disagree); without, durations are not
 * compared (a probe that twkit ends at once and blackbox at its timeout).
 * Returns probe_success. */
int pl_compare(unsigned bb_port, unsigned tw_port, const char *module, const char *target,
               bool timed);

#endif
