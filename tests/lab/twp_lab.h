/* What the twp lab tests share: a lab, one loop in this thread, a server
 * in the server namespace, and a way to run the loop until something holds.
 * Static on purpose: each test file has its own. */
#ifndef TW_TESTS_TWP_LAB_H
#define TW_TESTS_TWP_LAB_H

#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

#include "need_root.h"
#include "twkit/client.h"
#include "twkit/error.h"
#include "lab/lab.h"
#include "twkit/server.h"
#include "twkit/time.h"
#include "twkit/twp.h"

static struct tw_lab lab;
static tw_loop *loop;
static tw_server *srv;
static tw_addr dst;

static void twp_lab_setup(void)
{
    if (geteuid() != 0)
        return;
    cr_assert_eq(tw_lab_create(&lab), 0, "lab: %s", lab.err);
    cr_assert_eq(tw_loop_new(&loop), 0);
}

static void twp_lab_teardown(void)
{
    if (geteuid() != 0)
        return;
    tw_server_free(srv);
    srv = NULL;
    tw_loop_free(loop);
    tw_lab_destroy(&lab);
}

/* The server's address: port 7070 in the server namespace. */
static tw_addr server_addr(void)
{
    tw_addr a = lab.addr4[TW_LAB_SERVER];
    tw_addr_set_port(&a, 7070);
    return a;
}

/* Start srv on l (the test's loop, or one in another thread). */
static void start_server_on(tw_loop *l, struct tw_server_opts *o)
{
    int r;

    dst = server_addr();
    o->listen = dst;
    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_SERVER), 0);
    r = tw_server_start(l, o, &srv);
    tw_lab_leave(&lab);
    cr_assert_eq(r, 0, "server: %s", tw_errname(r));
}

static void start_server(struct tw_server_opts *o) { start_server_on(loop, o); }

static uint32_t time_wait(enum tw_lab_side side)
{
    struct tw_tcp_states st;

    cr_assert_eq(tw_lab_count_settled(&lab, side, &st), 0);
    return st.n[TW_TCP_TIME_WAIT];
}

/* Wait (3 s at most) until something listens in the server namespace. */
static inline void wait_listening(const char *what)
{
    struct tw_tcp_states st = {0};

    for (int i = 0; i < 300; i++) {
        cr_assert_eq(tw_lab_count(&lab, TW_LAB_SERVER, &st), 0);
        if (st.n[10 /* TCP_LISTEN */])
            return;
        usleep(10000);
    }
    cr_assert_fail("%s did not start listening", what);
}

/* Run the loop until cond() or ms pass. */
/* A raw client socket to the server, connected (or failed) on return. */
static inline int raw_connect(void)
{
    int fd, r;

    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
    r = tw_sock_connect(&dst, NULL, &fd);
    tw_lab_leave(&lab);
    cr_assert(r == 0 || r == -EINPROGRESS, "%s", tw_errname(r));
    /* up to 3 s: a SYN lost on a busy machine is sent again after 1 s */
    for (int i = 0; i < 600 && tw_sock_connect_result(fd) == 0 &&
                    tw_sock_tcp_state(fd) != 1 /* ESTABLISHED */; i++)
        tw_loop_run_once(loop, 5);
    return fd;
}

static inline bool no_conns(void) { return tw_server_conns(srv) == 0; }

static void run_until(bool (*cond)(void), uint64_t ms)
{
    uint64_t end = tw_now_ms() + ms;
    while (!cond() && tw_now_ms() < end)
        tw_loop_run_once(loop, 10);
}

#endif
