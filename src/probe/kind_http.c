/* The http probe kind: libcurl's multi-socket interface on the engine's loop.
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
 *  - a run (struct hrun) per running probe, in t->run and on hk->runs; it
 *    owns the easy handle, its lists and the kept body;
 *  - a watcher (struct hsock) per socket curl asked us to watch, from the
 *    first socket callback to CURL_POLL_REMOVE;
 *  - hk->fd_def maps each descriptor we opened to its definition until curl
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/list.h"
#include "probe/probe.h"
#include "twkit/error.h"
#include "twkit/loop.h"
#include "twkit/sock.h"
#include "twkit/time.h"

/* Enough for any sane expect_body; bounds memory per probe. */
#define BODY_KEEP (64u * 1024)

#ifdef TW_VERSION
#define USER_AGENT "twkit-probe/" TW_VERSION
#else
#define USER_AGENT "twkit-probe"
#endif

struct hk {
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

struct hsock {
    tw_io io;
    struct tw_list link;
    struct hk *hk;
    struct hrun *run;         /* the run whose connection this is, or NULL */
};

struct hrun {
    struct tw_list link;
    struct hk *hk;
    struct tp_target *t;
    CURL *easy;
    struct curl_slist *headers, *resolve;
    char *body;
    size_t body_len;
    bool body_cut;            /* more than BODY_KEEP arrived */
    uint64_t body_total;      /* for a body size metric: no result field yet */
    bool maybe_tls;
    const void *ssl_seen;     /* the SSL* of this connection already read */
    /* curl 7.88 publishes the connect time only once TLS is up: our own
     * marks for the latest connection, for probes that end before that */
    curl_socket_t fd;
    struct hsock *hs;
    uint64_t open_ns, up_ns;
    int err;                  /* errno of a local failure curl cannot know */
    bool doomed;              /* err happened outside curl: finish ourselves */
    struct tp_result r;       /* TLS fields filled while the connection lives */
    char errbuf[CURL_ERROR_SIZE];
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

static void reap_doomed(struct hk *hk);
static void finish(struct hrun *run, CURLcode code);

static void drain(struct hk *hk)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(hk->multi, &left))) {
        void *p = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
        if (p)
            finish(p, msg->data.result);
    }
}

static void act(struct hk *hk, curl_socket_t fd, int flags)
{
    int running;

    curl_multi_socket_action(hk->multi, fd, flags, &running);
    drain(hk);
}

static void on_io(tw_io *io, unsigned events)
{
    struct hsock *hs = io->data;
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
    act(hs->hk, io->fd, flags);
}

static void on_timer(tw_timer *tm)
{
    act(tm->data, CURL_SOCKET_TIMEOUT, 0);
}

static void on_kick(tw_defer *d)
{
    struct hk *hk = d->data;

    reap_doomed(hk);
    act(hk, CURL_SOCKET_TIMEOUT, 0);
}

/* A failure curl does not know about (we could not watch its socket):
 * without a watcher the transfer would hang until the deadline, so it is
 * finished from the kick instead. */
static void doom(struct hk *hk, CURL *easy, int err)
{
    struct hrun *run = NULL;

    if (easy)
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (void **)&run);
    if (!run || run->doomed)
        return;
    run->err = err;
    run->doomed = true;
    hk->doomed = true;
    tw_defer_post(hk->loop, &hk->kick);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *clientp, void *socketp)
{
    struct hk *hk = clientp;
    struct hsock *hs = socketp;
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
        struct hrun *run = NULL;

        hs = malloc(sizeof(*hs));
        if (!hs) {
            doom(hk, easy, ENOMEM);
            return 0;
        }
        tw_io_init(&hs->io, s, on_io, hs);
        hs->hk = hk;
        hs->run = NULL;
        if (easy)
            curl_easy_getinfo(easy, CURLINFO_PRIVATE, (void **)&run);
        if (run && run->fd == s && !run->hs) {
            hs->run = run;
            run->hs = hs;
        }
        tw__list_add_tail(&hk->socks, &hs->link);
        curl_multi_assign(hk->multi, s, hs);
    }
    if (what & CURL_POLL_IN)
        ev |= TW_IO_READ;
    if (what & CURL_POLL_OUT)
        ev |= TW_IO_WRITE;
    if (!ev) {
        tw_io_stop(&hs->io);
        return 0;
    }
    err = tw_io_start(hk->loop, &hs->io, ev);
    if (err < 0)
        doom(hk, easy, -err);
    /* never -1: curl would abort every transfer of the multi, not this one */
    return 0;
}

static int on_timer_set(CURLM *multi, long timeout_ms, void *clientp)
{
    struct hk *hk = clientp;

    /* A pending kick is left alone in every case: it may carry doomed runs,
     * and a spurious CURL_SOCKET_TIMEOUT costs curl nothing. */
    if (timeout_ms < 0) {
        tw_timer_stop(&hk->timer);
    } else if (timeout_ms == 0) {
        /* curl must not be re-entered from its own callback */
        tw_timer_stop(&hk->timer);
        tw_defer_post(hk->loop, &hk->kick);
    } else {
        tw_timer_start(hk->loop, &hk->timer, (uint64_t)timeout_ms);
    }
    return 0;
}

/* ---- per-transfer callbacks ---- */

static curl_socket_t on_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct hrun *run = clientp;
    struct hk *hk = run->hk;
    int fd;

    fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        /* curl only says "could not connect"; the errno tells a full fd
         * table (local) from anything else */
        run->err = errno;
        return CURL_SOCKET_BAD;
    }
    if ((size_t)fd >= hk->nfd_def) {
        size_t n = hk->nfd_def ? hk->nfd_def : 64;
        const struct tp_def **p;

        while (n <= (size_t)fd)
            n *= 2;
        p = realloc(hk->fd_def, n * sizeof(*p));
        if (!p) {
            close(fd); /* never connected: nothing to reset */
            run->err = ENOMEM;
            return CURL_SOCKET_BAD;
        }
        memset(p + hk->nfd_def, 0, (n - hk->nfd_def) * sizeof(*p));
        hk->fd_def = p;
        hk->nfd_def = n;
    }
    /* curl 7.88 closes a socket whose connect it has not seen complete with
     * a plain close(), bypassing on_close (a cancel in that window): armed
     * now, that close resets too instead of leaving us a TIME_WAIT */
    if (!run->t->def->graceful) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};

        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    hk->fd_def[fd] = run->t->def;
    run->fd = fd;
    run->open_ns = tw_now_ns();
    run->up_ns = 0;
    run->ssl_seen = NULL; /* a new connection: its SSL* may reuse the address */
    return fd;
}

static int on_close(void *clientp, curl_socket_t fd)
{
    struct hk *hk = clientp;
    const struct tp_def *def = NULL;

    if (fd >= 0 && (size_t)fd < hk->nfd_def) {
        def = hk->fd_def[fd];
        hk->fd_def[fd] = NULL;
    }
    /* a cancelled probe stops at once, whatever its close policy; a socket
     * we did not open cannot happen, and gets the default */
    if (def && !hk->aborting)
        tp_close(hk->e, def, fd);
    else
        tw_sock_abort(fd);
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *clientp)
{
    struct hrun *run = clientp;
    size_t len = size * n, room;

    run->body_total += len;
    if (!run->t->def->expect_body)
        return len;
    if (!run->body) {
        run->body = malloc(BODY_KEEP + 1);
        if (!run->body) {
            run->err = ENOMEM; /* local: curl's write error would blame the target */
            return 0;
        }
    }
    room = BODY_KEEP - run->body_len;
    if (len > room)
        run->body_cut = true;
    memcpy(run->body + run->body_len, p, len < room ? len : room);
    run->body_len += len < room ? len : room;
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *clientp)
{
    struct hrun *run = clientp;
    size_t len = size * n;
    struct curl_tlssessioninfo *ti = NULL;

    /* a status line starts a new response (1xx, a redirect hop, the final
     * one): only the last one's body is judged */
    if (len < 5 || memcmp(p, "HTTP/", 5) != 0)
        return len;
    run->body_len = 0;
    run->body_cut = false;
    if (!run->maybe_tls)
        return len;
    /* the certificates are only reachable while the connection lives */
    if (curl_easy_getinfo(run->easy, CURLINFO_TLS_SSL_PTR, &ti) == CURLE_OK && ti &&
        ti->backend == CURLSSLBACKEND_OPENSSL && ti->internals &&
        ti->internals != run->ssl_seen) {
        run->ssl_seen = ti->internals;
        tp_tls_expiry(ti->internals, &run->r);
    }
    return len;
}

/* ---- results ---- */

static double secs(curl_off_t us) { return us > 0 ? (double)us / 1e6 : 0; }
static double span(curl_off_t from, curl_off_t to) { return to > from ? secs(to - from) : 0; }

static bool verify_code(CURLcode c)
{
    switch (c) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return true;
    default:
        return false;
    }
}

static bool tls_code(CURLcode c)
{
    switch (c) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CLIENTCERT:
        return true;
    default:
        return false;
    }
}

/* Phases so far, status, redirects and the verify result: valid before the
 * handle leaves the multi, for a finished transfer and a cancelled one. */
static void measure(struct hrun *run, CURLcode code, struct tp_result *r)
{
    CURL *c = run->easy;
    curl_off_t nl = 0, co = 0, ap = 0, pre = 0, st = 0, tot = 0, from;
    long status = 0, redirects = 0, verify = -1;

    curl_easy_getinfo(c, CURLINFO_NAMELOOKUP_TIME_T, &nl);
    curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &co);
    curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &ap);
    curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &st);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &tot);
    /* a phase not reached stays 0 rather than absorbing the ones before */
    r->phase[TP_PH_RESOLVE] = secs(nl);
    r->phase[TP_PH_CONNECT] = co ? span(nl, co) : 0;
    r->phase[TP_PH_TLS] = ap ? span(co, ap) : 0;
    from = co > ap ? co : ap;
    if (pre > from)
        from = pre;
    r->phase[TP_PH_PROCESSING] = st ? span(from, st) : 0;
    r->phase[TP_PH_TRANSFER] = st ? span(st, tot) : 0;
    if (!co && run->up_ns) {
        r->phase[TP_PH_CONNECT] = (double)(run->up_ns - run->open_ns) / 1e9;
        /* a handshake that failed did end; one still running did not */
        if (tls_code(code) || verify_code(code))
            r->phase[TP_PH_TLS] = (double)(tw_now_ns() - run->up_ns) / 1e9;
    }

    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_REDIRECT_COUNT, &redirects);
    r->status = (int)status;
    r->redirects = (int)redirects;
    /* curl records the chain's verdict also when not enforcing it */
    if (r->tls || verify_code(code))
        curl_easy_getinfo(c, CURLINFO_SSL_VERIFYRESULT, &verify);
    r->verify = verify;
}

/* curl's messages run up to 255 bytes; the detail keeps what fits */
static void put_detail(struct tp_result *r, const char *text, const char *errname)
{
    int n = errname ? snprintf(r->detail, sizeof(r->detail), "%s (%s)", text, errname)
                    : snprintf(r->detail, sizeof(r->detail), "%s", text);

    if (n < 0)
        r->detail[0] = '\0';
}

static void fail(struct tp_result *r, const char *reason, const char *detail)
{
    r->outcome = TP_FAILURE;
    r->reason = reason;
    put_detail(r, detail, NULL);
}

/* Through tp_result_errno, which owns the errno -> outcome mapping; into a
 * scratch result so it cannot disturb what was measured. */
static void from_errno(struct hrun *run, struct tp_result *r, int err)
{
    struct tp_result x;

    memset(&x, 0, sizeof(x));
    tp_result_errno(&x, err);
    r->outcome = x.outcome;
    r->err = x.err;
    r->reason = x.reason;
    if (run->errbuf[0])
        put_detail(r, run->errbuf, tw_errname(err));
    else
        memcpy(r->detail, x.detail, sizeof(r->detail));
}

static void judge_curl(struct hrun *run, CURLcode code, struct tp_result *r)
{
    const char *text = run->errbuf[0] ? run->errbuf : curl_easy_strerror(code);
    long oserr = 0;

    switch (code) {
    case CURLE_OUT_OF_MEMORY:
        from_errno(run, r, ENOMEM);
        return;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
        /* the errno says refused, unreachable, reset, or out of local
         * ports (EADDRNOTAVAIL: local) better than curl's code */
        curl_easy_getinfo(run->easy, CURLINFO_OS_ERRNO, &oserr);
        if (oserr > 0) {
            from_errno(run, r, (int)oserr);
            return;
        }
        break;
    default:
        break;
    }
    if (code == CURLE_OPERATION_TIMEDOUT)
        fail(r, "timeout", text);
    else if (verify_code(code))
        fail(r, "verify", text);
    else if (tls_code(code))
        fail(r, "tls", text);
    else if (code == CURLE_GOT_NOTHING)
        fail(r, "eof", text);
    else if (code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR)
        fail(r, "reset", text);
    else if (code == CURLE_COULDNT_RESOLVE_HOST)
        fail(r, "dns", text); /* a redirect to a name curl resolved */
    else
        fail(r, "http", text);
}

static bool status_ok(const struct tp_def *d, int status)
{
    if (!d->nstatus)
        return status >= 200 && status <= 299;
    for (size_t i = 0; i < d->nstatus; i++)
        if (status >= d->status[i].lo && status <= d->status[i].hi)
            return true;
    return false;
}

static void status_detail(const struct tp_def *d, int status, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "status %d not in ", status);

    if (!d->nstatus && n < len)
        snprintf(buf + n, len - n, "200-299");
    for (size_t i = 0; i < d->nstatus && n < len; i++) {
        const struct tp_range *s = &d->status[i];

        if (s->lo == s->hi)
            n += (size_t)snprintf(buf + n, len - n, "%s%u", i ? "," : "", s->lo);
        else
            n += (size_t)snprintf(buf + n, len - n, "%s%u-%u", i ? "," : "", s->lo, s->hi);
    }
}

static void judge(struct hrun *run, CURLcode code, struct tp_result *r)
{
    const struct tp_def *d = run->t->def;

    if (run->err) {
        /* socket() failed or we could not watch the socket: curl's code
         * (could not connect) would blame the target */
        from_errno(run, r, run->err);
        return;
    }
    if (code != CURLE_OK) {
        judge_curl(run, code, r);
        return;
    }
    if (!status_ok(d, r->status)) {
        r->outcome = TP_FAILURE;
        r->reason = "status";
        status_detail(d, r->status, r->detail, sizeof(r->detail));
        return;
    }
    if (d->expect_body) {
        bool match = false;

        if (run->body_len == 0 || !memchr(run->body, '\0', run->body_len)) {
            const char *s = run->body ? run->body : "";

            if (run->body)
                run->body[run->body_len] = '\0';
            match = regexec(&d->expect_body_re, s, 0, NULL, 0) == 0;
        }
        if (!match) {
            r->outcome = TP_FAILURE;
            r->reason = "body";
            r->regex_failed = true;
            snprintf(r->detail, sizeof(r->detail), "%sbody does not match %s",
                     run->body_cut ? "the first 64 KiB of the " : "", d->expect_body);
            return;
        }
    }
    r->outcome = TP_SUCCESS;
}

/* ---- runs ---- */

/* abort: the transfer is unfinished (cancel, fini, a local failure) */
static void release(struct hrun *run, bool abort)
{
    struct hk *hk = run->hk;

    /* Removing an unfinished transfer closes its connection, through
     * on_close (RST, whatever the policy: a cancel stops at once), or while
     * it is still connecting with a plain close() that the SO_LINGER 0 set
     * in on_open turns into an RST as well. With FORBID_REUSE nothing else
     * closes during this call. */
    hk->aborting = abort;
    curl_multi_remove_handle(hk->multi, run->easy);
    hk->aborting = false;
    if (run->hs)
        run->hs->run = NULL; /* a socket curl keeps after the transfer */
    tw__list_del(&run->link);
    curl_easy_cleanup(run->easy);
    curl_slist_free_all(run->headers);
    curl_slist_free_all(run->resolve);
    free(run->body);
    free(run);
}

static void finish(struct hrun *run, CURLcode code)
{
    struct tp_engine *e = run->hk->e;
    struct tp_target *t = run->t;
    struct tp_result r;

    measure(run, code, &run->r);
    judge(run, code, &run->r);
    r = run->r;
    release(run, run->doomed);
    t->run = NULL;
    tp_probe_done(e, t, &r);
}

static void reap_doomed(struct hk *hk)
{
    /* finishing reports to the engine, which may start or cancel other
     * runs: restart the walk after each one */
    while (hk->doomed) {
        struct tw_list *n;

        hk->doomed = false;
        for (n = hk->runs.next; n != &hk->runs; n = n->next) {
            struct hrun *run = tw__container_of(n, struct hrun, link);

            if (run->doomed) {
                hk->doomed = true;
                finish(run, CURLE_OK);
                break;
            }
        }
    }
}

static int add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);

    if (!l)
        return -ENOMEM;
    *list = l;
    return 0;
}

static int build_lists(struct hrun *run)
{
    const struct tp_def *d = run->t->def;
    const struct tp_target *t = run->t;
    char line[512];
    int err;

    for (size_t i = 0; i < d->nheaders; i++) {
        const struct tp_kv *h = &d->headers[i];
        char *big = NULL;
        const char *s = line;
        int n;

        /* "Key:" would make curl drop the header; "Key;" sends it empty */
        if (h->value && h->value[0])
            n = snprintf(line, sizeof(line), "%s: %s", h->key, h->value);
        else
            n = snprintf(line, sizeof(line), "%s;", h->key);
        if (n < 0)
            return -EINVAL;
        if ((size_t)n >= sizeof(line)) {
            if (h->value && h->value[0] ? asprintf(&big, "%s: %s", h->key, h->value) < 0
                                        : asprintf(&big, "%s;", h->key) < 0)
                return -ENOMEM;
            s = big;
        }
        err = add_header(&run->headers, s);
        free(big);
        if (err < 0)
            return err;
    }
    /* The engine resolved the name already (and timed it); a literal needs
     * no entry, and an IPv6 literal would not parse as one. */
    if (!t->literal && !strchr(t->ep.host, ':')) {
        char host[TW_ADDRSTRLEN], entry[sizeof(t->ep.host) + TW_ADDRSTRLEN + 16];

        tw_addr_host(&t->addr, host, sizeof(host));
        snprintf(entry, sizeof(entry),
                 tw_addr_family(&t->addr) == AF_INET6 ? "%s:%u:[%s]" : "%s:%u:%s",
                 t->ep.host, t->ep.port, host);
        if ((err = add_header(&run->resolve, entry)) < 0)
            return err;
    }
    return 0;
}

#define SET(opt, val)                                              \
    do {                                                           \
        if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK)      \
            return rc;                                             \
    } while (0)

static CURLcode setup(struct hrun *run)
{
    const struct tp_def *d = run->t->def;
    CURL *c = run->easy;
    const char *method = d->method ? d->method : "GET";
    CURLcode rc;

    SET(CURLOPT_PRIVATE, run);
    SET(CURLOPT_URL, run->t->target);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    SET(CURLOPT_ERRORBUFFER, run->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    /* every probe measures a whole connection and leaves nothing behind */
    SET(CURLOPT_FRESH_CONNECT, 1L);
    SET(CURLOPT_FORBID_REUSE, 1L);
    SET(CURLOPT_SSL_SESSIONID_CACHE, 0L);
    /* a proxy from the environment would make the timings and the address
     * someone else's */
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_TIMEOUT_MS, (long)d->timeout_ms);
    /* The engine resolves and caches names itself. curl's own cache keeps
     * even literal addresses for 60 s and walks every entry on each
     * transfer: with thousands of targets that walk was the largest user
     * CPU cost of a probe. */
    SET(CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    /* One request written at once: Nagle has nothing to hold back, and the
     * setsockopt is one system call per probe saved. */
    SET(CURLOPT_TCP_NODELAY, 0L);
    SET(CURLOPT_USERAGENT, USER_AGENT);
    if (run->resolve)
        SET(CURLOPT_RESOLVE, run->resolve);
    if (run->headers)
        SET(CURLOPT_HTTPHEADER, run->headers);

    if (strcmp(method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        /* POST alone, not as a custom method, so that a 303 turns it into
         * GET as browsers do */
        bool post = strcmp(method, "POST") == 0;

        if (d->body || post) {
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(d->body ? strlen(d->body) : 0));
            SET(CURLOPT_POSTFIELDS, d->body ? d->body : "");
        }
        if (!post && (strcmp(method, "GET") != 0 || d->body))
            SET(CURLOPT_CUSTOMREQUEST, method);
    }
    if (d->max_redirects > 0) {
        SET(CURLOPT_FOLLOWLOCATION, 1L);
        SET(CURLOPT_MAXREDIRS, (long)d->max_redirects);
    }
    SET(CURLOPT_SSL_VERIFYPEER, d->tls_verify ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, d->tls_verify ? 2L : 0L);
    if (d->tls_verify) {
        /* Trust one file: ca_file, or the system bundle curl was built with.
         * A CA directory (Debian's build sets one by default) would make
         * ca_file add to the system roots instead of replacing them, and it
         * keeps curl from caching the parsed store in the multi handle:
         * every probe would parse the whole bundle again (~25 ms of CPU).
         * Without a bundle the directory is the system store: kept. */
        if (d->ca_file || has_bundle)
            SET(CURLOPT_CAPATH, NULL);
        if (d->ca_file)
            SET(CURLOPT_CAINFO, d->ca_file);
#if LIBCURL_VERSION_NUM >= 0x075700
        /* a replaced CA file is seen within minutes, not curl's 24 h */
        SET(CURLOPT_CA_CACHE_TIMEOUT, 600L);
#endif
    }

    SET(CURLOPT_OPENSOCKETFUNCTION, on_open);
    SET(CURLOPT_OPENSOCKETDATA, run);
    SET(CURLOPT_CLOSESOCKETFUNCTION, on_close);
    SET(CURLOPT_CLOSESOCKETDATA, run->hk);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, run);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, run);
    return CURLE_OK;
}

#undef SET

/* ---- the kind ---- */

static int http_init(struct tp_engine *e)
{
    struct hk *hk;

    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return global_rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
    hk = calloc(1, sizeof(*hk));
    if (!hk)
        return -ENOMEM;
    hk->multi = curl_multi_init();
    if (!hk->multi) {
        free(hk);
        return -ENOMEM;
    }
    hk->e = e;
    hk->loop = tp_engine_loop(e);
    tw_timer_init(&hk->timer, on_timer, hk);
    tw_defer_init(&hk->kick, on_kick, hk);
    tw__list_init(&hk->runs);
    tw__list_init(&hk->socks);
    curl_multi_setopt(hk->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(hk->multi, CURLMOPT_SOCKETDATA, hk);
    curl_multi_setopt(hk->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
    curl_multi_setopt(hk->multi, CURLMOPT_TIMERDATA, hk);
    /* one connection per probe, never shared by two transfers */
    curl_multi_setopt(hk->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    *tp_engine_kind_data(e, TP_HTTP) = hk;
    return 0;
}

static void http_fini(struct tp_engine *e)
{
    void **slot = tp_engine_kind_data(e, TP_HTTP);
    struct hk *hk = *slot;

    if (!hk)
        return;
    while (!tw__list_empty(&hk->runs)) {
        struct hrun *run = tw__container_of(hk->runs.next, struct hrun, link);
        struct tp_target *t = run->t;

        release(run, true);
        t->run = NULL;
    }
    curl_multi_cleanup(hk->multi);
    tw_timer_stop(&hk->timer);
    tw_defer_cancel(&hk->kick);
    /* watchers curl never removed: their descriptors are closed by now and
     * the numbers may be someone else's, so no EPOLL_CTL_DEL */
    while (!tw__list_empty(&hk->socks)) {
        struct hsock *hs = tw__container_of(hk->socks.next, struct hsock, link);

        tw_io_forget(&hs->io);
        tw__list_del(&hs->link);
        free(hs);
    }
    free(hk->fd_def);
    free(hk);
    *slot = NULL;
}

static int http_start(struct tp_engine *e, struct tp_target *t)
{
    struct hk *hk = *tp_engine_kind_data(e, TP_HTTP);
    struct hrun *run;
    CURLcode rc;
    CURLMcode mc;
    int err;

    if (!hk || !t || !t->def || t->run)
        return -EINVAL;
    run = calloc(1, sizeof(*run));
    if (!run)
        return -ENOMEM;
    tw__list_init(&run->link);
    run->hk = hk;
    run->t = t;
    run->r.verify = -1;
    run->fd = CURL_SOCKET_BAD;
    run->maybe_tls = t->ep.https || t->def->max_redirects > 0;
    run->easy = curl_easy_init();
    if (!run->easy) {
        free(run);
        return -ENOMEM;
    }
    err = build_lists(run);
    if (err < 0)
        goto fail;
    rc = setup(run);
    if (rc != CURLE_OK) {
        err = rc == CURLE_OUT_OF_MEMORY ? -ENOMEM
            : rc == CURLE_UNKNOWN_OPTION || rc == CURLE_NOT_BUILT_IN ? -ENOTSUP
            : -EINVAL;
        goto fail;
    }
    /* curl asks for its first timeout from in here (0: the kick), so
     * nothing of the transfer runs before start returns */
    mc = curl_multi_add_handle(hk->multi, run->easy);
    if (mc != CURLM_OK) {
        err = mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
        goto fail;
    }
    tw__list_add_tail(&hk->runs, &run->link);
    t->run = run;
    return 0;

fail:
    curl_easy_cleanup(run->easy);
    curl_slist_free_all(run->headers);
    curl_slist_free_all(run->resolve);
    free(run);
    return err;
}

static void http_cancel(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    struct hrun *run = t->run;

    if (!run)
        return;
    /* what the engine reports is its own timeout; add what was measured */
    measure(run, CURLE_OK, &run->r);
    memcpy(r->phase, run->r.phase, sizeof(r->phase));
    r->status = run->r.status;
    r->redirects = run->r.redirects;
    r->tls = run->r.tls;
    r->cert_expiry = run->r.cert_expiry;
    r->leaf_expiry = run->r.leaf_expiry;
    r->verify = run->r.verify;
    release(run, true);
    t->run = NULL;
}

const struct tp_kind_ops tp_http_ops = {
    .init = http_init,
    .fini = http_fini,
    .start = http_start,
    .cancel = http_cancel,
};
