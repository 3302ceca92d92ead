/* The table of hazards: what TIME_WAIT (and its neighbours: timestamps,
 * tcp_rfc1337, a graceful close, an RST that arrives) protects against,
 * each a fact run with and without its protection. One row per hazard,
 * for `twkit hazards` and the tests; the experiments are in hz_*.c. */
#include <string.h>

#include "lab/hazards.h"
#include "lab/hz_lib.h"
#include "twkit/time.h"

const struct tw_hazard tw_hazards[] = {
    {"lost-ack", "a lost final ACK",
     "the passive closer sits in LAST_ACK retransmitting its FIN; a new connection on the same "
     "4-tuple without TIME_WAIT meets it and fails or is delayed (RFC 9293 3.6.1)",
     "TIME_WAIT on the client, skipped with tcp_max_tw_buckets=0; the final ACK dropped by nft "
     "in both runs",
     "keep TIME_WAIT on the side that closes first, or have the side that never reuses a 4-tuple "
     "at once close first; never shorten or skip TIME_WAIT to reuse a client port towards the "
     "same server",
     hz_run_lost_ack},
    {"duplicate", "a delayed duplicate segment",
     "an old segment arriving late on a reused 4-tuple is taken as new data if its sequence "
     "number falls inside the new window: silent corruption; TIME_WAIT (2 MSL) prevents it, and "
     "so do timestamps (PAWS, RFC 7323), which is why tcp_tw_reuse needs them",
     "timestamps (PAWS), tcp_timestamps=0 on both sides; TIME_WAIT skipped "
     "(tcp_max_tw_buckets=0) in both runs so the 4-tuple is reused at once; the middle run keeps "
     "TIME_WAIT and timestamps, and tcp_tw_reuse=1 takes the 4-tuple out of the TIME_WAIT",
     "reuse a 4-tuple before 2 MSL only with timestamps on both sides (tcp_tw_reuse's own "
     "condition: PAWS is what rejects the old segment then); never turn timestamps off on hosts "
     "that reuse ports quickly",
     hz_run_duplicate},
    {"assassination", "TIME_WAIT assassination by RST",
     "an RST that reaches a socket in TIME_WAIT kills it early, bringing back the hazards "
     "TIME_WAIT guards against (RFC 1337); tcp_rfc1337=1 makes TIME_WAIT ignore it",
     "tcp_rfc1337=1 on the client; 0 (Linux's default) removes it",
     "with Linux's default any exact in-window RST ends TIME_WAIT at once; set tcp_rfc1337=1 where "
     "TIME_WAIT must last its full 60 s whatever arrives",
     hz_run_assassination},
    {"overflow", "tcp_max_tw_buckets overflow",
     "past tcp_max_tw_buckets the kernel skips TIME_WAIT altogether and closes at once "
     "(\"time wait bucket table overflow\"), with none of its protection",
     "tcp_max_tw_buckets at its default on the client; 0 removes TIME_WAIT",
     "a small tcp_max_tw_buckets is not a fix: every connection past the limit silently loses "
     "TIME_WAIT's protection; end connections so that TIME_WAIT does not pile up instead",
     hz_run_overflow},
    {"abort", "abort with unsent data",
     "close() with SO_LINGER {1,0} sends an RST at once: data not yet sent or acknowledged is "
     "discarded and the peer's read fails with ECONNRESET",
     "a graceful close(); SO_LINGER {1,0} removes it; data queued behind the peer's zero window",
     "abort only when every byte sent has been acknowledged and nothing more is owed: an "
     "abortive close is safe for a prober because it never reuses a 4-tuple within 2 MSL and "
     "its data is acknowledged before it resets",
     hz_run_abort},
    {"lost-rst", "a lost RST (twkit's RST endings)",
     "twkit ends connections with an RST to spare a TIME_WAIT (--after-fin rst, BYE/GOODBYE); "
     "an RST is never retransmitted, so when it is lost the peer's socket lingers",
     "the RST arriving; dropped by nft in the second run",
     "an RST ending is safe when losing it costs only time: after --after-fin rst a lost RST "
     "holds the client's port until its FIN retransmission meets a fresh RST (FIN_WAIT2 for "
     "tcp_fin_timeout had its FIN been acknowledged); after BYE/GOODBYE the server's next "
     "segment meets one",
     hz_run_lost_rst},
};
const size_t tw_nhazards = sizeof(tw_hazards) / sizeof(tw_hazards[0]);

const struct tw_hazard *tw_hazard_find(const char *name)
{
    for (size_t i = 0; i < tw_nhazards; i++)
        if (!strcmp(tw_hazards[i].name, name))
            return &tw_hazards[i];
    return NULL;
}

void tw_hazard_run(const struct tw_hazard *h, struct tw_hazard_result *r,
                   const struct tw_hazard_opts *o)
{
    static const struct tw_hazard_opts none;
    uint64_t t0 = tw_now_ms();

    memset(r, 0, sizeof(*r));
    h->run(r, o ? o : &none);
    r->seconds = (double)(tw_now_ms() - t0) / 1000.0;
}

bool tw_hazard_held(const struct tw_hazard_result *r)
{
    const struct tw_hazard_run *m = &r->run[TW_HZ_MIDDLE];

    /* a middle run that did not go is one the hazard does not have: a
     * failure to set it up is in r->err */
    return !r->err[0] && r->run[0].ran && r->run[1].ran && r->run[0].as_expected &&
           r->run[1].as_expected && (!m->ran || m->as_expected);
}
