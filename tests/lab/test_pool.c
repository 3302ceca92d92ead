/* The connection pool across the lab's veth: many requests over few
 * connections, servers that end connections, idle reaping, and reconnects
 * that back off. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "twkit/pool.h"
#include "twp_lab.h"

TestSuite(pool, .init = twp_lab_setup, .fini = twp_lab_teardown, .timeout = 120);

static struct {
    tw_pool *pool;
    uint64_t target, sent, ok, bad, failed, connects_at_failure;
    int first_err;
} pr;

static void issue(void);

static void on_reply(void *arg, int err, const uint8_t *p, uint32_t len)
{
    uint64_t seq = (uintptr_t)arg;

    if (err) {
        pr.failed++;
        if (!pr.first_err)
            pr.first_err = err;
        pr.connects_at_failure = tw_pool_stats(pr.pool)->connects;
    } else if (len != sizeof(seq) || memcmp(p, &seq, sizeof(seq)) != 0) {
        pr.bad++;
    } else {
        pr.ok++;
    }
    issue();
}

/* One more request, if the run wants more. */
static void issue(void)
{
    uint64_t seq;

    if (pr.sent >= pr.target)
        return;
    seq = pr.sent++;
    cr_assert_eq(tw_pool_request(pr.pool, &seq, sizeof(seq), on_reply, (void *)(uintptr_t)seq),
                 0);
}

static bool all_answered(void) { return pr.ok + pr.bad + pr.failed == pr.target; }
static bool pool_empty(void) { return tw_pool_conns(pr.pool) == 0 && tw_server_conns(srv) == 0; }

/* Start a pool (in the client namespace, left by end_pool) and `inflight`
 * chains of requests, `target` in all. */
static const struct tw_pool_stats *run_pool(struct tw_pool_opts *o, uint64_t target,
                                            int inflight, uint64_t ms)
{
    memset(&pr, 0, sizeof(pr));
    pr.target = target;
    o->dst = server_addr();
    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
    cr_assert_not_null(pr.pool = tw_pool_new(loop, o));
    for (int i = 0; i < inflight; i++)
        issue();
    run_until(all_answered, ms);
    return tw_pool_stats(pr.pool);
}

/* Shut the pool down gracefully and wait for every connection to end. */
static void end_pool(void)
{
    tw_pool_shutdown(pr.pool);
    if (srv) {
        run_until(pool_empty, 5000);
        cr_assert(pool_empty(), "%u connections left after shutdown", tw_pool_conns(pr.pool));
    } else {
        tw_loop_run_once(loop, 0);
    }
    tw_lab_leave(&lab);
    tw_pool_free(pr.pool);
}

Test(pool, hundred_thousand_requests_over_eight_connections_that_the_server_keeps_ending)
{
    const struct tw_pool_stats *st;

    NEED_ROOT();
    start_server(&(struct tw_server_opts){.max_requests = 1000});
    st = run_pool(&(struct tw_pool_opts){.max_conns = 8}, 100000, 16, 60000);
    cr_assert_eq(pr.ok, 100000, "ok %lu failed %lu (%s) bad %lu", pr.ok, pr.failed,
                 tw_errname(pr.first_err), pr.bad);
    cr_assert_eq(st->failed, 0);
    cr_assert_leq(st->conns_peak, 8);
    /* 1,000 requests per connection: about 100 connections ended by DONE */
    cr_assert_geq(st->replaced, 90, "replaced %lu", st->replaced);
    cr_assert_eq(st->lost, 0);
    cr_assert_eq(st->hits + st->misses, 100000 + st->retried);
    end_pool();
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
    cr_assert_eq(tw_server_stats(srv)->first_fin_refused, 0);
}

Test(pool, a_connection_the_server_finished_is_never_handed_out)
{
    const struct tw_pool_stats *st;

    NEED_ROOT();
    /* DONE right behind every reply, in the same read: each next request,
     * sent from the reply callback, must go to a new connection. */
    start_server(&(struct tw_server_opts){.max_requests = 1});
    st = run_pool(&(struct tw_pool_opts){.max_conns = 1}, 50, 1, 20000);
    cr_assert_eq(pr.ok, 50, "ok %lu failed %lu (%s)", pr.ok, pr.failed,
                 tw_errname(pr.first_err));
    cr_assert_eq(st->hits, 0);
    cr_assert_eq(st->misses, 50);
    cr_assert_eq(st->retried, 0);
    cr_assert_eq(st->replaced, 50);
    end_pool();
}

/* ---- a server in its own thread, so the pool's loop can stand still ---- */

static tw_loop *sloop;
static volatile int sstop;

static void *serve(void *arg)
{
    (void)arg;
    while (!sstop)
        tw_loop_run_once(sloop, 10);
    return NULL;
}

Test(pool, an_idle_connection_is_checked_before_reuse)
{
    pthread_t th;
    const struct tw_pool_stats *st;

    NEED_ROOT();
    cr_assert_eq(tw_loop_new(&sloop), 0);
    start_server_on(sloop, &(struct tw_server_opts){.idle_timeout_ms = 150});
    sstop = 0;
    pthread_create(&th, NULL, serve, NULL);

    st = run_pool(&(struct tw_pool_opts){.max_conns = 1}, 1, 1, 5000);
    cr_assert_eq(pr.ok, 1);
    /* The server aborts the idle connection while this loop stands still:
     * the RST waits, unseen, in the socket. */
    usleep(400 * 1000);
    pr.target = 2;
    issue();
    run_until(all_answered, 5000);
    cr_assert_eq(pr.ok, 2, "ok %lu failed %lu (%s)", pr.ok, pr.failed, tw_errname(pr.first_err));
    cr_assert_eq(st->lost, 1, "the reset connection was not noticed");
    cr_assert_eq(st->misses, 2);
    pr.target = 3;
    issue(); /* and a healthy idle connection is reused */
    run_until(all_answered, 5000);
    cr_assert_eq(pr.ok, 3);
    cr_assert_eq(st->hits, 1);
    cr_assert_eq(st->failed, 0);

    tw_pool_shutdown(pr.pool);
    uint64_t end = tw_now_ms() + 5000;
    while (tw_pool_conns(pr.pool) && tw_now_ms() < end)
        tw_loop_run_once(loop, 10);
    tw_lab_leave(&lab);
    tw_pool_free(pr.pool);
    sstop = 1;
    pthread_join(th, NULL);
    cr_assert_geq(tw_server_stats(srv)->aborted_idle, 1);
    tw_server_free(srv);
    srv = NULL;
    tw_loop_free(sloop);
}

Test(pool, failed_connects_back_off_and_waiting_requests_fail_with_the_cause)
{
    const struct tw_pool_stats *st;

    NEED_ROOT();
    /* nobody listens yet: every connect is refused */
    st = run_pool(&(struct tw_pool_opts){.max_conns = 4, .wait_timeout_ms = 1000,
                                         .backoff_min_ms = 50, .backoff_max_ms = 200},
                  1, 1, 3000);
    cr_assert_eq(pr.failed, 1);
    cr_assert_eq(pr.first_err, -ECONNREFUSED, "got %s", tw_errname(pr.first_err));
    cr_assert_eq(st->wait_timeouts, 1);
    /* 1 s of 25..50, 50..100, then 100..200 ms waits: 7 to 12 attempts
     * (without backoff it would be thousands) */
    cr_assert(pr.connects_at_failure >= 6 && pr.connects_at_failure <= 13, "%lu connects",
              pr.connects_at_failure);
    cr_assert_eq(st->connect_failed, st->connects);

    tw_lab_leave(&lab);
    start_server(&(struct tw_server_opts){0});
    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
    pr.target = 2;
    issue();
    run_until(all_answered, 3000);
    cr_assert_eq(pr.ok, 1, "no reconnect: %s", tw_errname(pr.first_err));
    end_pool();
}

Test(pool, idle_connections_are_reaped_with_bye_and_leave_no_time_wait)
{
    const struct tw_pool_stats *st;

    NEED_ROOT();
    start_server(&(struct tw_server_opts){0});
    st = run_pool(&(struct tw_pool_opts){.max_conns = 4, .idle_timeout_ms = 200}, 4, 4, 5000);
    cr_assert_eq(pr.ok, 4);
    cr_assert_eq(st->misses, 4);
    run_until(pool_empty, 3000);
    cr_assert_eq(st->reaped, 4);
    cr_assert_eq(tw_server_stats(srv)->bye_goodbye, 4);
    cr_assert_eq(time_wait(TW_LAB_CLIENT), 0);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
    end_pool();
}
