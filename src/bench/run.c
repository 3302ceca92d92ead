/* The bench engine (bench.h, internal.h): setup (the lab, the client's
 * ports, the built-in or raw servers), the threads, the end of the run and
 * its result. The clients are client_twp.c, client_http.c and raw.c, the
 * samples sampler.c. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/internal.h"
#include "twkit/error.h"
#include "twkit/http.h"
#include "twkit/server.h"
#include "twkit/time.h"

#define LAB_PORT 7070

/* The built-in server's answer: request_size bytes of body. */
static void http_handler(tw_sconn *c, const struct tw_http_req *req, void *data)
{
    struct run *run = data;
    tw_sconn_respond(c, 200, "text/plain", NULL, run->payload, run->o->request_size);
}

/* ---- the built-in servers ------------------------------------------------ */

static void at_start_line(void *ready) { pthread_barrier_wait(ready); }

/* Make the servers (in the server namespace), not yet running. */
static int start_servers(struct run *run, char *err, size_t errlen)
{
    const struct tb_opts *o = run->o;
    int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), r = 0;
    char a[TW_ADDRSTRLEN];

    tb__enter_ns(run->server_ns);
    if (run->how->raw) {
        struct tw_listen_opts lo = {.backlog = 4096, .reuseport = run->nst > 1};
        for (unsigned i = 0; i < run->nst && r == 0; i++) {
            run->rs[i].run = run;
            if ((run->rs[i].lfd = tw_sock_listen(&run->dst, &lo)) < 0)
                r = run->rs[i].lfd;
        }
    } else {
        struct tw_server_group_opts go = {
            .threads = run->nst, .on_start = at_start_line, .arg = &run->ready,
            .server = {
                .listen = run->dst, .max_conns = 100000,
                .naive_close = run->how->server.naive_close,
                .max_requests = run->how->server.max_requests,
                .after_fin = run->how->server.after_fin,
                .proto = o->http ? TW_PROTO_HTTP : TW_PROTO_TWP,
                .on_http = http_handler, .data = run,
            },
        };
        r = tw_server_group_new(&go, &run->group);
    }
    if (saved >= 0) {
        setns(saved, CLONE_NEWNET);
        close(saved);
    }
    if (r < 0)
        snprintf(err, errlen, "cannot listen on %s: %s", tw_addr_format(&run->dst, a, sizeof(a)),
                 tw_strerror(r));
    return r;
}

/* ---- setup --------------------------------------------------------------- */

static bool addr_is_local(const tw_addr *a)
{
    tw_addr b = *a;
    int fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool local;

    tw_addr_set_port(&b, 0);
    local = fd >= 0 && bind(fd, &b.u.sa, b.len) == 0;
    if (fd >= 0)
        close(fd);
    return local;
}

static uint32_t usable_ports(struct run *run)
{
    char buf[64];
    long lo, hi;

    if (run->have_lab) {
        if (tw_lab_sysctl_get(&run->lab, TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", buf,
                              sizeof(buf)) < 0)
            return 0;
    } else {
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
        if (!f)
            return 0;
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = 0;
        fclose(f);
    }
    return sscanf(buf, "%ld %ld", &lo, &hi) == 2 && hi >= lo ? (uint32_t)(hi - lo + 1) : 0;
}

static int setup(struct run *run, char *err, size_t errlen)
{
    const struct tb_opts *o = run->o;
    char v[16];
    int r;

    run->client_ns = run->server_ns = -1;
    if (o->lab) {
        if ((r = tw_lab_create(&run->lab)) < 0) {
            snprintf(err, errlen, "lab: %s", run->lab.err);
            return r;
        }
        run->have_lab = true;
        if (o->port_range &&
            (r = tw_lab_sysctl_set(&run->lab, TW_LAB_CLIENT, "net.ipv4.ip_local_port_range",
                                   o->port_range)) < 0) {
            snprintf(err, errlen, "--port-range %s: the kernel refused it: %s", o->port_range,
                     tw_strerror(r));
            return r;
        }
        unsigned lo, hi;
        if (o->port_range && sscanf(o->port_range, "%u %u", &lo, &hi) == 2) {
            run->copts.port_lo = (uint16_t)lo;
            run->copts.port_hi = (uint16_t)hi;
        }
        snprintf(v, sizeof(v), "%d", o->tw_reuse);
        if (o->tw_reuse >= 0 &&
            (r = tw_lab_sysctl_set(&run->lab, TW_LAB_CLIENT, "net.ipv4.tcp_tw_reuse", v)) < 0) {
            snprintf(err, errlen, "--tw-reuse %d: the kernel refused it: %s", o->tw_reuse,
                     tw_strerror(r));
            return r;
        }
        run->dst = o->ipv6 ? run->lab.addr6[TW_LAB_SERVER] : run->lab.addr4[TW_LAB_SERVER];
        tw_addr_set_port(&run->dst, LAB_PORT);
        run->client_ns = run->lab.nsfd[TW_LAB_CLIENT];
        run->server_ns = run->lab.nsfd[TW_LAB_SERVER];
        run->nst = o->threads;
        snprintf(run->r->where, sizeof(run->r->where), "lab");
    } else if (o->local_server) {
        /* a free port on loopback, for the in-process server */
        int fd = socket(o->ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        tw_addr_parse(&run->dst, o->ipv6 ? "[::1]:0" : "127.0.0.1:0", 0);
        if (fd < 0 || bind(fd, &run->dst.u.sa, run->dst.len) < 0 ||
            tw_sock_local(fd, &run->dst) < 0) {
            r = -errno;
            if (fd >= 0)
                close(fd);
            snprintf(err, errlen, "no free port on loopback: %s", tw_strerror(r));
            return r;
        }
        close(fd);
        run->nst = o->threads;
        snprintf(run->r->where, sizeof(run->r->where), "loopback");
    } else {
        run->dst = o->target;
        snprintf(run->r->where, sizeof(run->r->where), "target");
    }
    tw_addr_format(&run->dst, run->r->server, sizeof(run->r->server));
    for (int k = 0; k < 2; k++)
        run->http_req_len[k] = (uint32_t)snprintf(run->http_req[k], sizeof(run->http_req[k]),
                                                  "GET / HTTP/1.1\r\nHost: %s\r\n%s\r\n",
                                                  run->r->server, k ? "Connection: close\r\n" : "");
    run->r->usable_ports = usable_ports(run);
    run->server_local = run->nst || addr_is_local(&run->dst);
    if (run->nst && (r = start_servers(run, err, errlen)) < 0)
        return r;
    return 0;
}

static void teardown(struct run *run)
{
    tw_server_group_free(run->group);
    for (unsigned i = 0; i < run->nst; i++)
        if (run->rs[i].run && run->rs[i].lfd >= 0)
            close(run->rs[i].lfd);
    for (unsigned i = 0; i < run->nct; i++) {
        free(run->ct[i].slots);
        free(run->ct[i].hslots);
        if (run->ct[i].loop)
            tw_loop_free(run->ct[i].loop);
    }
    if (run->have_lab)
        tw_lab_destroy(&run->lab);
}

static double secs(const struct timeval *tv) { return (double)tv->tv_sec + (double)tv->tv_usec / 1e6; }

static void collect(struct run *run)
{
    struct tb_result *r = run->r;

    r->cpu_server_user = r->cpu_server_sys = run->nst ? 0 : -1;
    for (unsigned i = 0; i < run->nct; i++) {
        struct cthread *t = &run->ct[i];
        r->new_conns += t->n.conns;
        for (int e = 0; e < TU_NERRNO; e++) {
            r->err[e] += t->err[e];
            if (t->err[e]) {
                if (tw_errclass(e) == TW_ECLASS_LOCAL)
                    r->errors_local += t->err[e];
                else
                    r->errors_server += t->err[e];
            }
        }
        tu_hist_merge(&r->connect_us, &t->connect_us);
        tu_hist_merge(&r->request_us, &t->request_us);
        r->cpu_client_user += secs(&t->ru.ru_utime);
        r->cpu_client_sys += secs(&t->ru.ru_stime);
        r->behind += t->behind;
    }
    if (run->group) {
        double user, sys;
        tw_server_group_cpu(run->group, &user, &sys);
        r->cpu_server_user += user;
        r->cpu_server_sys += sys;
    }
    for (unsigned i = 0; i < run->nst && !run->group; i++) {
        r->cpu_server_user += secs(&run->rs[i].ru.ru_utime);
        r->cpu_server_sys += secs(&run->rs[i].ru.ru_stime);
    }
    r->errors = r->errors_local + r->errors_server;
    r->exhausted_ms = run->exhausted_ms;
    if (run->exhausted_ms >= 0 && r->elapsed_ms > (uint64_t)run->exhausted_ms)
        r->rate_after_exhaustion = (double)(r->sessions - run->sessions_at_exhaustion) * 1000.0 /
                                   (double)(r->elapsed_ms - (uint64_t)run->exhausted_ms);
}

int tb_run(const struct tb_opts *o, struct tb_result *r, char *err, size_t errlen)
{
    struct run *run = calloc(1, sizeof(*run));
    size_t cap = o->duration_ms / SAMPLE_MS + 8;
    const struct tb__client *client = o->strategy->raw ? &tb__client_raw
                                      : o->http        ? &tb__client_http
                                                       : &tb__client_twp;
    int res;

    memset(r, 0, sizeof(*r));
    r->strategy = o->strategy;
    r->http = o->http;
    r->rate_asked = o->rate;
    r->exhausted_ms = -1;
    r->tw_client_max = r->tw_server_max = -1;
    if (!run || !(r->series = calloc(cap, sizeof(*r->series)))) {
        free(run);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    run->o = o;
    run->how = o->strategy;
    run->r = r;
    run->series_cap = cap;
    run->exhausted_ms = -1;
    for (uint32_t i = 0; i < o->request_size && i < MAX_REQUEST; i++)
        run->payload[i] = (uint8_t)('a' + i % 26);
    run->nct = o->threads;
    if ((res = setup(run, err, errlen)) < 0)
        goto out;
    for (unsigned i = 0; i < run->nct; i++) {
        struct cthread *t = &run->ct[i];
        t->run = run;
        t->nslots = o->concurrency / o->threads + (i < o->concurrency % o->threads);
        if (!t->nslots)
            t->nslots = 1;
        t->rate = o->rate / o->threads;
        if ((res = client->prepare(t, err, errlen)) < 0)
            goto out;
    }

    pthread_barrier_init(&run->ready, NULL, run->nct + run->nst + 1);
    if (run->group)
        tw_server_group_start(run->group);
    else
        for (unsigned i = 0; i < run->nst; i++)
            pthread_create(&run->rs[i].tid, NULL, tb__raw_server_main, &run->rs[i]);
    for (unsigned i = 0; i < run->nct; i++)
        pthread_create(&run->ct[i].tid, NULL, client->main, &run->ct[i]);
    run->t0_ms = tw_now_ms();
    pthread_barrier_wait(&run->ready);
    tb__sample_until_end(run);
    r->elapsed_ms = tw_now_ms() - run->t0_ms;
    run->stop = 1;
    for (unsigned i = 0; i < run->nct; i++)
        pthread_join(run->ct[i].tid, NULL);
    for (unsigned i = 0; i < run->nct; i++) {
        r->sessions += run->ct[i].n.sessions;
        r->requests += run->ct[i].n.requests;
    }
    if (r->nseries) {
        r->tw_client_end = r->series[r->nseries - 1].tw_client;
        r->tw_server_end = r->series[r->nseries - 1].tw_server;
    }
    if (run->group) {
        if (tw_server_group_shutdown(run->group) < 0)
            perror("twkit bench: eventfd");
        tw_server_group_join(run->group);
    } else {
        for (unsigned i = 0; i < run->nst; i++)
            pthread_join(run->rs[i].tid, NULL);
    }
    pthread_barrier_destroy(&run->ready);
    collect(run);
    res = 0;
out:
    teardown(run);
    free(run);
    return res;
}

void tb_result_free(struct tb_result *r)
{
    free(r->series);
    r->series = NULL;
}

