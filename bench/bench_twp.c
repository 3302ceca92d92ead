/* make bench: twp on loopback, one server thread and one client thread.
 *   pool:   50 persistent connections, one request in flight each (req/s)
 *   bye:    50 concurrent short sessions: connect, DATA, BYE/GOODBYE, abort
 *   idle:   server-side user-space memory per idle connection (10,000) */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "twkit/client.h"
#include "twkit/error.h"
#include "twkit/server.h"
#include "twkit/time.h"
#include "twkit/twp.h"

#define CONC 50
#define RUN_MS 3000
#define IDLE 10000

static tw_addr dst;
static tw_loop *sloop;
static tw_server *srv;
static volatile int stop_server;

static void *server_main(void *arg)
{
    while (!stop_server)
        tw_loop_run_once(sloop, 50);
    return NULL;
}

static tw_loop *loop;
static uint64_t count, deadline;
static int mode; /* 0 pool, 1 bye */

static void start(void);

static void on_data(tw_client *c, const uint8_t *p, uint32_t len)
{
    count += mode == 0;
    if (mode == 0) {
        if (tw_loop_now(loop) < deadline)
            tw_client_send(c, "ping-pong-data", 14);
        else
            tw_client_bye(c);
    }
}

static void on_close(tw_client *c, enum tw_client_end how, int err)
{
    if (mode == 1) {
        count += how == TW_CLIENT_END_GOODBYE;
        if (tw_loop_now(loop) < deadline)
            start();
    }
}

static void start(void)
{
    struct tw_client_opts o = {.dst = dst, .on_data = on_data, .on_close = on_close};
    tw_client *c;

    if (tw_client_connect(loop, &o, &c) < 0)
        return;
    tw_client_send(c, "ping-pong-data", 14);
    if (mode == 1)
        tw_client_bye(c);
}

static double run(int m)
{
    uint64_t t0;

    mode = m;
    count = 0;
    tw_loop_update_time(loop);
    deadline = tw_loop_now(loop) + RUN_MS;
    t0 = tw_now_ns();
    for (int i = 0; i < CONC; i++)
        start();
    tw_loop_run(loop);
    return (double)count * 1e9 / (double)(tw_now_ns() - t0);
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

int main(void)
{
    pthread_t th;
    struct tw_server_opts so = {.max_conns = IDLE * 2};
    int err;

    tw_addr_parse(&dst, "127.0.0.1:7079", 0);
    so.listen = dst;
    if ((err = tw_loop_new(&sloop)) < 0 || (err = tw_server_start(sloop, &so, &srv)) < 0 ||
        (err = tw_loop_new(&loop)) < 0) {
        fprintf(stderr, "bench_twp: %s\n", tw_errname(err));
        return 1;
    }
    pthread_create(&th, NULL, server_main, NULL);
    printf("twkit twp benchmarks (loopback, 1 server thread, 1 client thread)\n");
    printf("pool        %d connections            %9.0f requests/s\n", CONC, run(0));
    printf("bye         %d concurrent sessions    %9.0f sessions/s\n", CONC, run(1));
    idle_memory();
    stop_server = 1;
    pthread_join(th, NULL);
    tw_server_free(srv);
    tw_loop_free(sloop);
    tw_loop_free(loop);
    return 0;
}
