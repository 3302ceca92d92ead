/* The sampler (internal.h): every 100 ms the client threads' counters and
 * TIME_WAIT on each side, from the main thread. */
#include <string.h>
#include <unistd.h>

#include "bench/internal.h"
#include "twkit/diag.h"
#include "twkit/time.h"

struct twcount { uint16_t port; int32_t client, server; };

static int tw_split(const struct tw_diag_sock *s, void *arg)
{
    struct twcount *c = arg;
    if (tw_addr_port(&s->local) == c->port)
        c->server++;
    else if (tw_addr_port(&s->remote) == c->port)
        c->client++;
    return 0;
}

/* TIME_WAIT towards and on the server, in each namespace involved. */
static void sample_tw(struct run *run, int32_t *client, int32_t *server)
{
    struct twcount c = {.port = tw_addr_port(&run->dst)};
    struct tw_tcp_states st;

    if (run->have_lab) {
        *client = tw_lab_count(&run->lab, TW_LAB_CLIENT, &st) == 0 ? (int32_t)st.n[TW_TCP_TIME_WAIT] : -1;
        *server = tw_lab_count(&run->lab, TW_LAB_SERVER, &st) == 0 ? (int32_t)st.n[TW_TCP_TIME_WAIT] : -1;
        return;
    }
    if (tw_diag_dump(1u << TW_TCP_TIME_WAIT, tw_split, &c) < 0) {
        *client = *server = -1;
        return;
    }
    *client = c.client;
    *server = run->server_local ? c.server : -1;
}

static void take_sample(struct run *run, struct tb_sample *s)
{
    memset(s, 0, sizeof(*s));
    s->t_ms = (uint32_t)(tw_now_ms() - run->t0_ms);
    for (unsigned i = 0; i < run->nct; i++) {
        s->sessions += tb__ld(&run->ct[i].n.sessions);
        s->requests += tb__ld(&run->ct[i].n.requests);
        s->errors += tb__ld(&run->ct[i].n.errors);
    }
    sample_tw(run, &s->tw_client, &s->tw_server);
}

void tb__sample_until_end(struct run *run)
{
    const struct tb_opts *o = run->o;
    struct tb_result *r = run->r;
    uint64_t next_progress = run->t0_ms + 1000;

    for (uint64_t now = tw_now_ms(); now - run->t0_ms < o->duration_ms; now = tw_now_ms()) {
        uint64_t next = run->t0_ms + (r->nseries + 1) * SAMPLE_MS, end = run->t0_ms + o->duration_ms;
        if (next > end)
            next = end;
        if (next > now)
            usleep((useconds_t)(next - now) * 1000);
        if (r->nseries < run->series_cap) {
            struct tb_sample *s = &r->series[r->nseries++];
            take_sample(run, s);
            if (s->tw_client > r->tw_client_max)
                r->tw_client_max = s->tw_client;
            if (s->tw_server > r->tw_server_max)
                r->tw_server_max = s->tw_server;
            if (o->progress && tw_now_ms() >= next_progress) {
                o->progress(s, o->progress_arg);
                next_progress += 1000;
            }
        }
    }
}
