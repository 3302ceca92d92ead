/* The TCP facts twkit is built on, measured on this kernel (internal: for
 * twkit facts and the tests, not part of libtwkit). */
#ifndef TW_LAB_FACTS_H
#define TW_LAB_FACTS_H

#include <stdbool.h>
#include <stddef.h>

#define TW_FACT_NVALS 10

struct tw_fact_result {
    bool pass;
    char text[200];   /* measured, for people */
    char err[300];    /* why the fact could not be measured */
    int nvals;
    struct { const char *key; double v; } vals[TW_FACT_NVALS];
};

struct tw_fact {
    const char *id, *claim;
    void (*run)(struct tw_fact_result *r); /* needs root */
};

extern const struct tw_fact tw_facts[];
extern const size_t tw_nfacts;

#endif
