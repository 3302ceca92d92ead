/* HTTP/1.1 on the server's connection life cycle (server.c).
 *
 * Requests are parsed where they lie: in the receiver's buffer, and only
 * an incomplete request is copied into the connection's input buffer. Each
 * is handed to the handler, which answers before it returns, so pipelined
 * requests are answered in order and their responses leave in one write;
 * parsing stops, request by request, once more than max_outbuf of
 * responses wait, and resumes as they drain.
 *
 * Ending a connection: the server never sends the first FIN unless the
 * protocol requires it to close. When the client asked to close (or is
 * HTTP/1.0 without keep-alive), or the server wants to end (request limit,
 * shutdown), or the request was malformed, the response says Connection:
 * close and the connection goes to DONE_SENT: input is read and discarded,
 * so the client's FIN is seen. A client that closes gets our FIN second. As
 * RFC 9112 9.6 requires, the server then closes itself: at once to an
 * HTTP/1.0 client without keep-alive (it waits for that close), else once
 * the client acknowledged the response and did not close within close_wait
 * (FIN_SENT, counted closed_first_required). An idle keep-alive connection
 * is aborted (RST) at the idle timeout; a head that is not whole within
 * request_timeout (slowloris) is aborted too.
 */
#include <errno.h>
#include <string.h>

#include "server/internal.h"

#define HEAD_ROOM 256 /* status line and the headers the server adds */

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

static const char *date_now(tw_server *s)
{
    uint64_t now = tw_loop_now(s->loop);

    if (!s->date[0] || now - s->date_ms >= 1000) {
        tw_http_date(s->date);
        s->date_ms = now;
        s->date_gen++;
    }
    return s->date;
}

/* The head tw_http_write_head would write, from the cache when the last
 * head had the same fields (a server answers most requests alike), else
 * written and kept. Returns its length, or a negative errno. */
static ssize_t write_head(tw_server *s, char *out, size_t cap, int status, const char *ctype,
                          int64_t body_len, enum tw_http_conn conn, const char *extra)
{
    const char *date = date_now(s);
    __typeof__(s->head_cache) *hc = &s->head_cache;
    ssize_t n;

    if (!extra && ctype && hc->date_gen == s->date_gen && hc->status == status &&
        hc->body_len == body_len && hc->conn == conn && strcmp(hc->ctype, ctype) == 0) {
        if (hc->len > cap)
            return -ENOSPC;
        memcpy(out, hc->head, hc->len);
        return (ssize_t)hc->len;
    }
    n = tw_http_write_head(out, cap, status, date, ctype, body_len, conn, extra);
    if (n > 0 && !extra && ctype && strlen(ctype) < sizeof(hc->ctype) &&
        (size_t)n <= sizeof(hc->head)) {
        memcpy(hc->head, out, (size_t)n);
        hc->len = (uint32_t)n;
        strcpy(hc->ctype, ctype);
        hc->status = status;
        hc->body_len = body_len;
        hc->conn = conn;
        hc->date_gen = s->date_gen;
    }
    return n;
}

/* Queue a response head and body[0..len) (body_len, the Content-Length;
 * -1 for chunked). One reservation, so a failure leaves nothing half
 * written. */
static int put_response(tw_sconn *c, int status, const char *ctype, const char *extra,
                        int64_t body_len, const void *body, size_t len)
{
    tw_server *s = c->srv;
    size_t room = HEAD_ROOM + (ctype ? strlen(ctype) : 0) + (extra ? strlen(extra) : 0) + len;
    enum tw_http_conn conn;
    uint8_t *w;
    ssize_t n;

    c->resp_close |= c->closing; /* shutdown came while a response was held */
    conn = c->resp_close ? TW_HTTP_CONN_CLOSE
           : c->keep_alive_10 ? TW_HTTP_CONN_KEEP_ALIVE : TW_HTTP_CONN_DEFAULT;
    if (!(w = tw__buf_reserve(&c->out, room)))
        return -ENOMEM;
    n = write_head(s, (char *)w, room - len, status, ctype, body_len, conn, extra);
    if (n < 0)
        return (int)n;
    if (len)
        memcpy(w + n, body, len);
    c->out.len += (uint32_t)((size_t)n + len);
    uint64_t *by_class[] = {&s->st.responses_5xx, &s->st.responses_1xx, &s->st.responses_2xx,
                            &s->st.responses_3xx, &s->st.responses_4xx, &s->st.responses_5xx};
    tw__stat_inc(by_class[status >= 100 && status < 600 ? status / 100 : 0]);
    return 0;
}

static void deferred_done(tw_sconn *c);
static sc_live http_input(tw_sconn *c, uint8_t *data, uint32_t n);

int tw_sconn_respond(tw_sconn *c, int status, const char *content_type,
                     const char *extra_headers, const void *body, size_t len)
{
    int err;

    if (!c || c->srv->proto != &tw__proto_http || (len && !body))
        return -EINVAL;
    if (!c->in_request)
        return -EALREADY;
    if ((err = put_response(c, status, content_type, extra_headers, (int64_t)len, body,
                            c->resp_head ? 0 : len)) < 0)
        return err;
    c->in_request = false;
    if (c->held)
        deferred_done(c);
    return 0;
}

int tw_sconn_respond_start(tw_sconn *c, int status, const char *content_type,
                           const char *extra_headers)
{
    int err;

    if (!c || c->srv->proto != &tw__proto_http)
        return -EINVAL;
    if (!c->in_request)
        return -EALREADY;
    if (c->minor == 0)
        return -EPROTONOSUPPORT; /* HTTP/1.0 has no chunked coding */
    if ((err = put_response(c, status, content_type, extra_headers, -1, NULL, 0)) < 0)
        return err;
    c->in_request = false;
    c->resp_chunked = true;
    return 0;
}

int tw_sconn_respond_chunk(tw_sconn *c, const void *data, size_t len)
{
    uint8_t *w;
    size_t n;

    if (!c || !c->resp_chunked || (len && !data))
        return -EINVAL;
    if (!len || c->resp_head)
        return 0; /* a zero-length chunk would end the body */
    if (!(w = tw__buf_reserve(&c->out, (uint64_t)len + 24)))
        return -ENOMEM;
    n = tw_http_chunk_head((char *)w, len);
    memcpy(w + n, data, len);
    memcpy(w + n + len, TW_HTTP_CHUNK_END, 2);
    c->out.len += (uint32_t)(n + len + 2);
    return 0;
}

int tw_sconn_respond_end(tw_sconn *c)
{
    char last[8];

    int err = 0;

    if (!c || !c->resp_chunked)
        return -EINVAL;
    c->resp_chunked = false;
    if (!c->resp_head)
        err = tw__buf_append(&c->out, last, (uint32_t)tw_http_chunk_head(last, 0), NULL, 0);
    if (err == 0 && c->held)
        deferred_done(c);
    return err;
}

/* After a response: go on, or (Connection: close) wait for the client to
 * close. Only in OPEN: a client whose FIN came while its response was held
 * is in PEER_FIN, and closes once the response is written. */
static void after_response(tw_sconn *c)
{
    tw_server *s = c->srv;

    if (!c->resp_close || c->state != SC_OPEN)
        return;
    if (s->o.naive_close)
        tw__sconn_naive_close_after(c);
    else
        tw__sconn_end_wait(c, SC_DONE_SENT, &s->st.closed_after_done);
}

/* The handler returned (or a held response was given): close a chunked
 * body, answer 500 for a handler that did not answer, then go on. */
static sc_live response_done(tw_sconn *c)
{
    static const char failed[] = "the handler did not answer\n";

    if (c->resp_chunked)
        tw_sconn_respond_end(c);
    if (c->in_request &&
        tw_sconn_respond(c, 500, "text/plain", NULL, failed, sizeof(failed) - 1) < 0) {
        tw__sconn_abort(c, &c->srv->st.aborted_nomem);
        return SC_FREED;
    }
    after_response(c);
    return SC_ALIVE;
}

int tw_sconn_defer(tw_sconn *c)
{
    if (!c || c->srv->proto != &tw__proto_http)
        return -EINVAL;
    if (!c->in_request || c->held || !c->in_read)
        return -EALREADY; /* only from the handler, for the request it has */
    c->held = true;
    return 0;
}

/* A held response is complete: send it and parse the requests pipelined
 * behind it (tw__sconn_flush does both: it resumes the parse). */
static void deferred_done(tw_sconn *c)
{
    if (c->in_read) { /* still inside the handler: nothing was held */
        c->held = false;
        return;
    }
    c->held = false;
    c->in_read = true;
    if (response_done(c) == SC_FREED)
        return;
    if (c->state == SC_OPEN) {
        c->reading = true;
        if (c->in.len && http_input(c, NULL, 0) == SC_FREED)
            return;
    }
    c->in_read = false;
    if (tw__sconn_flush(c) == SC_ALIVE) /* the idle clock starts again */
        tw__sconn_arm(c, c->active_ms + c->srv->o.idle_timeout_ms);
}

static sc_live handle_request(tw_sconn *c, const struct tw_http_req *req)
{
    tw_server *s = c->srv;
    static const char not_found[] = "not found\n";

    c->requests++;
    c->minor = req->minor;
    c->resp_head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
    c->resp_close = !req->keep_alive || c->closing || s->o.naive_close ||
                    (s->o.max_requests && c->requests >= s->o.max_requests);
    c->keep_alive_10 = !c->resp_close && req->minor == 0;
    c->fin_now = req->minor == 0 && !req->keep_alive; /* it waits for our close */
    c->in_request = true;
    tw__stat_inc(&s->st.requests);
    if (s->o.on_http)
        s->o.on_http(c, req, s->o.data);
    else
        tw_sconn_respond(c, 404, "text/plain", NULL, not_found, sizeof(not_found) - 1);
    if (c->held) /* tw_sconn_defer: the answer comes later */
        return SC_ALIVE;
    return response_done(c);
}

/* Malformed: answer 4xx/5xx with Connection: close, then end as above. */
static sc_live reject(tw_sconn *c, int err)
{
    tw_server *s = c->srv;
    int status = tw_http_error_status(err);
    const char *why = tw_http_reason(status);
    char body[64];
    size_t n = strlen(why);

    memcpy(body, why, n);
    body[n++] = '\n';
    tw__stat_inc(&s->st.bad_requests);
    c->resp_close = true;
    c->resp_head = c->keep_alive_10 = c->fin_now = false;
    c->in_request = true;
    if (tw_sconn_respond(c, status, "text/plain", NULL, body, n) < 0) {
        tw__sconn_abort(c, &s->st.aborted_nomem);
        return SC_FREED;
    }
    after_response(c);
    return SC_ALIVE;
}

static sc_live http_input(tw_sconn *c, uint8_t *data, uint32_t n)
{
    tw_server *s = c->srv;
    uint8_t *p;
    uint32_t len;
    bool buffered;

    if (c->state != SC_OPEN)
        return SC_ALIVE; /* past Connection: close input is read and discarded */
    if (!c->in.len && c->requests)
        c->since_ms = tw_loop_now(s->loop); /* a new request begins (the first
                                               one's clock began at the accept) */
    if (tw__buf_input(&c->in, data, n, &p, &len, &buffered) < 0) {
        tw__sconn_abort(c, &s->st.aborted_nomem);
        return SC_FREED;
    }
    /* One request at a time: stop once the responses queued pass the
     * limit, or while the handler holds one; the rest waits in c->in until
     * they drain (tw__sconn_flush) or it is answered. */
    while (len && c->state == SC_OPEN && !c->held && c->out.len <= s->o.max_outbuf) {
        ssize_t r = tw_http_parse(&c->hp, (char *)p, len, &s->o.http_limits, &s->req);
        if (r == -EAGAIN) {
            /* RFC 9110 15.2: no 1xx to an HTTP/1.0 client */
            if (c->hp.head_len && s->req.expect_continue && s->req.minor >= 1 &&
                !c->continue_sent) {
                c->continue_sent = true;
                if (tw__buf_append(&c->out, continue_100, sizeof(continue_100) - 1, NULL, 0) < 0) {
                    tw__sconn_abort(c, &s->st.aborted_nomem);
                    return SC_FREED;
                }
            }
            break;
        }
        if ((r < 0 ? reject(c, (int)r) : handle_request(c, &s->req)) == SC_FREED)
            return SC_FREED;
        if (c->state != SC_OPEN)
            break;
        p += r;
        len -= (uint32_t)r;
        memset(&c->hp, 0, sizeof(c->hp));
        c->continue_sent = false;
        c->since_ms = tw_loop_now(s->loop);
    }
    if (c->state != SC_OPEN)
        len = 0; /* past Connection: close nothing more is processed */
    else if (len && (c->out.len > s->o.max_outbuf || (c->held && len > SCRATCH)))
        c->reading = false; /* parse the rest as the responses drain */
    if (tw__buf_input_rest(&c->in, buffered, p, len) < 0) {
        tw__sconn_abort(c, &s->st.aborted_nomem);
        return SC_FREED;
    }
    /* A request partly in: its head has a deadline, its body must move. */
    if (c->in.len && c->reading && !c->held)
        tw__sconn_arm(c, c->hp.head_len ? tw_loop_now(s->loop) + s->o.stall_timeout_ms
                                        : c->since_ms + s->o.request_timeout_ms);
    return SC_ALIVE;
}

static bool http_head_due(const tw_sconn *c)
{
    return c->reading && !c->held && (c->in.len ? !c->hp.head_len : !c->requests);
}

static void http_finish(tw_sconn *c)
{
    c->closing = true;
    if (!c->in_read && !c->in.len && !c->out.len && !c->held) {
        /* idle: one grace period, from now, for a last request */
        c->active_ms = tw_loop_now(c->srv->loop);
        tw__sconn_arm(c, c->active_ms + c->srv->o.grace_ms);
    }
}

static uint64_t http_done_wait(const tw_sconn *c) { return c->srv->o.close_wait_ms; }

/* The response is acknowledged and the client did not close within the
 * close wait: RFC 9112 9.6 requires the server to close now. */
static void http_done_over(tw_sconn *c) { tw__sconn_close_first(c); }

const struct tw__proto tw__proto_http = {
    .first = SC_OPEN,
    .input = http_input,
    .finish = http_finish,
    .head_due = http_head_due,
    .done_wait = http_done_wait,
    .done_over = http_done_over,
    .close_first_ok = true,
    .rst_after_fin_ok = true,
};
