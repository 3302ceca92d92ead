/* The bench's strategy table (src/bench/strategy.c): every row complete and
 * consistent with what the engine reads from it, and the demo's words
 * filled in exactly. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

/* What text says about r, as a string (static). */
static const char *said(const char *text, const struct tb_result *r, bool lab, double best)
{
    static char *buf;
    size_t len;
    struct tb_say ctx = {.r = r, .lab = lab, .best = best};
    FILE *f;

    free(buf);
    cr_assert_not_null(f = open_memstream(&buf, &len));
    cr_assert_eq(tb_strategy_say(f, text, &ctx), 0, "%s", text);
    fclose(f);
    return buf;
}

static const char *listed(bool (*want)(const struct tb_strategy *s), const char *last)
{
    static char *buf;
    size_t len;
    FILE *f;

    free(buf);
    cr_assert_not_null(f = open_memstream(&buf, &len));
    tb_strategy_list(f, want, ", ", last);
    fclose(f);
    return buf;
}

Test(strategy, every_row_is_complete_and_found_by_its_name)
{
    cr_assert_geq(tb_nstrategies, 8);
    for (unsigned i = 0; i < tb_nstrategies; i++) {
        const struct tb_strategy *s = &tb_strategies[i];
        cr_assert_not_null(s->name);
        cr_assert_lt(strlen(s->name), 14, "%s: the table's name column is 13 wide", s->name);
        cr_assert_eq(tb_strategy_find(s->name), s, "%s: one row per name", s->name);
        cr_assert_not_null(s->help, "%s", s->name);
        /* --help indents it by 16 columns */
        for (const char *p = s->help, *nl; *p; p = *nl ? nl + 1 : nl) {
            nl = strchrnul(p, '\n');
            cr_assert_leq(nl - p, 64, "%s: a help line over 80 columns", s->name);
        }
        cr_assert_not_null(s->color, "%s", s->name);
        cr_assert_eq((s->demo.shows == NULL), (s->demo.rule == NULL), "%s", s->name);
    }
    cr_assert_null(tb_strategy_find("sideways"));
    cr_assert_not_null(tb_strategy_find("abort"), "twkit bench's default");
}

/* The relations the client code relies on. */
Test(strategy, each_row_is_one_the_engine_can_run)
{
    for (unsigned i = 0; i < tb_nstrategies; i++) {
        const struct tb_strategy *s = &tb_strategies[i];
        if (s->raw) {
            cr_assert_eq(s->after, TB_AFTER_ABORT, "%s: raw clients reset", s->name);
            cr_assert(!s->http && !s->bye_first && !s->server.naive_close &&
                      !s->server.max_requests, "%s: raw has no library", s->name);
            cr_assert_eq(s->time_wait, TB_HOLDS_NOBODY, "%s", s->name);
            continue;
        }
        cr_assert(!s->server.echo, "%s: only the raw server echoes", s->name);
        cr_assert(!s->http_close || s->http, "%s", s->name);
        if (tb_strategy_pooled(s))
            continue;
        switch (s->after) {
        case TB_AFTER_CLOSE:
            cr_assert_eq(s->end, TW_CLIENT_END_CLOSED, "%s", s->name);
            cr_assert_eq(s->time_wait, TB_HOLDS_CLIENT, "%s: who closes first holds it", s->name);
            break;
        case TB_AFTER_ABORT:
            cr_assert_eq(s->end, TW_CLIENT_END_ABORTED, "%s", s->name);
            break;
        case TB_AFTER_WAIT:
            /* the server, or BYE, must end it, or a session never ends */
            cr_assert(s->server.naive_close || s->server.max_requests || s->bye_first,
                      "%s: waits for an end that never comes", s->name);
            cr_assert_eq(s->end, s->bye_first ? TW_CLIENT_END_GOODBYE
                                 : s->server.naive_close ? TW_CLIENT_END_SERVER_FIN
                                                         : TW_CLIENT_END_DONE, "%s", s->name);
            break;
        default:
            cr_assert_fail("%s", s->name);
        }
        if (s->server.naive_close)
            cr_assert_eq(s->time_wait, TB_HOLDS_SERVER, "%s", s->name);
        if (s->bye_first || s->after == TB_AFTER_ABORT)
            cr_assert_eq(s->time_wait, TB_HOLDS_NOBODY, "%s", s->name);
    }
}

static bool http_ok(const struct tb_strategy *s) { return s->http; }
static bool in_demo(const struct tb_strategy *s) { return s->demo.shows != NULL; }

Test(strategy, lists_in_table_order)
{
    cr_assert_str_eq(listed(NULL, ", "), "raw, raw-request, client-close, server-close, "
                                         "handshake, bye, abort, pool");
    cr_assert_str_eq(listed(http_ok, ", "), "client-close, server-close, abort, pool");
    cr_assert_str_eq(listed(in_demo, " and "), "client-close, server-close, handshake, bye, "
                                               "abort and pool");
}

Test(strategy, the_demo_words_name_only_fields_that_exist)
{
    for (unsigned i = 0; i < tb_nstrategies; i++)
        if (tb_strategies[i].demo.shows)
            cr_assert_eq(tb_strategy_say(NULL, tb_strategies[i].demo.shows, NULL), 0, "%s",
                         tb_strategies[i].name);
    cr_assert_eq(tb_strategy_say(NULL, "{tw_clients}", NULL), -1);
    cr_assert_eq(tb_strategy_say(NULL, "{?lab:x", NULL), -1);
    cr_assert_eq(tb_strategy_say(NULL, "{?lab}", NULL), -1);
    cr_assert_eq(tb_strategy_say(NULL, "{!nothing:x}", NULL), -1);
}

Test(strategy, the_demo_words_are_filled_in_as_they_were_printed)
{
    const struct tb_strategy *cc = tb_strategy_find("client-close");
    const struct tb_strategy *pool = tb_strategy_find("pool");
    static struct tb_result r;

    r.tw_client_end = 1950;
    r.tw_server_end = 0;
    r.usable_ports = 2000;
    r.exhausted_ms = 312;
    r.err[EADDRNOTAVAIL] = 1234;
    r.rate_after_exhaustion = 33.4;
    cr_assert_str_eq(said(cc->demo.shows, &r, true, 0),
                     "the client closed first and holds 1950 TIME_WAIT: its 2000 ports ran out "
                     "after 0.3 s (1234 EADDRNOTAVAIL, a local error), then 33/s (the ceiling: "
                     "ports/60 s = 33/s).");
    r.err[EADDRNOTAVAIL] = 0;
    r.tw_client_end = 5;
    cr_assert_str_eq(said(cc->demo.shows, &r, true, 0),
                     "the client closed first and holds 5 TIME_WAIT.");
    cr_assert_str_eq(said(cc->demo.shows, &r, false, 0),
                     "the client closed first and holds 5 TIME_WAIT (on loopback tcp_tw_reuse=2 "
                     "reuses them, so ports do not run out).");

    r.tw_client_end = -1;
    r.tw_server_end = 2;
    r.new_conns = 50;
    r.requests = 400000;
    r.elapsed_ms = 3999;
    cr_assert_str_eq(said(pool->demo.shows, &r, true, 20000),
                     "50 connections carried 400000 requests (100000/s, 5.0x the best "
                     "per-connection rate); TIME_WAIT -1/2.");
    cr_assert_str_eq(said(pool->demo.shows, &r, true, 0),
                     "50 connections carried 400000 requests (100000/s, 0.0x the best "
                     "per-connection rate); TIME_WAIT -1/2.");
}
