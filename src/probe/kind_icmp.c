/* The icmp probe kind: an echo request, its reply timed (ping), as
 * blackbox_exporter 0.23's icmp prober has it: payload_size, dont_fragment
 * and ttl under its names and defaults, its probe_icmp_* families.
 *
 * Unlike blackbox, which opens a socket per probe, every probe shares the
 * sockets of icmp_sock.c (one per family, normally), kept in the kind's
 * slot of the engine. A probe is one sendmsg and, when its reply comes, a
 * lookup by sequence number: thousands a second cost little. An ICMP error
 * about the request (destination unreachable, time exceeded) fails the
 * probe when it arrives, with the message and its sender in the detail;
 * blackbox waits for its timeout then, with the same probe_success.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "probe/config.h"
#include "probe/icmp_sock.h"
#include "probe/ipproto.h"
#include "probe/kinds.h"
#include "probe/probe.h"
#include "twkit/error.h"
#include "twkit/time.h"
#include "util/prom.h"

extern const struct tp_kind tp_kind_icmp;

/* the result's kind_val slots */
enum {
    ICMP_STARTED,             /* 1: an address was chosen and the kind ran
                                 (else blackbox's phases are all 0) */
    ICMP_SETUP_US,            /* start to the request's sendmsg */
    ICMP_RTT_US,              /* sendmsg to the reply; success only */
    ICMP_HOP,                 /* the reply's TTL / hop limit + 1; 0: none */
};

struct icmp_run {
    struct tp_icmp_echo echo;
    struct tp_engine *e;
    struct tp_target *t;
    uint64_t start_ns, sent_ns;
    tw_defer later;           /* reports a failure found while starting */
    int fail_err;             /* that failure's errno */
    char *fail_why;           /* and its detail (malloc'd; NULL: errno's) */
};

/* ---- init / fini: the sockets ---- */

static int icmp_init(struct tp_engine *e)
{
    struct tp_icmp_set *s;
    int err = tp_icmp_set_new(tp_engine_loop(e), &s);

    if (err < 0)
        return err;
    *tp_engine_kind_data(e, &tp_kind_icmp) = s;
    return 0;
}

static void icmp_fini(struct tp_engine *e)
{
    void **slot = tp_engine_kind_data(e, &tp_kind_icmp);

    tp_icmp_set_free(*slot);
    *slot = NULL;
}

/* ---- one probe ---- */

static long usecs(uint64_t ns) { return (long)(ns / 1000); }

static void run_free(struct icmp_run *run)
{
    free(run->fail_why);
    free(run);
}

static void run_done(struct icmp_run *run, struct tp_result *r)
{
    struct tp_engine *e = run->e;
    struct tp_target *t = run->t;

    run_free(run);
    t->run = NULL;
    tp_probe_done(e, t, r);
}

static void report_later(tw_defer *d)
{
    struct icmp_run *run = d->data;
    struct tp_result r = {.verify = -1};

    tp_result_errno(&r, run->fail_err);
    if (run->fail_why)
        snprintf(r.detail, sizeof(r.detail), "%s", run->fail_why);
    r.kind_val[ICMP_STARTED] = 1;
    if (run->sent_ns) /* blackbox's setup ends where the send begins */
        r.kind_val[ICMP_SETUP_US] = usecs(run->sent_ns - run->start_ns);
    run_done(run, &r);
}

static const char *message_name(const tw_addr *to, uint8_t type, uint8_t code, char *buf,
                                size_t len)
{
    static const char *const unreach4[16] = {
        "network unreachable", "host unreachable", "protocol unreachable", "port unreachable",
        "fragmentation needed", "source route failed", "network unknown", "host unknown",
        "source host isolated", "network prohibited", "host prohibited",
        "network unreachable for TOS", "host unreachable for TOS",
        "communication administratively prohibited", "host precedence violation",
        "precedence cutoff in effect",
    };
    static const char *const unreach6[7] = {
        "no route to destination", "administratively prohibited", "beyond scope of source address",
        "address unreachable", "port unreachable", "source address failed ingress/egress policy",
        "reject route to destination",
    };
    const char *what = NULL, *why = NULL;

    if (tp_addr_is_ipv4(to)) {
        if (type == 3) {
            what = "destination unreachable";
            why = code < 16 ? unreach4[code] : NULL;
        } else if (type == 11) {
            what = "time exceeded";
            why = code == 0 ? "TTL exceeded in transit" : "fragment reassembly time exceeded";
        } else {
            what = "parameter problem";
        }
    } else if (type == 1) {
        what = "destination unreachable";
        why = code < 7 ? unreach6[code] : NULL;
    } else if (type == 2) {
        what = "packet too big";
    } else if (type == 3) {
        what = "time exceeded";
        why = code == 0 ? "hop limit exceeded in transit" : "fragment reassembly time exceeded";
    } else {
        what = "parameter problem";
    }
    if (why)
        snprintf(buf, len, "%s (%s)", what, why);
    else
        snprintf(buf, len, "%s (code %u)", what, code);
    return buf;
}

static void on_answer(struct tp_icmp_echo *echo, const struct tp_icmp_answer *a)
{
    struct icmp_run *run = (struct icmp_run *)echo;
    struct tp_result r = {.verify = -1};
    char msg[80], from[TW_ADDRSTRLEN];

    r.kind_val[ICMP_STARTED] = 1;
    r.kind_val[ICMP_SETUP_US] = usecs(run->sent_ns - run->start_ns);
    if (a->reply) {
        r.outcome = TP_SUCCESS;
        r.kind_val[ICMP_RTT_US] = usecs(a->at_ns - run->sent_ns);
        r.kind_val[ICMP_HOP] = a->hop_limit >= 0 ? a->hop_limit + 1 : 0;
        run_done(run, &r);
        return;
    }
    r.outcome = TP_FAILURE;
    r.err = a->err;
    /* time exceeded: the ttl was too small for the path */
    r.reason = (a->type == 11 && tp_addr_is_ipv4(&run->t->addr)) ||
                       (a->type == 3 && !tp_addr_is_ipv4(&run->t->addr))
                   ? "time_exceeded"
                   : "unreachable";
    message_name(&run->t->addr, a->type, a->code, msg, sizeof(msg));
    if (a->from.len)
        snprintf(r.detail, sizeof(r.detail), "ICMP%s %s from %s",
                 tp_addr_is_ipv4(&run->t->addr) ? "" : "v6", msg,
                 tw_addr_host(&a->from, from, sizeof(from)));
    else
        snprintf(r.detail, sizeof(r.detail), "ICMP%s %s",
                 tp_addr_is_ipv4(&run->t->addr) ? "" : "v6", msg);
    run_done(run, &r);
}

/* A failure found while starting: reported after this batch (never from
 * inside start), with its own words. */
static int fail_later(struct icmp_run *run, int err, const char *why)
{
    run->fail_err = err;
    if (why && why[0])
        run->fail_why = strdup(why); /* no memory: the errno's words */
    tw_defer_post(tp_engine_loop(run->e), &run->later);
    return 0;
}

static int icmp_start(struct tp_engine *e, struct tp_target *t)
{
    const struct tp_icmp_opts *o = t->def->opts;
    struct tp_icmp_set *set = *tp_engine_kind_data(e, &tp_kind_icmp);
    struct icmp_run *run = calloc(1, sizeof(*run));
    int family = tp_addr_is_ipv4(&t->addr) ? AF_INET : AF_INET6, err;
    struct tp_icmp_sock *sock;
    char why[TP_ICMP_WHY] = "";

    if (!run)
        return -ENOMEM;
    run->e = e;
    run->t = t;
    run->start_ns = tw_now_ns();
    run->echo.cb = on_answer;
    tw_defer_init(&run->later, report_later, run);
    t->run = run;
    if ((err = tp_icmp_sock_get(set, family, &t->def->source, o->df, &sock, why)) < 0)
        return fail_later(run, err, why); /* setup is 0, as blackbox's */
    run->sent_ns = tw_now_ns();
    err = tp_icmp_send(sock, &run->echo, &t->addr,
                       o->payload_size ? o->payload_size : (unsigned)TP_ICMP_TEXT_LEN, o->ttl,
                       why);
    if (err == -EMSGSIZE && o->df && family == AF_INET)
        snprintf(why, sizeof(why),
                 "EMSGSIZE: %u bytes of payload with dont_fragment exceed the MTU towards "
                 "%.60s", o->payload_size, t->ep.host);
    if (err < 0)
        return fail_later(run, err, why);
    return 0;
}

static void icmp_cancel(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    struct icmp_run *run = t->run;

    if (!run)
        return;
    r->kind_val[ICMP_STARTED] = 1;
    if (run->sent_ns)
        r->kind_val[ICMP_SETUP_US] = usecs(run->sent_ns - run->start_ns);
    if (run->echo.sock)
        snprintf(r->detail, sizeof(r->detail), "no echo reply within %llu ms (%s socket)",
                 (unsigned long long)t->timeout_ms,
                 tp_icmp_sock_raw(run->echo.sock) ? "raw" : "ping");
    tp_icmp_forget(&run->echo);
    tw_defer_cancel(&run->later);
    run_free(run);
    t->run = NULL;
}

/* ---- targets: a host alone, as blackbox takes it ---- */

static int icmp_parse_target(const char *s, struct tp_endpoint *ep, const char **why)
{
    const char *colon = strchr(s, ':');
    size_t n = strlen(s);
    tw_addr a;

    if (s[0] == '[')
        return tp_bad_target(ep, why, "an icmp target is a host or an address alone: an IPv6 "
                                      "address without brackets, no port");
    if (colon && !strchr(colon + 1, ':'))
        return tp_bad_target(ep, why, "an icmp target has no port: write the host alone");
    if (!colon)
        return tp_host_set(ep, s, n, false, why);
    memset(ep, 0, sizeof(*ep));
    if (n >= sizeof(ep->host))
        return tp_bad_target(ep, why, "host name too long");
    memcpy(ep->host, s, n + 1);
    if (tw_addr_parse(&a, ep->host, 0) < 0 || tw_addr_family(&a) != AF_INET6)
        return tp_bad_target(ep, why, "bad IPv6 address");
    return 0;
}

/* ---- config: blackbox's icmp options, its names and defaults ---- */

static bool set_payload_size(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    ((struct tp_icmp_opts *)def->opts)->payload_size = a->u;
    return true;
}

static bool set_dont_fragment(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    ((struct tp_icmp_opts *)def->opts)->df = a->b;
    return true;
}

static bool set_ttl(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    ((struct tp_icmp_opts *)def->opts)->ttl = a->u;
    return true;
}

static bool default_ttl(struct tp_cfgctx *c, struct tp_def *def)
{
    ((struct tp_icmp_opts *)def->opts)->ttl = 64; /* blackbox's DefaultICMPTTL */
    return true;
}

static const struct tp_key icmp_keys[] = {
    {.name = "payload_size", .type = TP_T_UINT, .lo = 0, .hi = TP_ICMP_MAX_PAYLOAD,
     .blackbox = true, .apply = set_payload_size},
    {.name = "dont_fragment", .type = TP_T_BOOL, .blackbox = true, .apply = set_dont_fragment},
    {.name = "ttl", .type = TP_T_UINT, .lo = 0, .hi = 255, .blackbox = true, .apply = set_ttl,
     .absent = default_ttl},
};

/* ---- output ---- */

static double secs(long us) { return (double)us / 1e6; }

/* blackbox registers all three phases before it resolves: each is 0 where
 * the probe did not get to it (resolve too, when the name did not
 * resolve), rtt is set by a matching reply only. */
static void m_phases(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    static const char *const names[3] = {"resolve", "rtt", "setup"}; /* as promhttp sorts */
    const long *kv = t->last.kind_val;
    double v[3];

    if (!t->have_last)
        return;
    v[0] = kv[ICMP_STARTED] ? t->last.dns : 0;
    v[1] = secs(kv[ICMP_RTT_US]);
    v[2] = secs(kv[ICMP_SETUP_US]);
    for (int i = 0; i < 3; i++) {
        tu_prom_begin(p, NULL);
        tu_prom_labels(p, l);
        tu_prom_label(p, "phase", names[i]);
        tu_prom_value(p, "%.6f", v[i]);
    }
}

static void m_hop_limit(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last && t->last.outcome == TP_SUCCESS && t->last.kind_val[ICMP_HOP])
        tu_prom_sample(p, l, "%ld", t->last.kind_val[ICMP_HOP] - 1);
}

static const struct tp_metric icmp_metrics[] = {
    {"probe_icmp_duration_seconds", "Duration of icmp request by phase", m_phases},
    {"probe_icmp_reply_hop_limit", "Replied packet hop limit (TTL for ipv4)", m_hop_limit},
};

static void icmp_json(FILE *f, const struct tp_result *r)
{
    if (!r->kind_val[ICMP_STARTED])
        return;
    fprintf(f, ",\"setup_s\":%.6f", secs(r->kind_val[ICMP_SETUP_US]));
    if (r->outcome == TP_SUCCESS)
        fprintf(f, ",\"rtt_s\":%.6f", secs(r->kind_val[ICMP_RTT_US]));
    if (r->kind_val[ICMP_HOP])
        fprintf(f, ",\"hop_limit\":%ld", r->kind_val[ICMP_HOP] - 1);
}

const struct tp_kind tp_kind_icmp = {
    .name = "icmp",
    .keys = icmp_keys,
    .nkeys = sizeof(icmp_keys) / sizeof(icmp_keys[0]),
    .opts_size = sizeof(struct tp_icmp_opts),
    .parse_target = icmp_parse_target,
    .init = icmp_init,
    .fini = icmp_fini,
    .start = icmp_start,
    .cancel = icmp_cancel,
    .metrics = icmp_metrics,
    .nmetrics = sizeof(icmp_metrics) / sizeof(icmp_metrics[0]),
    .json = icmp_json,
};
