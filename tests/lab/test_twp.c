/* twp across the lab's veth: the server (in the server namespace) and the
 * clients (in the client namespace) share one loop in this thread; a
 * blocking client thread plays the slow reader. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "twp_lab.h"

TestSuite(twp, .init = twp_lab_setup, .fini = twp_lab_teardown, .timeout = 120);

/* ---- sequential sessions, each ending one way ---- */

enum ending { END_DONE, END_BYE, END_CLIENT_CLOSE, END_NAIVE };

static struct {
    enum ending ending;
    int left, replies, running;
    uint64_t ends[6], bytes_back;
} run;

static void start_session(void);

static void s_data(tw_client *c, const uint8_t *p, uint32_t len)
{
    run.bytes_back += len;
    if (++run.replies == 3 && run.ending == END_CLIENT_CLOSE)
        tw_client_close(c);
}

static void s_close(tw_client *c, enum tw_client_end how, int err)
{
    run.ends[how]++;
    run.running = 0;
    if (run.left > 0)
        start_session();
}

static void start_session(void)
{
    struct tw_client_opts o = {.dst = dst, .on_data = s_data, .on_close = s_close};
    tw_client *c;
    int n = run.ending == END_NAIVE ? 1 : 3;

    run.left--;
    run.replies = 0;
    run.running = 1;
    cr_assert_eq(tw_client_connect(loop, &o, &c), 0);
    for (int i = 0; i < n; i++)
        tw_client_send(c, "request", 7);
    if (run.ending == END_BYE)
        tw_client_bye(c);
}

static bool sessions_over(void) { return run.left == 0 && !run.running && tw_server_conns(srv) == 0; }

static void sessions(enum ending e, int n)
{
    memset(&run, 0, sizeof(run));
    run.ending = e;
    run.left = n;
    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
    start_session();
    run_until(sessions_over, 60000);
    tw_lab_leave(&lab);
    cr_assert(sessions_over(), "sessions did not finish: %d left", run.left);
}

#define N 20000

Test(twp, done_ending_puts_time_wait_on_the_client_only)
{
    NEED_ROOT();
    start_server(&(struct tw_server_opts){.max_requests = 3});
    sessions(END_DONE, N);
    const struct tw_server_stats *st = tw_server_stats(srv);
    cr_assert_eq(run.ends[TW_CLIENT_END_DONE], N);
    cr_assert_eq(run.bytes_back, (uint64_t)N * 3 * 7);
    cr_assert_eq(st->closed_after_done, N);
    cr_assert_eq(st->first_fin_refused, 0);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
    cr_assert_geq(time_wait(TW_LAB_CLIENT), N * 99 / 100);
}

/* twp's DONE leaves the TIME_WAIT on the client by design: an RST after
 * its FIN is HTTP's ending only, in the library and in twkit serve. */
Test(twp, after_fin_rst_is_refused_for_twp)
{
    struct tw_server_opts o = {.after_fin = TW_AFTER_FIN_RST};
    tw_server *s = NULL;
    char out[512] = "";
    FILE *p;
    int status;

    o.listen = server_addr();
    status = tw_server_start(loop, &o, &s);
    if (s)
        tw_server_free(s);
    cr_assert_eq(status, -EINVAL);
    o.after_fin = (enum tw_after_fin)7;
    cr_assert_eq(tw_server_start(loop, &o, &s), -EINVAL);

    p = popen(TWKIT_BIN " serve --after-fin rst 2>&1; " TWKIT_BIN
              " serve --proto http --after-fin maybe 2>&1", "r");
    cr_assert_not_null(p);
    cr_assert_gt(fread(out, 1, sizeof(out) - 1, p), 0);
    status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "%d: %s", status, out);
    cr_assert_not_null(strstr(out, "--after-fin rst is for http"), "%s", out);
    cr_assert_not_null(strstr(out, "--after-fin maybe: not fin or rst"), "%s", out);
}

/* twkit serve --loop: the start line names the backend in use; a name that
 * is none is refused, a TWKIT_LOOP that is none is warned about. */
Test(twp, serve_loop_option_names_its_backend)
{
    static const char *const cases[][2] = {
        {"--loop io_uring", "loop io_uring\n"},
        {"--loop epoll", "loop epoll\n"},
        {"", "TWKIT_LOOP=kqueue is not epoll or io_uring: the loop is epoll"},
    };
    char cmd[1024], out[1024];
    FILE *p;
    int status;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* the start line, then SIGTERM: a bounded wait for the line */
        snprintf(cmd, sizeof(cmd),
                 "f=$(mktemp); %s " TWKIT_BIN " serve --listen 127.0.0.1:0 %s 2>$f & p=$!; "
                 "for i in $(seq 100); do grep -q 'loop ' $f && break; sleep 0.05; done; "
                 "kill -TERM $p; wait $p; cat $f; rm -f $f",
                 *cases[i][0] ? "" : "TWKIT_LOOP=kqueue", cases[i][0]);
        cr_assert_not_null(p = popen(cmd, "r"));
        memset(out, 0, sizeof(out));
        cr_assert_gt(fread(out, 1, sizeof(out) - 1, p), 0);
        status = pclose(p);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%d: %s", status, out);
        cr_assert_not_null(strstr(out, cases[i][1]), "%s: %s", cases[i][0], out);
        cr_assert_not_null(strstr(out, "twp on 127.0.0.1:0, 1 thread"), "%s", out);
    }
    cr_assert_not_null(p = popen(TWKIT_BIN " serve --loop kqueue 2>&1", "r"));
    memset(out, 0, sizeof(out));
    cr_assert_gt(fread(out, 1, sizeof(out) - 1, p), 0);
    status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "%d: %s", status, out);
    cr_assert_not_null(strstr(out, "twkit serve: --loop kqueue: not epoll or io_uring"), "%s", out);
}

Test(twp, bye_goodbye_ending_leaves_no_time_wait_anywhere)
{
    NEED_ROOT();
    start_server(&(struct tw_server_opts){0});
    sessions(END_BYE, N);
    const struct tw_server_stats *st = tw_server_stats(srv);
    cr_assert_eq(run.ends[TW_CLIENT_END_GOODBYE], N);
    cr_assert_eq(run.bytes_back, (uint64_t)N * 3 * 7);
    cr_assert_eq(st->bye_goodbye, N);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
    cr_assert_eq(time_wait(TW_LAB_CLIENT), 0);
}

Test(twp, client_closing_on_its_own_keeps_time_wait_off_the_server)
{
    NEED_ROOT();
    start_server(&(struct tw_server_opts){0});
    sessions(END_CLIENT_CLOSE, N);
    const struct tw_server_stats *st = tw_server_stats(srv);
    cr_assert_eq(run.ends[TW_CLIENT_END_CLOSED], N);
    cr_assert_eq(st->closed_by_peer, N);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
    cr_assert_geq(time_wait(TW_LAB_CLIENT), N * 99 / 100);
}

Test(twp, naive_close_piles_time_wait_on_the_server)
{
    NEED_ROOT();
    start_server(&(struct tw_server_opts){.naive_close = true});
    sessions(END_NAIVE, N);
    cr_assert_eq(run.ends[TW_CLIENT_END_SERVER_FIN], N);
    cr_assert_eq(tw_server_stats(srv)->naive_closed, N);
    cr_assert_gt(time_wait(TW_LAB_SERVER), 1000, "the difference should show");
    cr_assert_eq(time_wait(TW_LAB_CLIENT), 0);
}

/* ---- faults, with raw sockets ---- */


static void raw_send(int fd, uint8_t type, const char *p)
{
    uint8_t f[64];
    size_t n = tw_twp_put(f, type, p, p ? (uint32_t)strlen(p) : 0);
    cr_assert_eq(write(fd, f, n), (ssize_t)n);
}

/* Read what the server sent until an error or EOF; returns -errno or 0
 * and the frame types seen, in order, as a string of digits. */
static int raw_drain(int fd, char *types, size_t cap)
{
    uint8_t buf[4096];
    size_t have = 0, nt = 0;

    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - have);
        if (n < 0 && errno == EAGAIN) {
            tw_loop_run_once(loop, 10);
            continue;
        }
        if (n <= 0) {
            types[nt] = '\0';
            return n < 0 ? -errno : 0;
        }
        have += (size_t)n;
        for (;;) {
            struct tw_twp_frame f;
            int r = tw_twp_parse(buf, have, 4096, &f);
            if (r <= 0)
                break;
            if (nt + 1 < cap)
                types[nt++] = (char)('0' + f.type);
            memmove(buf, buf + r, have - (size_t)r);
            have -= (size_t)r;
        }
    }
}


Test(twp, client_ignoring_done_is_aborted_after_grace)
{
    char types[32];
    int fd;
    uint64_t t0;

    NEED_ROOT();
    start_server(&(struct tw_server_opts){.max_requests = 1, .grace_ms = 300});
    fd = raw_connect();
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    raw_send(fd, TW_TWP_DATA, "x");
    t0 = tw_now_ms();
    cr_assert_eq(raw_drain(fd, types, sizeof(types)), -ECONNRESET);
    cr_assert_geq(tw_now_ms() - t0, 300, "aborted before the grace period");
    cr_assert_str_eq(types, "126", "HELLO, DATA, DONE expected, got %s", types);
    cr_assert_eq(tw_server_stats(srv)->aborted_grace, 1);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
    close(fd);
}

Test(twp, garbage_gets_error_then_reset)
{
    char types[32];
    int fd;

    NEED_ROOT();
    start_server(&(struct tw_server_opts){0});
    fd = raw_connect();
    cr_assert_eq(write(fd, "GET / HTTP/1.1\r\n\r\n", 18), 18);
    cr_assert_eq(raw_drain(fd, types, sizeof(types)), -ECONNRESET);
    cr_assert_str_eq(types, "5", "ERROR expected, got %s", types);
    run_until(no_conns, 2000);
    cr_assert_eq(tw_server_stats(srv)->aborted_invalid, 1);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
    close(fd);
}

Test(twp, oversized_frame_and_wrong_version_are_refused)
{
    char types[32];
    uint8_t hdr[5];
    int fd;

    NEED_ROOT();
    start_server(&(struct tw_server_opts){.max_frame = 1024});
    fd = raw_connect();
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    tw_twp_put_header(hdr, TW_TWP_DATA, 4096); /* header alone is enough */
    cr_assert_eq(write(fd, hdr, 5), 5);
    cr_assert_eq(raw_drain(fd, types, sizeof(types)), -ECONNRESET);
    cr_assert_str_eq(types, "15");
    close(fd);
    fd = raw_connect();
    raw_send(fd, TW_TWP_HELLO, "twp\x02");
    cr_assert_eq(raw_drain(fd, types, sizeof(types)), -ECONNRESET);
    cr_assert_str_eq(types, "5");
    close(fd);
    run_until(no_conns, 2000);
    cr_assert_eq(tw_server_stats(srv)->aborted_invalid, 2);
}

Test(twp, silent_client_is_aborted_at_idle_timeout)
{
    char types[32];
    int fd;
    uint64_t t0 = tw_now_ms();

    NEED_ROOT();
    start_server(&(struct tw_server_opts){.idle_timeout_ms = 200});
    fd = raw_connect();
    cr_assert_eq(raw_drain(fd, types, sizeof(types)), -ECONNRESET);
    cr_assert_geq(tw_now_ms() - t0, 200);
    cr_assert_eq(tw_server_stats(srv)->aborted_idle, 1);
    close(fd);
}

/* The idle timeout counts from the last byte, not from the server's
 * first look after it: a client that sends one frame, reads the echo and
 * goes quiet is reset one idle period later, not two. */
Test(twp, a_quiet_client_is_aborted_one_idle_timeout_after_its_last_byte)
{
    char types[32];
    int fd;
    uint64_t t;

    NEED_ROOT();
    start_server(&(struct tw_server_opts){.idle_timeout_ms = 600});
    fd = raw_connect();
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    raw_send(fd, TW_TWP_DATA, "hi");
    t = tw_now_ms();
    cr_assert_eq(raw_drain(fd, types, sizeof(types)), -ECONNRESET);
    t = tw_now_ms() - t;
    cr_assert_str_eq(types, "12", "HELLO and the echo, then the reset");
    cr_assert(t >= 550 && t < 900, "reset %llu ms after the last byte, 600 expected",
              (unsigned long long)t);
    cr_assert_eq(tw_server_stats(srv)->aborted_idle, 1);
    close(fd);
}

/* ---- no data lost: a slow reader in its own thread ---- */

static struct {
    int fd;
    uint64_t sent_sum, got_sum, got_bytes, sent_bytes;
    char last_type;
    int err;
} slow;

static void *slow_reader(void *arg)
{
    uint8_t frame[8192 + 5], buf[1024];
    static uint8_t in[1 << 20];
    size_t have = 0;
    unsigned seed = 7;
    struct pollfd p = {.fd = slow.fd, .events = POLLIN};

    /* 300 frames of 1..8192 bytes, then BYE, all written at once. */
    fcntl(slow.fd, F_SETFL, 0); /* blocking */
    tw_twp_put(frame, TW_TWP_HELLO, tw_twp_hello, 4);
    (void)!write(slow.fd, frame, 9); /* a failure shows in what is read back */
    for (int i = 0; i < 300; i++) {
        uint32_t n = 1 + (uint32_t)(rand_r(&seed) % 8192);
        for (uint32_t k = 0; k < n; k++) {
            frame[5 + k] = (uint8_t)rand_r(&seed);
            slow.sent_sum = slow.sent_sum * 31 + frame[5 + k];
        }
        tw_twp_put_header(frame, TW_TWP_DATA, n);
        if (write(slow.fd, frame, 5 + n) != (ssize_t)(5 + n))
            break;
        slow.sent_bytes += n;
    }
    (void)!write(slow.fd, "\0\0\0\0\x07", 5); /* BYE */
    /* Read 1 KiB every 2 ms: far slower than the server's grace period. */
    for (;;) {
        ssize_t n;
        poll(&p, 1, 5000);
        n = read(slow.fd, buf, sizeof(buf));
        if (n <= 0) {
            slow.err = n < 0 ? -errno : 0;
            break;
        }
        memcpy(in + have, buf, (size_t)n);
        have += (size_t)n;
        for (;;) {
            struct tw_twp_frame f;
            int r = tw_twp_parse(in, have, 1 << 20, &f);
            if (r <= 0)
                break;
            if (f.type == TW_TWP_DATA)
                for (uint32_t k = 0; k < f.len; k++)
                    slow.got_sum = slow.got_sum * 31 + f.payload[k];
            if (f.type == TW_TWP_DATA)
                slow.got_bytes += f.len;
            slow.last_type = (char)f.type;
            memmove(in, in + r, have - (size_t)r);
            have -= (size_t)r;
        }
        if (slow.last_type == TW_TWP_GOODBYE)
            break;
        usleep(2000);
    }
    return NULL;
}

static volatile bool slow_done;
static bool slow_finished(void) { return slow_done && tw_server_conns(srv) == 0; }

Test(twp, slow_reader_loses_nothing_before_goodbye)
{
    pthread_t th;
    int small = 4096;

    NEED_ROOT();
    /* A grace period far shorter than the client needs to read it all. */
    start_server(&(struct tw_server_opts){.grace_ms = 100});
    memset(&slow, 0, sizeof(slow));
    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
    slow.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    tw_lab_leave(&lab);
    setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    cr_assert_eq(connect(slow.fd, &dst.u.sa, dst.len), 0);
    slow_done = false;
    pthread_create(&th, NULL, slow_reader, NULL);
    /* the loop serves while the thread writes and slowly reads */
    uint64_t end = tw_now_ms() + 60000;
    while (tw_now_ms() < end) {
        tw_loop_run_once(loop, 10);
        if (slow.last_type == TW_TWP_GOODBYE || slow.err)
            break;
    }
    pthread_join(th, NULL);
    slow_done = true;
    tw_sock_abort(slow.fd);
    run_until(slow_finished, 5000);
    cr_assert_eq(slow.err, 0, "reader failed: %s", tw_errname(slow.err));
    cr_assert_eq(slow.last_type, TW_TWP_GOODBYE);
    cr_assert_eq(slow.got_bytes, slow.sent_bytes);
    cr_assert_eq(slow.got_sum, slow.sent_sum, "echoed bytes differ");
    cr_assert_gt(slow.sent_bytes, 600000);
}
