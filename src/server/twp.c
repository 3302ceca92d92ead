/* twp on the server's connection life cycle (server.c): HELLO, requests
 * and replies, PING, DONE, BYE/GOODBYE and ERROR, as docs/PROTOCOL.md's
 * table of states and inputs says. server.c knows it only through
 * tw__proto_twp. */
#include <errno.h>
#include <string.h>

#include "server/internal.h"
#include "twkit/twp.h"

static int queue_frame(tw_sconn *c, uint8_t type, const void *payload, uint32_t len)
{
    uint8_t hdr[TW_TWP_HDR];

    tw_twp_put_header(hdr, type, len);
    if (tw__buf_append(&c->out, hdr, sizeof(hdr), payload, len) < 0)
        return -ENOMEM;
    tw__stat_inc(&c->srv->st.frames_out);
    return 0;
}

int tw_sconn_send(tw_sconn *c, const void *payload, uint32_t len)
{
    int err;

    if (!c || (len && !payload) || c->srv->proto != &tw__proto_twp)
        return -EINVAL;
    if (c->state != SC_OPEN)
        return -EPIPE;
    if ((err = queue_frame(c, TW_TWP_DATA, payload, len)) < 0)
        return err;
    if (!c->in_read)
        tw__sconn_flush(c);
    return 0;
}

/* Queue a reply from the input path; out of memory ends the connection. */
static sc_live reply(tw_sconn *c, uint8_t type, const void *payload, uint32_t len)
{
    if (queue_frame(c, type, payload, len) == 0)
        return SC_ALIVE;
    tw__sconn_abort(c, &c->srv->st.aborted_nomem);
    return SC_FREED;
}

static uint32_t after_done(tw_sconn *c, const uint8_t *p, uint32_t len);

static void twp_finish(tw_sconn *c)
{
    c->closing = true;
    if (c->state == SC_HELLO) { /* DONE must not be our first frame */
        tw__sconn_arm(c, c->active_ms + c->srv->o.grace_ms);
        return;
    }
    if (queue_frame(c, TW_TWP_DONE, NULL, 0) < 0) {
        tw__sconn_abort(c, &c->srv->st.aborted_nomem);
        return;
    }
    tw__sconn_end_wait(c, SC_DONE_SENT, &c->srv->st.closed_after_done);
    if (!c->in_read) {
        /* a frame partly in goes on in the bytes to come: walk it */
        if (c->in.len)
            after_done(c, c->in.p + c->in.off, c->in.len);
        tw__buf_free(&c->in);
        tw__sconn_flush(c);
    }
}

static void protocol_error(tw_sconn *c, uint16_t code, const char *why)
{
    uint8_t p[2 + 64];
    uint32_t n = (uint32_t)strlen(why);

    if (n > 64)
        n = 64;
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    memcpy(p + 2, why, n);
    queue_frame(c, TW_TWP_ERROR, p, 2 + n);
    tw__sconn_end_wait(c, SC_ERROR_SENT, &c->srv->st.aborted_invalid);
}

static sc_live handle_frame(tw_sconn *c, const struct tw_twp_frame *f)
{
    tw_server *s = c->srv;

    tw__stat_inc(&s->st.frames_in);
    if (c->state == SC_HELLO) {
        if (f->type != TW_TWP_HELLO || memcmp(f->payload, tw_twp_hello, 4) != 0) {
            protocol_error(c, TW_TWP_E_VERSION, "expected HELLO twp version 1");
            return SC_ALIVE;
        }
        c->state = SC_OPEN;
        if (reply(c, TW_TWP_HELLO, tw_twp_hello, 4) == SC_FREED)
            return SC_FREED;
        if (c->closing) /* shutdown came before the HELLO */
            twp_finish(c);
        return SC_ALIVE;
    }
    switch (f->type) {
    case TW_TWP_DATA:
        c->requests++;
        if (s->o.on_data) {
            if (s->o.on_data(c, f->payload, f->len, s->o.data) < 0) {
                tw__sconn_abort(c, &s->st.aborted_invalid);
                return SC_FREED;
            }
        } else if (reply(c, TW_TWP_DATA, f->payload, f->len) == SC_FREED) {
            return SC_FREED;
        }
        if (s->o.naive_close)
            tw__sconn_naive_close_after(c);
        else if (s->o.max_requests && c->requests >= s->o.max_requests)
            twp_finish(c);
        return SC_ALIVE;
    case TW_TWP_PING:
        return reply(c, TW_TWP_PONG, f->payload, f->len);
    case TW_TWP_PONG:
        return SC_ALIVE;
    case TW_TWP_BYE:
        if (reply(c, TW_TWP_GOODBYE, NULL, 0) == SC_FREED)
            return SC_FREED;
        tw__sconn_end_wait(c, SC_GOODBYE_SENT, &s->st.bye_goodbye);
        return SC_ALIVE;
    case TW_TWP_ERROR:
        tw__sconn_abort(c, &s->st.aborted_invalid); /* the client gave up on us */
        return SC_FREED;
    default: /* HELLO again, DONE, GOODBYE: not from a client, not now */
        protocol_error(c, TW_TWP_E_STATE, "frame not allowed now");
        return SC_ALIVE;
    }
}

/* After DONE: requests crossing it are read and not processed (the client
 * may send them again elsewhere), but a BYE that crossed it is answered
 * with GOODBYE, so that client still ends without TIME_WAIT. Frames are
 * walked without buffering their payloads: a header split across reads
 * waits in c->hdr, a payload is skipped. Returns the bytes used; any left
 * came after the BYE. */
static uint32_t after_done(tw_sconn *c, const uint8_t *p, uint32_t len)
{
    uint32_t used = 0;

    while (used < len && c->state == SC_DONE_SENT) {
        uint32_t take, plen;

        if (c->skip) {
            take = len - used < c->skip ? len - used : c->skip;
            c->skip -= take;
            used += take;
            continue;
        }
        take = TW_TWP_HDR - (uint32_t)c->hdr_len;
        if (take > len - used)
            take = len - used;
        memcpy(c->hdr + c->hdr_len, p + used, take);
        c->hdr_len += (uint8_t)take;
        used += take;
        if (c->hdr_len < TW_TWP_HDR)
            break;
        c->hdr_len = 0;
        plen = (uint32_t)c->hdr[0] << 24 | (uint32_t)c->hdr[1] << 16 |
               (uint32_t)c->hdr[2] << 8 | c->hdr[3];
        if (c->hdr[4] == TW_TWP_BYE && plen == 0) {
            if (queue_frame(c, TW_TWP_GOODBYE, NULL, 0) == 0)
                tw__sconn_end_wait(c, SC_GOODBYE_SENT, &c->srv->st.bye_goodbye);
            break;
        }
        c->skip = plen;
    }
    return used;
}

/* Bytes in DONE_SENT or GOODBYE_SENT: see after_done; anything after a BYE
 * is an error (the client said it would send nothing more). */
static void input_ending(tw_sconn *c, const uint8_t *p, uint32_t len)
{
    uint32_t used = c->state == SC_DONE_SENT ? after_done(c, p, len) : 0;

    if (c->state == SC_GOODBYE_SENT && used < len)
        protocol_error(c, TW_TWP_E_STATE, "frame after BYE");
}

/* Parse every complete frame of data[0..n). Returns -1 if freed. */
/* Every complete frame of the input, one at a time. */
static sc_live twp_input(tw_sconn *c, uint8_t *data, uint32_t n)
{
    uint8_t *p;
    uint32_t len;
    bool buffered;

    if (c->state == SC_DONE_SENT || c->state == SC_GOODBYE_SENT) {
        input_ending(c, data, n);
        return SC_ALIVE;
    }
    if (tw__buf_input(&c->in, data, n, &p, &len, &buffered) < 0) {
        tw__sconn_abort(c, &c->srv->st.aborted_nomem);
        return SC_FREED;
    }
    /* Backpressure per frame: stop once the replies queued pass the limit;
     * the rest waits in c->in until they drain (tw__sconn_flush). */
    while (len && c->state <= SC_OPEN && c->out.len <= c->srv->o.max_outbuf) {
        struct tw_twp_frame f;
        int r = tw_twp_parse(p, len, c->srv->o.max_frame, &f);
        if (r == 0)
            break;
        if (r < 0) {
            protocol_error(c, r == -EMSGSIZE ? TW_TWP_E_TOO_BIG : TW_TWP_E_BAD_FRAME,
                           r == -EMSGSIZE ? "frame too big" : "bad frame");
            break;
        }
        if (handle_frame(c, &f) == SC_FREED)
            return SC_FREED;
        p += r;
        len -= (uint32_t)r;
        if (c->state == SC_DONE_SENT || c->state == SC_GOODBYE_SENT) {
            input_ending(c, p, len); /* frames behind DONE or BYE */
            len = 0;
        }
    }
    if (c->state > SC_OPEN)
        len = 0; /* past DONE/BYE/ERROR nothing more is processed */
    else if (len && c->out.len > c->srv->o.max_outbuf)
        c->reading = false; /* backpressure: parse the rest as replies drain */
    if (tw__buf_input_rest(&c->in, buffered, p, len) < 0) {
        tw__sconn_abort(c, &c->srv->st.aborted_nomem);
        return SC_FREED;
    }
    if (c->in.len && c->reading) /* a frame partly in must keep moving */
        tw__sconn_arm(c, tw_loop_now(c->srv->loop) + c->srv->o.stall_timeout_ms);
    return SC_ALIVE;
}

/* DONE_SENT, everything acknowledged, no FIN within the grace period. */
static void twp_done_over(tw_sconn *c)
{
    tw__sconn_abort(c, &c->srv->st.aborted_grace);
}

static uint64_t twp_done_wait(const tw_sconn *c) { return c->srv->o.grace_ms; }
static bool no_head(const tw_sconn *c) { return false; } /* HELLO has its own state */

const struct tw__proto tw__proto_twp = {
    .first = SC_HELLO,
    .input = twp_input,
    .finish = twp_finish,
    .head_due = no_head,
    .done_wait = twp_done_wait,
    .done_over = twp_done_over,
};
