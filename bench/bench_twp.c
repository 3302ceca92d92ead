/* make bench: twp on loopback, one server thread and one client thread.
 *   pool:   a tw_pool of 50 connections, 50 requests in flight (req/s),
 *           against twkit's server on its epoll loop, the same server on
 *           its io_uring loop, and a minimal epoll echo loop (echo_epoll.c:
 *           one read and one write per request, no library code), in turn
 *           in the same run: ROUNDS rounds (argv[1], default 5), medians,
 *           and the ratios with their target. The client is the same
 *           tw_pool (tw_loop_new: TWKIT_LOOP's backend) for all three
 *   bye:    50 concurrent short sessions: connect, DATA, BYE/GOODBYE, abort
 *   idle:   server-side user-space memory per idle connection (10,000) */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "echo_epoll.h"

#include "twkit/client.h"
#include "twkit/error.h"
#include "twkit/pool.h"
#include "twkit/server.h"
#include "twkit/time.h"
#include "twkit/twp.h"

#define CONC 50
#define RUN_MS 3000
#define IDLE 10000
#define ROUNDS 5
#define MAX_ROUNDS 99
#define ECHO_PORT 7080
#define TARGET 1.3 /* issue 26: pooled twp echo / epoll echo loop */

#define NSRV 3 /* twkit on epoll, twkit on io_uring, the epoll echo loop */

static tw_addr dst, echo_dst, uring_dst;
static tw_loop *sloop, *uloop;
static tw_server *srv, *usrv;
static volatile int stop_server;

static void *server_main(void *arg)
{
    tw_loop *l = arg;

    while (!stop_server)
        tw_loop_run_once(l, 50);
    return NULL;
}

static tw_loop *loop;
static tw_pool *pool;
static uint64_t count, failed, deadline;
static bool running;

/* pool: CONC chains of requests through one tw_pool of CONC connections */
static void request(void);

static void on_reply(void *arg, int err, const uint8_t *p, uint32_t len)
{
    if (err)
        failed++;
    else
        count++;
    if (tw_loop_now(loop) < deadline)
        request();
    else if (running && !(running = false))
        tw_pool_shutdown(pool); /* BYE/GOODBYE each connection as it frees */
}

static void request(void)
{
    if (tw_pool_request(pool, "ping-pong-data", 14, on_reply, NULL) < 0)
        failed++;
}

/* bye: CONC sessions at a time, each connect, DATA, BYE, GOODBYE, abort */
static void session(void);

static void on_close(tw_client *c, enum tw_client_end how, int err)
{
    if (how == TW_CLIENT_END_GOODBYE)
        count++;
    else
        failed++;
    if (tw_loop_now(loop) < deadline)
        session();
}

static void session(void)
{
    struct tw_client_opts o = {.dst = dst, .on_close = on_close};
    tw_client *c;

    if (tw_client_connect(loop, &o, &c) < 0) {
        failed++;
        return;
    }
    tw_client_send(c, "ping-pong-data", 14);
    tw_client_bye(c);
}

static double run(bool use_pool, const tw_addr *to)
{
    uint64_t t0;

    count = failed = 0;
    tw_loop_update_time(loop);
    deadline = tw_loop_now(loop) + RUN_MS;
    t0 = tw_now_ns();
    if (use_pool) {
        pool = tw_pool_new(loop, &(struct tw_pool_opts){.dst = *to, .max_conns = CONC});
        running = true;
    }
    for (int i = 0; i < CONC; i++)
        use_pool ? request() : session();
    tw_loop_run(loop);
    double rate = (double)count * 1e9 / (double)(tw_now_ns() - t0);
    if (use_pool)
        tw_pool_free(pool);
    if (failed)
        fprintf(stderr, "bench_twp: %lu failed\n", (unsigned long)failed);
    return rate;
}

static void idle_memory(void)
{
    static int fds[IDLE];
    struct rlimit rl = {IDLE * 3, IDLE * 3};
    uint8_t hello[9];
    size_t before, after;
    int n = 0;

    setrlimit(RLIMIT_NOFILE, &rl);
    tw_twp_put(hello, TW_TWP_HELLO, tw_twp_hello, 4);
    before = mallinfo2().uordblks;
    for (; n < IDLE; n++) {
        int r = tw_sock_connect(&dst, NULL, &fds[n]);
        if (r < 0 && r != -EINPROGRESS)
            break;
    }
    usleep(200000);
    for (int i = 0; i < n; i++)
        if (write(fds[i], hello, sizeof(hello)) < 0)
            break;
    for (int i = 0; i < 100 && tw_server_conns(srv) < (unsigned)n; i++)
        usleep(20000);
    usleep(200000);
    after = mallinfo2().uordblks;
    printf("idle        %u idle connections: server heap %.0f bytes per connection\n",
           tw_server_conns(srv), (double)(after - before) / (double)tw_server_conns(srv));
    for (int i = 0; i < n; i++)
        tw_sock_abort(fds[i]);
}

static double thread_cpu_s(pthread_t th)
{
    clockid_t id;
    struct timespec ts;

    if (pthread_getcpuclockid(th, &id) != 0 || clock_gettime(id, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One pool run against the server at *to, which runs in thread th: the
 * requests/s, and the server thread's CPU per request in *us. */
static double pool_run(const tw_addr *to, pthread_t th, double *us)
{
    double cpu0 = thread_cpu_s(th), rate = run(true, to);

    *us = count ? (thread_cpu_s(th) - cpu0) * 1e6 / (double)count : 0;
    return rate;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n), sorted in place; the spread in *lo, *hi. */
static double median(double *v, int n, double *lo, double *hi)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    *lo = v[0];
    *hi = v[n - 1];
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    pthread_t th[NSRV];
    struct tw_server_opts so = {.max_conns = IDLE * 2}, uo = {.max_conns = 1000};
    struct tw_bench_echo echo;
    double rate[NSRV][MAX_ROUNDS], us[NSRV][MAX_ROUNDS], med[NSRV], cpu[NSRV], lo, hi;
    const char *label[NSRV] = {"twkit epoll", "twkit io_uring", "epoll echo"};
    const tw_addr *to[NSRV] = {&dst, &uring_dst, &echo_dst};
    int err, rounds = argc > 1 ? atoi(argv[1]) : ROUNDS;

    if (rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench_twp: ROUNDS (argv[1]) from 1 to %d\n", MAX_ROUNDS);
        return 2;
    }
    tw_addr_parse(&dst, "127.0.0.1:7079", 0);
    tw_addr_parse(&echo_dst, "127.0.0.1:7080", 0);
    tw_addr_parse(&uring_dst, "127.0.0.1:7081", 0);
    so.listen = dst;
    uo.listen = uring_dst;
    if ((err = tw_loop_new_backend(&sloop, TW_LOOP_EPOLL)) < 0 ||
        (err = tw_server_start(sloop, &so, &srv)) < 0 ||
        (err = tw_loop_new_backend(&uloop, TW_LOOP_IO_URING)) < 0 ||
        (err = tw_server_start(uloop, &uo, &usrv)) < 0 || (err = tw_loop_new(&loop)) < 0 ||
        (err = tw_bench_echo_start(&echo, ECHO_PORT)) < 0) {
        fprintf(stderr, "bench_twp: %s\n", tw_errname(err));
        return 1;
    }
    pthread_create(&th[0], NULL, server_main, sloop);
    pthread_create(&th[1], NULL, server_main, uloop);
    pthread_create(&th[2], NULL, tw_bench_echo_main, &echo);
    printf("twkit twp benchmarks (loopback, 1 server thread, 1 client thread on %s)\n",
           tw_loop_backend(loop));
    if (strcmp(tw_loop_backend(uloop), "io_uring") != 0)
        printf("  (io_uring cannot be had here: the io_uring row runs on %s)\n",
               tw_loop_backend(uloop));
    /* in turn, the order rotated every round, so drift hits all alike */
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < NSRV; k++) {
            int which = (k + r) % NSRV;
            rate[which][r] = pool_run(to[which], th[which], &us[which][r]);
        }
        printf("round %d    ", r + 1);
        for (int k = 0; k < NSRV; k++)
            printf(" %s %.0f req/s (server %.2f us/req)%s", label[k], rate[k][r], us[k][r],
                   k + 1 < NSRV ? "," : "\n");
    }
    for (int k = 0; k < NSRV; k++) {
        med[k] = median(rate[k], rounds, &lo, &hi);
        printf("%-14s %d pooled connections  %9.0f requests/s (%.0f–%.0f), ", label[k], CONC,
               med[k], lo, hi);
        cpu[k] = median(us[k], rounds, &lo, &hi);
        printf("server %.2f us/req (%.2f–%.2f); median of %d\n", cpu[k], lo, hi, rounds);
    }
    for (int k = 0; k < 2; k++) {
        double x = med[2] > 0 ? med[k] / med[2] : 0;

        printf("pooled twp echo (%s) / epoll echo loop: %.2f× requests/s   target ≥ %.1f×: %s\n",
               label[k], x, TARGET, x >= TARGET ? "met" : "NOT met");
        printf("  server CPU per request, %s / epoll echo loop: %.2f×\n", label[k],
               cpu[2] > 0 ? cpu[k] / cpu[2] : 0);
    }
    echo.stop = 1;
    pthread_join(th[2], NULL);
    tw_bench_echo_stop(&echo);
    printf("bye         %d concurrent sessions    %9.0f sessions/s\n", CONC, run(false, &dst));
    idle_memory();
    stop_server = 1;
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    tw_server_free(srv);
    tw_server_free(usrv);
    tw_loop_free(sloop);
    tw_loop_free(uloop);
    tw_loop_free(loop);
    return 0;
}
