/* libcurl's multi-socket interface on the engine's loop, for the http kind.
 *
 * One CURLM per engine. curl tells us which sockets to watch (socket
 * callback: a tw_io per socket, found again through curl_multi_assign) and
 * when to wake it (timer callback: one tw_timer, or the kick defer for
 * "now"); we tell curl what happened with curl_multi_socket_action and then
 * collect finished transfers from curl_multi_info_read. Each probe is a
 * fresh easy handle on a fresh connection that is never reused: a probe
 * measures connect and TLS every time, and its socket is ours, opened and
 * closed through callbacks so the close follows the definition (RST by
 * default: no TIME_WAIT on either side).
 *
 * Who owns what:
 *  - a run (struct tp_curl_run, inside the kind's run) per running probe,
 *    on cm->runs; the kind owns the easy handle and what hangs off it;
 *  - a watcher (struct tp_curl_sock) per socket curl asked us to watch,
 *    from the first socket callback to CURL_POLL_REMOVE;
 *  - cm->fd_def maps each descriptor we opened to its definition until curl
 *    closes it. The close callback looks it up there instead of in the run
 *    because curl may close a connection after the transfer that opened it
 *    is gone (newer versions shut connections down in the background).
 *    curl 7.88 closes a socket that is still connecting with a plain
 *    close(), without the callback (the entry then goes stale until the
 *    number is opened again): so an RST socket gets SO_LINGER 0 at birth.
 *
 * Never from inside a curl callback: finishing a probe, removing a handle,
 * or running curl again. Failures we notice there are recorded and handled
 * on the next kick.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe/curl_loop.h"
#include "probe/ipproto.h"
#include "twkit/loop.h"
#include "twkit/sock.h"
#include "twkit/time.h"

struct tp_curl {
    struct tp_engine *e;
    tw_loop *loop;
    CURLM *multi;
    tw_timer timer;
    tw_defer kick;
    struct tw_list runs;
    struct tw_list socks;
    const struct tp_def **fd_def; /* indexed by descriptor */
    size_t nfd_def;
    bool doomed;                  /* some run has a local failure to report */
    bool aborting;                /* closes now are a cancel's: RST */
};

struct tp_curl_sock {
    tw_io io;
    struct tw_list link;
    struct tp_curl *cm;
    struct tp_curl_run *run;  /* the run whose connection this is, or NULL */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;
static bool has_bundle; /* libcurl was built with a CA bundle file */

static void global_init(void)
{
    const curl_version_info_data *vi;

    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    vi = curl_version_info(CURLVERSION_NOW);
#if LIBCURL_VERSION_NUM >= 0x074600
    has_bundle = vi && vi->age >= CURLVERSION_SEVENTH && vi->cainfo;
#else
    (void)vi;
#endif
}

/* ---- driving curl ---- */

static void reap_doomed(struct tp_curl *cm);

static void drain(struct tp_curl *cm)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(cm->multi, &left))) {
        struct tp_curl_run *run = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (void **)&run);
        if (run)
            run->done(run, msg->data.result);
    }
}

static void act(struct tp_curl *cm, curl_socket_t fd, int flags)
{
    int running;

    curl_multi_socket_action(cm->multi, fd, flags, &running);
    drain(cm);
}

static void on_io(tw_io *io, unsigned events)
{
    struct tp_curl_sock *hs = io->data;
    int flags = 0;

    /* curl waits for writability only while connecting */
    if (hs->run && !hs->run->up_ns && (events & TW_IO_WRITE) && !(events & TW_IO_ERROR))
        hs->run->up_ns = tw_now_ns();

    if (events & TW_IO_READ)
        flags |= CURL_CSELECT_IN;
    if (events & TW_IO_WRITE)
        flags |= CURL_CSELECT_OUT;
    if (events & TW_IO_ERROR)
        flags |= CURL_CSELECT_ERR;
    /* hs may be freed by curl's CURL_POLL_REMOVE inside act() */
    act(hs->cm, io->fd, flags);
}

static void on_timer(tw_timer *tm)
{
    act(tm->data, CURL_SOCKET_TIMEOUT, 0);
}

static void on_kick(tw_defer *d)
{
    struct tp_curl *cm = d->data;

    reap_doomed(cm);
    act(cm, CURL_SOCKET_TIMEOUT, 0);
}

/* A failure curl does not know about (we could not watch its socket):
 * without a watcher the transfer would hang until the deadline, so it is
 * finished from the kick instead. */
static void doom(struct tp_curl *cm, CURL *easy, int err)
{
    struct tp_curl_run *run = NULL;

    if (easy)
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (void **)&run);
    if (!run || run->doomed)
        return;
    run->err = err;
    run->doomed = true;
    cm->doomed = true;
    tw_defer_post(cm->loop, &cm->kick);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *clientp, void *socketp)
{
    struct tp_curl *cm = clientp;
    struct tp_curl_sock *hs = socketp;
    unsigned ev = 0;
    int err;

    if (what == CURL_POLL_REMOVE) {
        if (hs) {
            /* Normally the descriptor is still open here (curl closes it
             * after this callback, or keeps it), and a forgotten
             * registration of an open fd would keep firing: deregister for
             * real. (curl 7.88 closes a socket still connecting first and
             * tells us after; the DEL then fails with EBADF, and nothing can
             * have taken the number in between: curl reports a handle's
             * vanished sockets right after running that handle.) */
            tw_io_stop(&hs->io);
            tw__list_del(&hs->link);
            if (hs->run)
                hs->run->hs = NULL;
            free(hs);
        }
        return 0;
    }
    if (!hs) {
        struct tp_curl_run *run = NULL;

        hs = malloc(sizeof(*hs));
        if (!hs) {
            doom(cm, easy, ENOMEM);
            return 0;
        }
        tw_io_init(&hs->io, s, on_io, hs);
        hs->cm = cm;
        hs->run = NULL;
        if (easy)
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, (void **)&run);
        if (run && run->fd == s && !run->hs) {
            hs->run = run;
            run->hs = hs;
        }
        tw__list_add_tail(&cm->socks, &hs->link);
        curl_multi_assign(cm->multi, s, hs);
    }
    if (what & CURL_POLL_IN)
        ev |= TW_IO_READ;
    if (what & CURL_POLL_OUT)
        ev |= TW_IO_WRITE;
    if (!ev) {
        tw_io_stop(&hs->io);
        return 0;
    }
    err = tw_io_start(cm->loop, &hs->io, ev);
    if (err < 0)
        doom(cm, easy, -err);
    /* never -1: curl would abort every transfer of the multi, not this one */
    return 0;
}

static int on_timer_set(CURLM *multi, long timeout_ms, void *clientp)
{
    struct tp_curl *cm = clientp;

    /* A pending kick is left alone in every case: it may carry doomed runs,
     * and a spurious CURL_SOCKET_TIMEOUT costs curl nothing. */
    if (timeout_ms < 0) {
        tw_timer_stop(&cm->timer);
    } else if (timeout_ms == 0) {
        /* curl must not be re-entered from its own callback */
        tw_timer_stop(&cm->timer);
        tw_defer_post(cm->loop, &cm->kick);
    } else {
        tw_timer_start(cm->loop, &cm->timer, (uint64_t)timeout_ms);
    }
    return 0;
}

/* ---- the sockets of a transfer ---- */

static curl_socket_t on_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct tp_curl_run *run = clientp;
    struct tp_curl *cm = run->cm;
    int fd, err;

    fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        /* curl only says "could not connect"; the errno tells a full fd
         * table (local) from anything else */
        run->err = errno;
        return CURL_SOCKET_BAD;
    }
    if ((err = tp_bind_source(run->def, fd, a->family)) < 0) {
        if (err != -EAFNOSUPPORT) /* a redirect's other family: curl tries the next */
            run->err = -err;
        close(fd);
        return CURL_SOCKET_BAD;
    }
    if ((size_t)fd >= cm->nfd_def) {
        size_t n = cm->nfd_def ? cm->nfd_def : 64;
        const struct tp_def **p;

        while (n <= (size_t)fd)
            n *= 2;
        p = realloc(cm->fd_def, n * sizeof(*p));
        if (!p) {
            close(fd); /* never connected: nothing to reset */
            run->err = ENOMEM;
            return CURL_SOCKET_BAD;
        }
        memset(p + cm->nfd_def, 0, (n - cm->nfd_def) * sizeof(*p));
        cm->fd_def = p;
        cm->nfd_def = n;
    }
    /* curl 7.88 closes a socket whose connect it has not seen complete with
     * a plain close(), bypassing on_close (a cancel in that window): armed
     * now, that close resets too instead of leaving us a TIME_WAIT */
    if (!run->def->graceful) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};

        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    cm->fd_def[fd] = run->def;
    run->fd = fd;
    run->open_ns = tw_now_ns();
    run->up_ns = 0;
    run->conns++;
    return fd;
}

static int on_close(void *clientp, curl_socket_t fd)
{
    struct tp_curl *cm = clientp;
    const struct tp_def *def = NULL;

    if (fd >= 0 && (size_t)fd < cm->nfd_def) {
        def = cm->fd_def[fd];
        cm->fd_def[fd] = NULL;
    }
    /* a cancelled probe stops at once, whatever its close policy; a socket
     * we did not open cannot happen, and gets the default */
    if (def && !cm->aborting)
        tp_close(cm->e, def, fd);
    else
        tw_sock_abort(fd);
    return 0;
}

/* ---- runs ---- */

static void reap_doomed(struct tp_curl *cm)
{
    /* finishing reports to the engine, which may start or cancel other
     * runs: restart the walk after each one */
    while (cm->doomed) {
        struct tw_list *n;

        cm->doomed = false;
        for (n = cm->runs.next; n != &cm->runs; n = n->next) {
            struct tp_curl_run *run = tw__container_of(n, struct tp_curl_run, link);

            if (run->doomed) {
                cm->doomed = true;
                run->done(run, CURLE_OK);
                break;
            }
        }
    }
}

int tp_curl_add(struct tp_curl *cm, struct tp_curl_run *run)
{
    CURL *c = run->easy;
    CURLMcode mc;

    run->cm = cm;
    run->fd = CURL_SOCKET_BAD;
    if (curl_easy_setopt(c, CURLOPT_PRIVATE, run) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, run) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, on_close) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, cm) != CURLE_OK)
        return -EINVAL; /* options every libcurl has, with valid values */
    /* curl asks for its first timeout from in here (0: the kick), so
     * nothing of the transfer runs before start returns */
    mc = curl_multi_add_handle(cm->multi, c);
    if (mc != CURLM_OK)
        return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
    tw__list_add_tail(&cm->runs, &run->link);
    return 0;
}

void tp_curl_remove(struct tp_curl_run *run, bool abort)
{
    struct tp_curl *cm = run->cm;

    /* Removing an unfinished transfer closes its connection, through
     * on_close (RST, whatever the policy: a cancel stops at once), or while
     * it is still connecting with a plain close() that the SO_LINGER 0 set
     * in on_open turns into an RST as well. With FORBID_REUSE nothing else
     * closes during this call. */
    cm->aborting = abort;
    curl_multi_remove_handle(cm->multi, run->easy);
    cm->aborting = false;
    if (run->hs)
        run->hs->run = NULL; /* a socket curl keeps after the transfer */
    tw__list_del(&run->link);
}

struct tp_curl_run *tp_curl_first(struct tp_curl *cm)
{
    if (tw__list_empty(&cm->runs))
        return NULL;
    return tw__container_of(cm->runs.next, struct tp_curl_run, link);
}

/* ---- the multi ---- */

bool tp_curl_has_bundle(void) { return has_bundle; }

int tp_curl_new(struct tp_engine *e, struct tp_curl **out)
{
    struct tp_curl *cm;

    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return global_rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
    cm = calloc(1, sizeof(*cm));
    if (!cm)
        return -ENOMEM;
    cm->multi = curl_multi_init();
    if (!cm->multi) {
        free(cm);
        return -ENOMEM;
    }
    cm->e = e;
    cm->loop = tp_engine_loop(e);
    tw_timer_init(&cm->timer, on_timer, cm);
    tw_defer_init(&cm->kick, on_kick, cm);
    tw__list_init(&cm->runs);
    tw__list_init(&cm->socks);
    curl_multi_setopt(cm->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(cm->multi, CURLMOPT_SOCKETDATA, cm);
    curl_multi_setopt(cm->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
    curl_multi_setopt(cm->multi, CURLMOPT_TIMERDATA, cm);
    /* one connection per probe, never shared by two transfers */
    curl_multi_setopt(cm->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    *out = cm;
    return 0;
}

void tp_curl_free(struct tp_curl *cm)
{
    curl_multi_cleanup(cm->multi);
    tw_timer_stop(&cm->timer);
    tw_defer_cancel(&cm->kick);
    /* watchers curl never removed: their descriptors are closed by now and
     * the numbers may be someone else's, so no EPOLL_CTL_DEL */
    while (!tw__list_empty(&cm->socks)) {
        struct tp_curl_sock *hs = tw__container_of(cm->socks.next, struct tp_curl_sock, link);

        tw_io_forget(&hs->io);
        tw__list_del(&hs->link);
        free(hs);
    }
    free(cm->fd_def);
    free(cm);
}
