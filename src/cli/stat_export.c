/* twkit stat --listen: the TIME_WAIT doctor as a Prometheus exporter
 * (docs/STAT.md, "The exporter").
 *
 * Each GET /metrics reads every namespace it watches afresh, on the loop
 * (a read of 200,000 TIME_WAIT takes a fraction of a second of CPU, and
 * Prometheus asks every few seconds at most): nothing is kept between
 * scrapes, so two Prometheus servers scraping one exporter each see whole
 * numbers. Rates come from the TIME_WAIT sockets themselves (a socket with
 * e ms left was born 60 s - e ago), never from "since the last scrape".
 *
 * The listening socket stays in the exporter's own namespace; the
 * namespaces watched (--netns, --all-netns) are entered only for the read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/stat_export.h"
#include "twkit/error.h"
#include "twkit/loop.h"
#include "twkit/server.h"
#include "stat/stat.h"
#include "twkit/time.h"
#include "stat/who.h"
#include "util/prom.h"

#define MAX_NS 256         /* namespaces read in one scrape */
#define WHO_DRAIN_MS 250   /* --who: read the rings at least this often */

/* One namespace of one scrape. */
struct nsview {
    char name[256];  /* "" : the exporter's own */
    char labels[600]; /* netns="name" (escaped), or "" */
    int fd;          /* to setns into; -1: the own one */
    int err;         /* 0: st was read (and must be freed) */
    int dump_err;    /* the socket dump's own error: up 0 */
    struct tw_stat st;
    size_t *order;   /* client groups, most pressure first */
    size_t nclient;
    size_t *lorder;  /* server groups, most TIME_WAIT first */
    size_t nserver;
};

struct exporter {
    const struct stat_export_opts *o;
    tw_loop *loop;
    tw_server *srv;
    tw_io sig_io;
    tw_timer drain_timer, who_timer;
    uint64_t drain_deadline;
    bool stopping;
    int own_ns;      /* the exporter's namespace, to come back to */
    int fixed_ns;    /* --netns: its handle */
    struct tw_who_live *who;
    char who_err[400];
    double last_wall_s, last_cpu_s; /* the previous scrape's read */
};

static double thread_cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- which namespaces ---- */

static int ns_open(const char *name)
{
    char path[300];

    if (strchr(name, '/'))
        snprintf(path, sizeof(path), "%s", name);
    else
        snprintf(path, sizeof(path), "/run/netns/%s", name);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static bool same_file(int a, int b)
{
    struct stat x, y;

    return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev &&
           x.st_ino == y.st_ino;
}

static void view_init(struct nsview *v, const char *name, int fd)
{
    memset(v, 0, sizeof(*v));
    v->fd = fd;
    v->err = -ENODATA;
    if (name) {
        FILE *f = fmemopen(v->labels, sizeof(v->labels), "w");
        snprintf(v->name, sizeof(v->name), "%s", name);
        if (f) {
            tu_prom_render_label(f, "netns", name);
            fclose(f);
        }
    }
}

/* The namespaces of this scrape: the own one unless --netns, then each
 * of /run/netns that is not one already listed (a name may be bound to
 * the host's namespace, or two names to one). */
static size_t views_make(struct exporter *e, struct nsview *v)
{
    size_t n = 0;

    if (e->o->netns) {
        view_init(&v[n++], e->o->netns, e->fixed_ns);
        return n;
    }
    view_init(&v[n++], NULL, -1);
    if (!e->o->all_netns)
        return n;
    DIR *d = opendir("/run/netns");
    struct dirent *de;
    while (d && (de = readdir(d)) && n < MAX_NS) {
        int fd;
        bool dup = false;
        if (de->d_name[0] == '.' || (fd = ns_open(de->d_name)) < 0)
            continue;
        dup = same_file(fd, e->own_ns);
        for (size_t i = 1; i < n && !dup; i++)
            dup = same_file(fd, v[i].fd);
        if (dup)
            close(fd);
        else
            view_init(&v[n++], de->d_name, fd);
    }
    if (d)
        closedir(d);
    return n;
}

static void views_free(struct exporter *e, struct nsview *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!v[i].err)
            tw_stat_free(&v[i].st);
        free(v[i].order);
        free(v[i].lorder);
        if (v[i].fd >= 0 && v[i].fd != e->fixed_ns)
            close(v[i].fd);
    }
}

/* ---- the top N ---- */

static double pressure(const struct tw_stat_group *g)
{
    return g->usable ? (double)g->total / g->usable : 1;
}

static int by_pressure(const void *a, const void *b, void *groups)
{
    const struct tw_stat_group *g = groups, *x = &g[*(const size_t *)a],
                               *y = &g[*(const size_t *)b];
    double px = pressure(x), py = pressure(y);

    if (px != py)
        return px < py ? 1 : -1;
    if (x->rate != y->rate)
        return x->rate < y->rate ? 1 : -1;
    return (x->total < y->total) - (x->total > y->total);
}

static int by_tw(const void *a, const void *b, void *groups)
{
    const struct tw_stat_group *g = groups, *x = &g[*(const size_t *)a],
                               *y = &g[*(const size_t *)b];
    uint32_t tx = x->n[TW_TCP_TIME_WAIT], ty = y->n[TW_TCP_TIME_WAIT];

    return (tx < ty) - (tx > ty);
}

static int view_read(struct exporter *e, struct nsview *v)
{
    if (v->fd >= 0 && setns(v->fd, CLONE_NEWNET) < 0)
        return v->err = -errno;
    int r = v->dump_err = tw_stat_collect(&v->st, NULL, NULL);
    if (v->fd >= 0 && setns(e->own_ns, CLONE_NEWNET) < 0) {
        /* never serve the next scrape from the wrong namespace */
        fprintf(stderr, "twkit stat: cannot return to the exporter's namespace: %s\n",
                strerror(errno));
        abort();
    }
    /* a failed socket dump still fills in counters and sysctls */
    v->err = 0;
    if (!(v->order = malloc((v->st.ngroups + 1) * sizeof(size_t))) ||
        !(v->lorder = malloc((v->st.ngroups + 1) * sizeof(size_t))))
        return r < 0 ? r : -ENOMEM;
    for (size_t i = 0; i < v->st.ngroups; i++) {
        if (v->st.groups[i].server)
            v->lorder[v->nserver++] = i;
        else
            v->order[v->nclient++] = i;
    }
    qsort_r(v->order, v->nclient, sizeof(size_t), by_pressure, v->st.groups);
    qsort_r(v->lorder, v->nserver, sizeof(size_t), by_tw, v->st.groups);
    return r;
}

/* ---- writing ---- */

static void sample(struct tu_prom *p, const struct nsview *v, const char *k1, const char *v1,
                   const char *k2, const char *v2, const char *fmt, double x)
{
    tu_prom_begin(p, NULL);
    tu_prom_labels(p, v->labels);
    if (k1)
        tu_prom_label(p, k1, v1);
    if (k2)
        tu_prom_label(p, k2, v2);
    if (isinf(x))
        tu_prom_value(p, "%s", x > 0 ? "+Inf" : "-Inf");
    else
        tu_prom_value(p, fmt, x);
}

/* What each per-destination family shows of a group; "other" sums the
 * groups past the top N for the families that add up. */
enum dfield { D_TW, D_EST, D_INUSE, D_RATE, D_USABLE, D_SUSTAIN, D_REUSE, D_LEFT };

static const struct {
    const char *name, *help;
    bool sums; /* also for "other" */
} dfam[] = {
    [D_TW] = {"twkit_stat_destination_time_wait", "TIME_WAIT sockets towards the destination",
              true},
    [D_EST] = {"twkit_stat_destination_established", "ESTABLISHED sockets towards it", true},
    [D_INUSE] = {"twkit_stat_destination_ports_in_use",
                 "Sockets towards it in any state: each holds a local port", true},
    [D_RATE] = {"twkit_stat_destination_new_connections_per_second",
                "New connections per second towards it, from the TIME_WAIT born in the last 3 s",
                true},
    [D_USABLE] = {"twkit_stat_destination_usable_ports",
                  "Local ports connect() can use towards it", false},
    [D_SUSTAIN] = {"twkit_stat_destination_sustainable_per_second",
                   "New connections per second it sustains: usable ports / 60 s, or / "
                   "tcp_tw_reuse_delay when tcp_tw_reuse acts",
                   false},
    [D_REUSE] = {"twkit_stat_destination_reuse", "1 when tcp_tw_reuse can act for it", false},
    [D_LEFT] = {"twkit_stat_destination_seconds_until_exhaustion",
                "Seconds until its ports run out at the current rate (+Inf: never)", false},
};

static double dvalue(const struct tw_stat_group *g, enum dfield f)
{
    switch (f) {
    case D_TW: return g->n[TW_TCP_TIME_WAIT];
    case D_EST: return g->n[TW_TCP_ESTABLISHED];
    case D_INUSE: return g->total;
    case D_RATE: return g->rate;
    case D_USABLE: return g->usable;
    case D_SUSTAIN: return g->max_rate;
    case D_REUSE: return g->reuse;
    case D_LEFT: return g->secs_left < 0 ? INFINITY : g->secs_left;
    }
    return 0;
}

static void write_destinations(struct tu_prom *p, const struct nsview *v, size_t nv,
                               size_t top)
{
    char src[TW_ADDRSTRLEN], dst[TW_ADDRSTRLEN];

    tu_prom_family(p, "twkit_stat_destinations", TU_PROM_GAUGE,
                   "Client-side destinations (source address, destination address:port)");
    for (size_t i = 0; i < nv; i++)
        if (!v[i].err)
            sample(p, &v[i], NULL, NULL, NULL, NULL, "%.0f", (double)v[i].nclient);
    for (size_t f = 0; f < sizeof(dfam) / sizeof(dfam[0]); f++) {
        tu_prom_family(p, dfam[f].name, TU_PROM_GAUGE, dfam[f].help);
        for (size_t i = 0; i < nv; i++) {
            double other = 0;
            if (v[i].err)
                continue;
            for (size_t k = 0; k < v[i].nclient; k++) {
                const struct tw_stat_group *g = &v[i].st.groups[v[i].order[k]];
                if (k >= top) {
                    other += dvalue(g, f);
                    continue;
                }
                sample(p, &v[i], "src", tw_addr_host(&g->local, src, sizeof(src)), "dst",
                       tw_addr_format(&g->remote, dst, sizeof(dst)),
                       f == D_RATE || f == D_SUSTAIN || f == D_LEFT ? "%.3f" : "%.0f",
                       dvalue(g, f));
            }
            if (v[i].nclient > top && dfam[f].sums)
                sample(p, &v[i], "src", "other", "dst", "other",
                       f == D_RATE ? "%.3f" : "%.0f", other);
        }
    }
}

static void write_listeners(struct tu_prom *p, const struct nsview *v, size_t nv, size_t top)
{
    static const struct { const char *name, *help; int state; } lf[] = {
        {"twkit_stat_listener_time_wait",
         "Server-side TIME_WAIT by listening address: this host closed first", TW_TCP_TIME_WAIT},
        {"twkit_stat_listener_established", "Server-side ESTABLISHED by listening address",
         TW_TCP_ESTABLISHED},
    };
    char a[TW_ADDRSTRLEN];

    for (size_t f = 0; f < 2; f++) {
        tu_prom_family(p, lf[f].name, TU_PROM_GAUGE, lf[f].help);
        for (size_t i = 0; i < nv; i++) {
            double other = 0;
            if (v[i].err)
                continue;
            for (size_t k = 0; k < v[i].nserver; k++) {
                const struct tw_stat_group *g = &v[i].st.groups[v[i].lorder[k]];
                if (k >= top)
                    other += g->n[lf[f].state];
                else
                    sample(p, &v[i], "listen", tw_addr_format(&g->local, a, sizeof(a)), NULL,
                           NULL, "%.0f", g->n[lf[f].state]);
            }
            if (v[i].nserver > top)
                sample(p, &v[i], "listen", "other", NULL, NULL, "%.0f", other);
        }
    }
}

static void write_namespace(struct tu_prom *p, const struct nsview *v, size_t nv)
{
    static const char *const side[2] = {"client", "server"};

    tu_prom_family(p, "twkit_stat_up", TU_PROM_GAUGE,
                   "1 when the namespace's sockets were read, 0 when not");
    for (size_t i = 0; i < nv; i++)
        sample(p, &v[i], NULL, NULL, NULL, NULL, "%.0f",
               v[i].err == 0 && v[i].dump_err == 0);
    tu_prom_family(p, "twkit_stat_sockets", TU_PROM_GAUGE, "TCP sockets by state");
    for (size_t i = 0; i < nv; i++)
        for (int s = 1; s < TW_TCP_NSTATES && !v[i].err; s++)
            if (s != TW_TCP_LISTEN || v[i].st.states.n[s])
                sample(p, &v[i], "state", tw_tcp_state_name(s), NULL, NULL, "%.0f",
                       v[i].st.states.n[s]);
    tu_prom_family(p, "twkit_stat_time_wait", TU_PROM_GAUGE,
                   "TIME_WAIT by side: server when the local port is a listening port");
    for (size_t i = 0; i < nv; i++)
        for (int s = 0; s < 2 && !v[i].err; s++)
            sample(p, &v[i], "side", side[s], NULL, NULL, "%.0f",
                   s ? v[i].st.tw_server : v[i].st.tw_client);
    tu_prom_family(p, "twkit_stat_sockstat_time_wait", TU_PROM_GAUGE,
                   "TIME_WAIT as the kernel counts it (/proc/net/sockstat tw)");
    for (size_t i = 0; i < nv; i++)
        if (!v[i].err && v[i].st.sockstat_tw >= 0)
            sample(p, &v[i], NULL, NULL, NULL, NULL, "%.0f", (double)v[i].st.sockstat_tw);
}

static void write_kernel(struct tu_prom *p, const struct nsview *v, size_t nv)
{
    tu_prom_family(p, "twkit_stat_tcpext_total", TU_PROM_COUNTER,
                   "TcpExt counters of the namespace (/proc/net/netstat)");
    for (size_t i = 0; i < nv; i++)
        for (int c = 0; c < TW_SC_NCOUNTERS && !v[i].err; c++)
            if (v[i].st.have_counter[c])
                sample(p, &v[i], "name", tw_stat_counter_names[c], NULL, NULL, "%.0f",
                       (double)v[i].st.counter[c]);
    tu_prom_family(p, "twkit_stat_sysctl", TU_PROM_GAUGE,
                   "The sysctls that decide TIME_WAIT's cost, of the namespace");
    for (size_t i = 0; i < nv; i++)
        for (int s = 0; s < TW_SY_NSYSCTLS && !v[i].err; s++) {
            const char *name = s == TW_SY_PORT_LO   ? "ip_local_port_range_low"
                               : s == TW_SY_PORT_HI ? "ip_local_port_range_high"
                                                    : tw_stat_sysctl_names[s];
            /* -1: not on this kernel (tcp_ehash_entries is negative,
             * never -1, when the namespace shares the host's table) */
            if (v[i].st.sysctl[s] != -1)
                sample(p, &v[i], "name", name, NULL, NULL, "%.0f", (double)v[i].st.sysctl[s]);
        }
    tu_prom_family(p, "twkit_stat_reserved_ports_in_range", TU_PROM_GAUGE,
                   "ip_local_reserved_ports inside ip_local_port_range");
    for (size_t i = 0; i < nv; i++)
        if (!v[i].err)
            sample(p, &v[i], NULL, NULL, NULL, NULL, "%.0f", v[i].st.reserved_in_range);
    tu_prom_family(p, "twkit_stat_listening_ports_in_range", TU_PROM_GAUGE,
                   "Listening ports inside ip_local_port_range: connect() cannot use them");
    for (size_t i = 0; i < nv; i++)
        if (!v[i].err)
            sample(p, &v[i], NULL, NULL, NULL, NULL, "%.0f", v[i].st.listening_in_range);
}

/* One sample per (rule, severity): destination-pressure can be found
 * for many destinations, and a label set may appear once. */
static void write_advice(struct tu_prom *p, const struct nsview *v, size_t nv)
{
    tu_prom_family(p, "twkit_stat_advice", TU_PROM_GAUGE,
                   "Active findings by rule and severity (docs/STAT.md explains each rule)");
    for (size_t i = 0; i < nv; i++) {
        const struct tw_stat *st = &v[i].st;
        if (v[i].err)
            continue;
        for (size_t a = 0; a < st->nadvice; a++) {
            unsigned n = 0;
            bool seen = false;
            for (size_t b = 0; b < st->nadvice && !seen; b++) {
                bool same = !strcmp(st->advice[a].id, st->advice[b].id) &&
                            st->advice[a].severity == st->advice[b].severity;
                seen = same && b < a;
                n += same;
            }
            if (!seen)
                sample(p, &v[i], "rule", st->advice[a].id, "severity",
                       tw_severity_name(st->advice[a].severity), "%.0f", n);
        }
    }
}

static void write_who(struct tu_prom *p, struct exporter *e)
{
    size_t n;
    const struct tw_who_proc *w;

    if (!e->who)
        return;
    tw_who_live_drain(e->who);
    w = tw_who_live_procs(e->who, &n);
    tu_prom_family(p, "twkit_stat_who_active_closes_total", TU_PROM_COUNTER,
                   "Active closes (the first FIN, which leaves the TIME_WAIT on this host) by "
                   "process name and cgroup, in every namespace, since the exporter started");
    for (size_t i = 0; i < n; i++) {
        tu_prom_begin(p, NULL);
        tu_prom_label(p, "comm", w[i].comm);
        tu_prom_label(p, "cgroup", w[i].cgroup);
        tu_prom_value(p, "%llu", (unsigned long long)w[i].active_closes);
    }
    tu_prom_family(p, "twkit_stat_who_lost_total", TU_PROM_COUNTER,
                   "Tracepoint events lost by the ring buffers");
    tu_prom_sample(p, NULL, "%llu", (unsigned long long)tw_who_live_lost(e->who));
}

/* The whole exposition into *buf. Returns 0 or -errno. */
static int metrics(struct exporter *e, char **buf, size_t *len)
{
    struct nsview *v = calloc(MAX_NS, sizeof(*v));
    struct tu_prom p;
    size_t nv, top = e->o->top ? e->o->top : SIZE_MAX;
    double w0 = (double)tw_now_ns() / 1e9, c0 = thread_cpu_s();
    FILE *f;

    if (!v)
        return -ENOMEM;
    nv = views_make(e, v);
    for (size_t i = 0; i < nv; i++) {
        int r = view_read(e, &v[i]);
        if (r < 0)
            fprintf(stderr, "twkit stat: %s%s: %s (%s)\n",
                    v[i].name[0] ? "netns " : "reading sockets", v[i].name, tw_strerror(r),
                    tw_errname(r));
    }
    e->last_wall_s = (double)tw_now_ns() / 1e9 - w0;
    e->last_cpu_s = thread_cpu_s() - c0;
    if (!(f = open_memstream(buf, len))) {
        views_free(e, v, nv);
        free(v);
        return -ENOMEM;
    }
    tu_prom_init(&p, f);
    write_namespace(&p, v, nv);
    write_destinations(&p, v, nv, top);
    write_listeners(&p, v, nv, top);
    write_kernel(&p, v, nv);
    write_advice(&p, v, nv);
    write_who(&p, e);
    tu_prom_family(&p, "twkit_stat_scrape_duration_seconds", TU_PROM_GAUGE,
                   "Wall time of this scrape's read of the sockets");
    tu_prom_sample(&p, NULL, "%.6f", e->last_wall_s);
    tu_prom_family(&p, "twkit_stat_scrape_cpu_seconds", TU_PROM_GAUGE,
                   "CPU time of this scrape's read of the sockets");
    tu_prom_sample(&p, NULL, "%.6f", e->last_cpu_s);
    views_free(e, v, nv);
    free(v);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(*buf);
        *buf = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* ---- serving ---- */

static void on_http(tw_sconn *c, const struct tw_http_req *req, void *data)
{
    static const char home[] =
        "<!DOCTYPE html><html><head><title>twkit stat</title></head><body>"
        "<h1>twkit stat</h1><p><a href=\"/metrics\">/metrics</a>: TIME_WAIT and port "
        "pressure per destination (docs/STAT.md)</p></body></html>\n";
    struct exporter *e = data;
    char *buf = NULL;
    size_t len = 0;
    int r;

#define PATH_IS(s) (req->path_len == sizeof(s) - 1 && memcmp(req->path, s, sizeof(s) - 1) == 0)
    if (PATH_IS("/metrics")) {
        if ((r = metrics(e, &buf, &len)) < 0) {
            const char *m = tw_strerror(r);
            tw_sconn_respond(c, 500, "text/plain", NULL, m, strlen(m));
            return;
        }
        tw_sconn_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, buf, len);
        free(buf);
    } else if (PATH_IS("/")) {
        tw_sconn_respond(c, 200, "text/html; charset=utf-8", NULL, home, sizeof(home) - 1);
    } else if (PATH_IS("/health")) {
        tw_sconn_respond(c, 200, "text/plain", NULL, "ok\n", 3);
    } else {
        tw_sconn_respond(c, 404, "text/plain", NULL, "not found: try /metrics\n", 24);
    }
#undef PATH_IS
}

static void on_drain(tw_timer *t)
{
    struct exporter *e = t->data;

    if (tw_server_conns(e->srv) == 0 || tw_loop_now(e->loop) >= e->drain_deadline)
        tw_loop_stop(e->loop);
    else
        tw_timer_start(e->loop, t, 20);
}

static void on_signal(tw_io *io, unsigned events)
{
    struct exporter *e = io->data;
    struct signalfd_siginfo si;

    (void)events;
    while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
        if (e->stopping)
            continue;
        e->stopping = true;
        tw_server_shutdown(e->srv); /* keep-alive scrapers are asked to close */
        e->drain_deadline = tw_loop_now(e->loop) + 3000;
        tw_timer_start(e->loop, &e->drain_timer, 0);
    }
}

/* --who: the rings are per CPU and bounded; read them between scrapes. */
static void on_who(tw_timer *t)
{
    struct exporter *e = t->data;

    tw_who_live_drain(e->who);
    tw_timer_start(e->loop, t, WHO_DRAIN_MS);
}

int stat_export_run(const struct stat_export_opts *o)
{
    struct exporter e = {.o = o, .own_ns = -1, .fixed_ns = -1};
    struct tw_server_opts so = {.proto = TW_PROTO_HTTP, .on_http = on_http, .data = &e,
                                .max_conns = 64, .idle_timeout_ms = 60000,
                                .max_outbuf = 64u << 20};
    char a[TW_ADDRSTRLEN];
    sigset_t mask;
    int n, sfd = -1, rc = 2;

    char any[64];
    bool wildcard = o->listen[0] == ':'; /* ":9467": every address, as exporters do */

    snprintf(any, sizeof(any), "[::]%s", o->listen);
    if (tw_addr_parse(&so.listen, wildcard ? any : o->listen, STAT_EXPORT_PORT) < 0) {
        fprintf(stderr, "twkit stat: --listen %s: not ADDR[:PORT] or :PORT\n", o->listen);
        return 2;
    }
    if ((e.own_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "twkit stat: /proc/thread-self/ns/net: %s\n", strerror(errno));
        return 2;
    }
    if (o->netns && (e.fixed_ns = ns_open(o->netns)) < 0) {
        fprintf(stderr, "twkit stat: --netns %s: %s\n", o->netns,
                errno == ENOENT ? "no such network namespace" : strerror(errno));
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    if ((n = tw_loop_new(&e.loop)) < 0 ||
        (sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        fprintf(stderr, "twkit stat: %s\n", tw_strerror(n < 0 ? n : -errno));
        goto out;
    }
    tw_io_init(&e.sig_io, sfd, on_signal, &e);
    tw_io_start(e.loop, &e.sig_io, TW_IO_READ);
    tw_timer_init(&e.drain_timer, on_drain, &e);
    tw_timer_init(&e.who_timer, on_who, &e);
    if (o->who) {
        if ((n = tw_who_live_start(&e.who, o->tracefs, e.who_err, sizeof(e.who_err))) < 0) {
            fprintf(stderr, "twkit stat: --who: %s\n", e.who_err);
            rc = 3;
            goto out;
        }
        tw_timer_start(e.loop, &e.who_timer, WHO_DRAIN_MS);
    }
    n = tw_server_start(e.loop, &so, &e.srv);
    if (n == -EAFNOSUPPORT && wildcard) { /* no IPv6 here: IPv4's every address */
        snprintf(any, sizeof(any), "0.0.0.0%s", o->listen);
        tw_addr_parse(&so.listen, any, STAT_EXPORT_PORT);
        n = tw_server_start(e.loop, &so, &e.srv);
    }
    if (n < 0) {
        fprintf(stderr, "twkit stat: --listen %s: %s (%s)\n", o->listen, tw_strerror(n),
                tw_errname(n));
        goto out;
    }
    fprintf(stderr, "twkit stat: serving /metrics on %s%s%s%s\n",
            tw_addr_format(&so.listen, a, sizeof(a)), o->netns ? " for network namespace " : "",
            o->netns ? o->netns : o->all_netns ? " for every named network namespace" : "",
            o->who ? ", with active closes per process" : "");
    tw_loop_run(e.loop);
    rc = 0;
out:
    if (e.srv)
        tw_server_free(e.srv);
    if (e.who)
        tw_who_live_stop(e.who);
    if (e.loop) {
        tw_timer_stop(&e.who_timer);
        tw_timer_stop(&e.drain_timer);
        tw_io_stop(&e.sig_io);
        tw_loop_free(e.loop);
    }
    if (sfd >= 0)
        close(sfd);
    if (e.fixed_ns >= 0)
        close(e.fixed_ns);
    close(e.own_ns);
    return rc;
}

