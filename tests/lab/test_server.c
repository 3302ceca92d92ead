/* The server under pressure: out of descriptors, a client that never
 * reads, keepalive, and `twkit serve` shut down by SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "twp_lab.h"


TestSuite(server, .init = twp_lab_setup, .fini = twp_lab_teardown, .timeout = 120);

static int raw_client(int rcvbuf)
{
    int fd;

    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    tw_lab_leave(&lab);
    cr_assert_geq(fd, 0);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    cr_assert_eq(connect(fd, &dst.u.sa, dst.len), 0, "connect: %s", strerror(errno));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static uint64_t cpu_ms(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static int highest_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int hi = 0;

    while ((e = readdir(d)))
        if (atoi(e->d_name) > hi)
            hi = atoi(e->d_name);
    closedir(d);
    return hi;
}

static unsigned want_conns;
static bool all_accepted(void) { return tw_server_conns(srv) == want_conns; }

Test(server, out_of_descriptors_it_pauses_instead_of_spinning_and_resumes)
{
    int fds[20];
    struct rlimit old, low;
    uint64_t cpu0, t0;

    NEED_ROOT();
    start_server(&(struct tw_server_opts){0});
    /* 20 connections wait in the accept queue; then room for 5 more fds */
    for (int i = 0; i < 20; i++)
        fds[i] = raw_client(0);
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    low.rlim_cur = (rlim_t)highest_fd() + 6;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);

    cpu0 = cpu_ms();
    t0 = tw_now_ms();
    while (tw_now_ms() - t0 < 1000)
        tw_loop_run_once(loop, 50);
    uint64_t cpu = cpu_ms() - cpu0;
    unsigned held = tw_server_conns(srv);
    cr_assert_lt(held, 20, "the limit did not bite");
    cr_assert_gt(tw_server_stats(srv)->accept_paused, 0);
    /* spinning on a listener that cannot accept would burn the whole second */
    cr_assert_lt(cpu, 200, "%lu ms of CPU in 1 s while out of descriptors", cpu);
    cr_assert_lt(tw_server_stats(srv)->accept_paused, 50);

    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    want_conns = 20;
    run_until(all_accepted, 3000);
    cr_assert_eq(tw_server_conns(srv), 20, "service did not resume: %u", tw_server_conns(srv));
    cr_assert_eq(tw_server_stats(srv)->accepted, 20);
    for (int i = 0; i < 20; i++)
        tw_sock_abort(fds[i]);
}


Test(server, a_client_that_never_reads_cannot_grow_server_memory)
{
    static uint8_t frame[TW_TWP_HDR + 16384];
    uint64_t sent = 0, last_progress;
    int fd;

    NEED_ROOT();
    signal(SIGPIPE, SIG_IGN);
    start_server(&(struct tw_server_opts){.max_outbuf = 64 * 1024});
    fd = raw_client(4096);
    tw_twp_put(frame, TW_TWP_HELLO, tw_twp_hello, 4);
    cr_assert_eq(write(fd, frame, TW_TWP_HDR + 4), TW_TWP_HDR + 4);
    memset(frame + TW_TWP_HDR, 'x', 16384);
    tw_twp_put_header(frame, TW_TWP_DATA, 16384);
    /* Echo requests, never reading a reply, until the server stops taking
     * them (no progress for 500 ms) or 64 MiB went out. */
    last_progress = tw_now_ms();
    while (sent < (64u << 20) && tw_now_ms() - last_progress < 500) {
        size_t off = 0;
        while (off < sizeof(frame) && tw_now_ms() - last_progress < 500) {
            ssize_t n = write(fd, frame + off, sizeof(frame) - off);
            if (n > 0) {
                off += (size_t)n;
                last_progress = tw_now_ms();
            } else {
                cr_assert_eq(errno, EAGAIN, "write: %s", strerror(errno));
                tw_loop_run_once(loop, 1);
            }
        }
        sent += off;
        tw_loop_run_once(loop, 0);
    }
    /* kernel buffers on both sides hold some megabytes; the server none */
    cr_assert_lt(sent, 16u << 20, "the server kept reading: %lu bytes taken", sent);
    cr_assert_leq(tw_server_stats(srv)->conn_buf_peak, 1u << 20, "server held %lu bytes",
                  tw_server_stats(srv)->conn_buf_peak);
    cr_assert_eq(tw_server_conns(srv), 1);
    tw_sock_abort(fd);
    run_until(no_conns, 3000);
    cr_assert_eq(tw_server_stats(srv)->peer_reset, 1);
}

static enum tw_client_end ka_end = -1;
static void ka_close(tw_client *c, enum tw_client_end how, int err) { ka_end = how; }
static bool ka_over(void) { return (int)ka_end >= 0 && tw_server_conns(srv) == 0; }

Test(server, ping_keeps_a_quiet_connection_past_the_idle_timeout)
{
    struct tw_client_opts o = {.ping_interval_ms = 100, .on_close = ka_close};
    tw_client *c;
    uint64_t t0;

    NEED_ROOT();
    start_server(&(struct tw_server_opts){.idle_timeout_ms = 300});
    o.dst = dst;
    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
    cr_assert_eq(tw_client_connect(loop, &o, &c), 0);
    tw_lab_leave(&lab);
    t0 = tw_now_ms();
    /* four idle timeouts and at least 8 PINGs (a loaded machine may fire
     * the 100 ms timer late: wait for the PINGs, 5 s at most) */
    while ((tw_now_ms() - t0 < 1200 || tw_server_stats(srv)->frames_in < 1 + 8) &&
           tw_now_ms() - t0 < 5000 && (int)ka_end < 0)
        tw_loop_run_once(loop, 10);
    cr_assert_eq((int)ka_end, -1, "ended: %s", tw_client_end_name(ka_end));
    cr_assert_eq(tw_server_stats(srv)->aborted_idle, 0);
    cr_assert_geq(tw_server_stats(srv)->frames_in, 1 + 8, "too few PINGs");
    tw_client_bye(c);
    run_until(ka_over, 3000);
    cr_assert_eq(ka_end, TW_CLIENT_END_GOODBYE);
}

/* ---- twkit serve, SIGTERM ---- */

#define NCLIENTS 20

static struct {
    uint64_t replies;
    int ended, done_seen;
    enum tw_client_end how[NCLIENTS];
} sv;

static void sv_data(tw_client *c, const uint8_t *p, uint32_t len)
{
    sv.replies++;
    tw_client_send(c, "again", 5); /* always a request in flight */
}
static void sv_done(tw_client *c) { sv.done_seen++; }
static void sv_close(tw_client *c, enum tw_client_end how, int err)
{
    sv.how[sv.ended++] = how;
}
static bool sv_over(void) { return sv.ended == NCLIENTS; }

static uint64_t json_u64(const char *json, const char *key)
{
    char k[64];
    const char *p;

    snprintf(k, sizeof(k), "\"%s\":", key);
    p = strstr(json, k);
    cr_assert_not_null(p, "no %s in %s", key, json);
    return strtoull(p + strlen(k), NULL, 10);
}

Test(server, twkit_serve_on_sigterm_says_done_to_everyone_and_loses_nothing)
{
    char out[] = "/tmp/twkit-serve-XXXXXX", cmd[512], addr[TW_ADDRSTRLEN], json[2048] = "";
    pid_t pid;
    int status = -1, fd;

    NEED_ROOT();
    dst = server_addr();
    cr_assert_geq(fd = mkstemp(out), 0);
    close(fd);
    snprintf(cmd, sizeof(cmd), "exec %s serve --listen %s --json > %s", TWKIT_BIN,
             tw_addr_format(&dst, addr, sizeof(addr)), out);
    pid = tw_lab_spawn(&lab, TW_LAB_SERVER, (char *[]){"/bin/sh", "-c", cmd, NULL});
    cr_assert_gt(pid, 0);
    wait_listening("twkit serve");

    memset(&sv, 0, sizeof(sv));
    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
    for (int i = 0; i < NCLIENTS; i++) {
        struct tw_client_opts o = {.dst = dst, .on_data = sv_data, .on_done = sv_done,
                                   .on_close = sv_close};
        tw_client *c;
        cr_assert_eq(tw_client_connect(loop, &o, &c), 0);
        tw_client_send(c, "first", 5);
    }
    uint64_t t0 = tw_now_ms();
    while (tw_now_ms() - t0 < 300)
        tw_loop_run_once(loop, 10);
    cr_assert_gt(sv.replies, NCLIENTS, "no traffic before SIGTERM");
    kill(pid, SIGTERM);
    uint64_t end = tw_now_ms() + 10000;
    while (!sv_over() && tw_now_ms() < end)
        tw_loop_run_once(loop, 10);
    tw_lab_leave(&lab);
    for (int i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; i++)
        usleep(10000);
    if (!WIFEXITED(status))
        kill(pid, SIGKILL), waitpid(pid, &status, 0);
    FILE *f = fopen(out, "r");
    if (f) {
        size_t n = fread(json, 1, sizeof(json) - 1, f);
        json[n] = 0;
        fclose(f);
    }
    unlink(out);

    cr_assert(sv_over(), "%d of %d clients ended", sv.ended, NCLIENTS);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "twkit serve: status %d", status);
    cr_assert_eq(sv.done_seen, NCLIENTS);
    for (int i = 0; i < NCLIENTS; i++)
        cr_assert_eq(sv.how[i], TW_CLIENT_END_DONE, "client ended: %s",
                     tw_client_end_name(sv.how[i]));
    cr_assert_eq(json_u64(json, "closed_after_done"), NCLIENTS, "%s", json);
    cr_assert_eq(json_u64(json, "aborted_grace"), 0);
    cr_assert_eq(json_u64(json, "first_fin_refused"), 0);
    /* every reply the server sent (all but HELLO and DONE) reached a client */
    cr_assert_eq(json_u64(json, "frames_out") - 2 * NCLIENTS, sv.replies, "%s", json);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
    cr_assert_eq(time_wait(TW_LAB_CLIENT), NCLIENTS);
}

/* ---- tw_server_group_run: a group of one on the caller's thread ---- */

static tw_server_group *run_group;
static int tasks_at_start;

static int tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void run_started(void *arg) { tasks_at_start = tasks(); }
static void run_alarm(int sig) { tw_server_group_shutdown(run_group); }

Test(server, a_group_of_one_runs_on_the_callers_thread_until_a_shutdown_from_a_signal_handler)
{
    struct tw_server_group_opts o = {.threads = 1, .on_start = run_started};
    struct sigaction sa = {.sa_handler = run_alarm}, old;
    int before = tasks();

    tw_addr_parse(&o.server.listen, "127.0.0.1:0", 0);
    cr_assert_eq(tw_server_group_new(&o, &run_group), 0);
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGALRM, &sa, &old), 0);
    ualarm(200000, 0);
    cr_assert_eq(tw_server_group_run(run_group), 0);
    sigaction(SIGALRM, &old, NULL);
    cr_assert_eq(tasks_at_start, before, "the group made a thread");
    cr_assert_eq(tw_server_group_shutdown(run_group), 0, "a second shutdown does nothing");
    tw_server_group_free(run_group);
}
