/* A minimal twp echo server on libtwkit.
 *   echo_server [ADDR:PORT]      (default 127.0.0.1:7070)
 * It never closes first: clients end with BYE/GOODBYE or close themselves;
 * idle ones are aborted. Ctrl-C sends DONE to everyone and exits when all
 * connections have ended. */
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <twkit/error.h>
#include <twkit/server.h>

static tw_server *srv;

/* Uppercase nothing, add nothing: reply with the same bytes. */
static int on_data(tw_sconn *c, const uint8_t *p, uint32_t len, void *data)
{
    return tw_sconn_send(c, p, len);
}

static void on_signal(tw_io *io, unsigned ev)
{
    struct signalfd_siginfo si;

    if (read(io->fd, &si, sizeof(si)) > 0) {
        fprintf(stderr, "shutting down\n");
        tw_io_close(io);
        tw_server_shutdown(srv);
    }
}

int main(int argc, char **argv)
{
    struct tw_server_opts o = {.on_data = on_data, .idle_timeout_ms = 30000};
    const struct tw_server_stats *st;
    tw_loop *loop;
    tw_io sigio;
    sigset_t set;
    int err;

    if (tw_addr_parse(&o.listen, argc > 1 ? argv[1] : "127.0.0.1:7070", 7070) < 0) {
        fprintf(stderr, "usage: echo_server [ADDR:PORT]\n");
        return 2;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((err = tw_loop_new(&loop)) < 0 || (err = tw_server_start(loop, &o, &srv)) < 0) {
        fprintf(stderr, "echo_server: %s\n", tw_errname(err));
        return 1;
    }
    tw_io_init(&sigio, signalfd(-1, &set, SFD_CLOEXEC), on_signal, NULL);
    tw_io_start(loop, &sigio, TW_IO_READ);
    tw_loop_run(loop);

    st = tw_server_stats(srv);
    printf("accepted %llu, bye/goodbye %llu, closed by peer %llu, aborted idle %llu\n",
           (unsigned long long)st->accepted, (unsigned long long)st->bye_goodbye,
           (unsigned long long)st->closed_by_peer, (unsigned long long)st->aborted_idle);
    tw_server_free(srv);
    tw_loop_free(loop);
    return 0;
}
