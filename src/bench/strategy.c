/* twkit bench's strategies (strategy.h): one row each, and the demo's
 * words filled in from a run. */
#include <errno.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/strategy.h"

const struct tb_strategy tb_strategies[] = {
    {
        .name = "raw",
        .help = "baseline: plain epoll connect, accept, RST; no library code",
        .raw = true,
        .after = TB_AFTER_ABORT,
        .time_wait = TB_HOLDS_NOBODY,
        .color = "#888888",
    },
    {
        .name = "raw-request",
        .help = "the same with one request echoed before the RST: what\n"
                "abort costs without the library (--lab or --local)",
        .raw = true,
        .server = {.echo = true},
        .after = TB_AFTER_ABORT,
        .time_wait = TB_HOLDS_NOBODY,
        .color = "#d62728",
    },
    {
        .name = "client-close",
        .help = "one request and reply, the client closes first (FIN):\n"
                "the client holds TIME_WAIT",
        .after = TB_AFTER_CLOSE,
        .end = TW_CLIENT_END_CLOSED,
        .time_wait = TB_HOLDS_CLIENT,
        .http = true,
        .http_close = true,
        .color = "#ff7f0e",
        .demo = {
            .shows = "the client closed first and holds {tw_client} TIME_WAIT"
                     "{?eaddrnotavail:: its {ports} ports ran out after {ports_out_s} s "
                     "({eaddrnotavail} EADDRNOTAVAIL, a local error), then {rate_after}/s "
                     "(the ceiling: ports/60 s = {ceiling}/s)}"
                     "{!eaddrnotavail:{!lab: (on loopback tcp_tw_reuse=2 reuses them, so "
                     "ports do not run out)}}.",
            .rule = "the side that closes first holds TIME_WAIT for 60 s; one destination "
                    "gets at most ports/60 s new connections.",
        },
    },
    {
        .name = "server-close",
        .help = "one request, the server closes first (twkit serve\n"
                "--naive-close): the server holds TIME_WAIT",
        .server = {.naive_close = true},
        .after = TB_AFTER_WAIT,
        .end = TW_CLIENT_END_SERVER_FIN,
        .time_wait = TB_HOLDS_SERVER,
        .http = true,
        .http_close = true,
        .color = "#9467bd",
        .demo = {
            .shows = "the server closed first: {tw_server} TIME_WAIT on the server"
                     "{?lab: (one per client port, at most: a new SYN from a port retires "
                     "the TIME_WAIT it left)}, {tw_client} on the client, {eaddrnotavail} "
                     "EADDRNOTAVAIL.",
            .rule = "a server (that also connects out) must never close first, unless the "
                    "protocol requires it (HTTP/1.0 without keep-alive), and then only after "
                    "giving the client the chance.",
        },
    },
    {
        .name = "handshake",
        .help = "one request, the server sends DONE, the client closes",
        .server = {.max_requests = 1},
        .after = TB_AFTER_WAIT,
        .end = TW_CLIENT_END_DONE,
        .time_wait = TB_HOLDS_CLIENT,
        .color = "#2ca02c",
        .demo = {
            .shows = "the server asked with DONE and the client closed: server {tw_server} "
                     "TIME_WAIT, client {tw_client}"
                     "{?eaddrnotavail:; the client still ran out of ports (EADDRNOTAVAIL)}.",
            .rule = "the client pays, as intended; a client that churns needs bye or pool.",
        },
    },
    {
        .name = "bye",
        .help = "one request, BYE/GOODBYE, the client aborts: no TIME_WAIT",
        .bye_first = true,
        .after = TB_AFTER_WAIT,
        .end = TW_CLIENT_END_GOODBYE,
        .time_wait = TB_HOLDS_NOBODY,
        .color = "#17becf",
        .demo = {
            .shows = "BYE/GOODBYE, then the client reset: {tw_client} TIME_WAIT on the "
                     "client, {tw_server} on the server, {errors} errors"
                     "{!errors:; every reply arrived}.",
            .rule = "a short-lived client says I'm done, waits for goodbye, then aborts: no "
                    "TIME_WAIT, nothing lost.",
        },
    },
    {
        .name = "abort",
        .help = "one request, the client aborts (RST): no TIME_WAIT",
        .after = TB_AFTER_ABORT,
        .end = TW_CLIENT_END_ABORTED,
        .time_wait = TB_HOLDS_NOBODY,
        .http = true,
        .color = "#1f77b4",
        .demo = {
            .shows = "the client reset after the reply: {tw_client} TIME_WAIT on the client, "
                     "{tw_server} on the server; each ended with an RST to the server.",
            .rule = "SO_LINGER 0, the prober's way: no TIME_WAIT, at the price of an RST.",
        },
    },
    {
        .name = "pool",
        .help = "persistent pooled connections, many requests each",
        .after = TB_AFTER_AGAIN,
        .time_wait = TB_HOLDS_NOBODY,
        .http = true,
        .color = "#888888", /* raw's grey: the demo, which runs pool, has no raw */
        .demo = {
            .shows = "{conns} connections carried {requests} requests ({req_rate}/s, "
                     "{vs_best}x the best per-connection rate); TIME_WAIT "
                     "{tw_client}/{tw_server}.",
            .rule = "persistent, pooled connections avoid the problem altogether.",
        },
    },
};
const unsigned tb_nstrategies = sizeof(tb_strategies) / sizeof(tb_strategies[0]);

const struct tb_strategy *tb_strategy_find(const char *name)
{
    for (unsigned i = 0; i < tb_nstrategies; i++)
        if (!strcmp(name, tb_strategies[i].name))
            return &tb_strategies[i];
    return NULL;
}

void tb_strategy_list(FILE *f, bool (*want)(const struct tb_strategy *s), const char *sep,
                      const char *last)
{
    unsigned n = 0, k = 0;

    for (unsigned i = 0; i < tb_nstrategies; i++)
        if (!want || want(&tb_strategies[i]))
            n++;
    for (unsigned i = 0; i < tb_nstrategies; i++) {
        if (want && !want(&tb_strategies[i]))
            continue;
        if (k++)
            fputs(k == n ? last : sep, f);
        fputs(tb_strategies[i].name, f);
    }
}

/* ---- the demo's words ------------------------------------------------------ */

enum { V_TW_CLIENT, V_TW_SERVER, V_ERRORS, V_EADDRNOTAVAIL, V_PORTS, V_PORTS_OUT_S,
       V_RATE_AFTER, V_CEILING, V_CONNS, V_REQUESTS, V_REQ_RATE, V_VS_BEST, V_LAB, V_N };

static const struct { const char *name; int decimals; } vars[V_N] = {
    [V_TW_CLIENT] = {"tw_client", 0},   [V_TW_SERVER] = {"tw_server", 0},
    [V_ERRORS] = {"errors", 0},         [V_EADDRNOTAVAIL] = {"eaddrnotavail", 0},
    [V_PORTS] = {"ports", 0},           [V_PORTS_OUT_S] = {"ports_out_s", 1},
    [V_RATE_AFTER] = {"rate_after", 0}, [V_CEILING] = {"ceiling", 0},
    [V_CONNS] = {"conns", 0},           [V_REQUESTS] = {"requests", 0},
    [V_REQ_RATE] = {"req_rate", 0},     [V_VS_BEST] = {"vs_best", 1},
    [V_LAB] = {"lab", 0},
};

/* The index of the field named by [p, p + n), or -1. */
static int var_of(const char *p, size_t n)
{
    for (int i = 0; i < V_N; i++)
        if (strlen(vars[i].name) == n && !memcmp(p, vars[i].name, n))
            return i;
    return -1;
}

/* Counts are whole numbers well below 2^53, so "%.0f" prints them as "%d"
 * and "%llu" would. */
static double var_value(int v, const struct tb_say *c)
{
    const struct tb_result *r = c->r;
    double req_rate = r->requests * 1000.0 / (r->elapsed_ms + 1);

    switch (v) {
    case V_TW_CLIENT: return r->tw_client_end;
    case V_TW_SERVER: return r->tw_server_end;
    case V_ERRORS: return (double)r->errors;
    case V_EADDRNOTAVAIL: return (double)r->err[EADDRNOTAVAIL];
    case V_PORTS: return r->usable_ports;
    case V_PORTS_OUT_S: return r->exhausted_ms / 1000.0;
    case V_RATE_AFTER: return r->rate_after_exhaustion;
    case V_CEILING: return r->usable_ports / 60.0;
    case V_CONNS: return (double)r->new_conns;
    case V_REQUESTS: return (double)r->requests;
    case V_REQ_RATE: return req_rate;
    case V_VS_BEST: return c->best > 0 ? req_rate / c->best : 0;
    default: return c->lab;
    }
}

/* The '}' that closes the '{' at p, or NULL. */
static const char *closing(const char *p, const char *end)
{
    for (int depth = 0; p < end; p++)
        if (*p == '{')
            depth++;
        else if (*p == '}' && --depth == 0)
            return p;
    return NULL;
}

/* [p, end) of a text; f NULL: check every branch, print nothing. */
static int say(FILE *f, const char *p, const char *end, const struct tb_say *c)
{
    while (p < end) {
        const char *open = memchr(p, '{', (size_t)(end - p)), *close, *name;
        int v;

        if (!open)
            open = end;
        if (f)
            fwrite(p, 1, (size_t)(open - p), f);
        if (open == end)
            break;
        if (!(close = closing(open, end)))
            return -1;
        name = open + 1;
        if (*name == '?' || *name == '!') {
            const char *colon = memchr(name, ':', (size_t)(close - name));
            bool when = *name == '?';
            if (!colon || (v = var_of(name + 1, (size_t)(colon - name - 1))) < 0)
                return -1;
            if (!f || (var_value(v, c) != 0) == when)
                if (say(f, colon + 1, close, c) < 0)
                    return -1;
        } else {
            if ((v = var_of(name, (size_t)(close - name))) < 0)
                return -1;
            if (f)
                fprintf(f, "%.*f", vars[v].decimals, var_value(v, c));
        }
        p = close + 1;
    }
    return 0;
}

int tb_strategy_say(FILE *f, const char *text, const struct tb_say *ctx)
{
    return say(f, text, text + strlen(text), ctx);
}
