/* twkit bench's strategies, one row each in one table (strategy.c).
 *
 * Everything that differs between two ways of ending a connection is a
 * field of its row: the engine (run.c and the client files), twkit bench's
 * options and help, the report and twkit demo read the row and never test
 * a strategy's name. Adding one: docs/DESIGN.md, "twkit bench and twkit
 * demo". */
#ifndef TB_STRATEGY_H
#define TB_STRATEGY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "twkit/client.h"
#include "twkit/server.h"

struct tb_result;

#define TB_RAW_ECHO_MAX 4096 /* raw.c's echo: one read, one write */

/* What the client does once the reply is in. */
enum tb_after {
    TB_AFTER_CLOSE, /* close first, FIN (twp: tw_client_close) */
    TB_AFTER_ABORT, /* abort, RST (SO_LINGER 0) */
    TB_AFTER_WAIT,  /* nothing: the server ends it (twp: DONE, GOODBYE or
                       its FIN; HTTP: its FIN), then the client closes or
                       aborts as that ending says */
    TB_AFTER_AGAIN, /* another request on the same connection (twp: a
                       tw_pool; HTTP: keep-alive); a session is a request */
};

/* Who holds TIME_WAIT once sessions ended as meant, with twkit's server. */
enum tb_holder { TB_HOLDS_NOBODY, TB_HOLDS_CLIENT, TB_HOLDS_SERVER };

struct tb_strategy {
    const char *name;  /* --close NAME; the table, JSON, CSV and chart */
    const char *help;  /* twkit bench --help; '\n' between its lines */
    bool raw;          /* no library code on either side, plain epoll
                          (raw.c): the client resets right after the
                          connect or, with server.echo, after the echo */
    /* the built-in server (a --target server must be told the same:
     * twkit serve --naive-close, --max-requests 1) */
    struct {
        bool echo;              /* raw: echo one request (at most
                                   TB_RAW_ECHO_MAX bytes) */
        bool naive_close;       /* close first after each reply */
        uint32_t max_requests;  /* DONE after this many; 0: never */
        enum tw_after_fin after_fin; /* its answer to the client's FIN */
    } server;
    /* the client */
    bool bye_first;            /* twp: BYE in the same write as the request */
    enum tb_after after;
    enum tw_client_end end;    /* twp, a tw_client per session (not raw, not
                                  pooled): a session counts when it ended so;
                                  any other ending is an error */
    enum tb_holder time_wait;
    /* --proto http */
    bool http;                 /* available with it */
    bool http_close;           /* the request says Connection: close */
    const char *color;         /* in the chart */
    /* twkit demo runs the strategies that have words, in table order:
     * shows  one line on what the run showed, from its numbers (the
     *        fields tb_strategy_say knows)
     * rule   the rule it illustrates */
    struct {
        const char *shows, *rule;
    } demo;
};

extern const struct tb_strategy tb_strategies[];
extern const unsigned tb_nstrategies;

const struct tb_strategy *tb_strategy_find(const char *name); /* NULL: none */

/* A session is a request, on connections that carry many. */
static inline bool tb_strategy_pooled(const struct tb_strategy *s)
{
    return s->after == TB_AFTER_AGAIN;
}

/* Print the names of the strategies that want() takes (NULL: all), in
 * table order, between them sep and before the last one last. */
void tb_strategy_list(FILE *f, bool (*want)(const struct tb_strategy *s), const char *sep,
                      const char *last);

/* ---- the demo's words ---- */

struct tb_say {
    const struct tb_result *r; /* the run */
    bool lab;                  /* it ran in the lab */
    double best;               /* the demo's best sessions/s of a strategy
                                  that is not pooled */
};

/* Print text with its fields filled in from the run:
 *   {name}        tw_client, tw_server (TIME_WAIT at the end), errors,
 *                 eaddrnotavail, ports (usable), ports_out_s (seconds to the
 *                 first EADDRNOTAVAIL), rate_after (sessions/s from then on),
 *                 ceiling (ports / 60 s), conns (new connections), requests,
 *                 req_rate (requests/s), vs_best (req_rate / best)
 *   {?name:TEXT}  TEXT when name is not 0; name may also be lab
 *   {!name:TEXT}  TEXT when it is 0
 * TEXT may hold fields and conditions in turn. f NULL: only check text.
 * Returns 0, or -1 for a name it does not know or a brace left open (the
 * output stops there). */
int tb_strategy_say(FILE *f, const char *text, const struct tb_say *ctx);

#endif
