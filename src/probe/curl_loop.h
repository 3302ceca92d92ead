/* libcurl's multi-socket interface on the engine's loop (curl_loop.c), for
 * the http kind: curl's sockets become tw_io watchers, its timer one
 * tw_timer, and every socket is opened and closed by us, so its close
 * follows the probe definition.
 */
#ifndef TW_PROBE_CURL_LOOP_H
#define TW_PROBE_CURL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "core/list.h"
#include "probe/probe.h"

struct tp_curl;
struct tp_curl_sock;

/* One transfer, embedded in the kind's own run. The kind fills easy, def
 * and done; the rest is this file's. */
struct tp_curl_run {
    struct tw_list link;        /* on the multi's runs */
    struct tp_curl *cm;
    CURL *easy;                 /* the kind's: made and cleaned up there */
    const struct tp_def *def;   /* how its sockets close */
    /* The transfer ended (curl's code), or a local failure made it end
     * (CURLE_OK, err set). Called from the loop, never inside curl: the
     * kind removes the run and reports. */
    void (*done)(struct tp_curl_run *run, CURLcode code);
    /* curl 7.88 publishes the connect time only once TLS is up: our own
     * marks for the latest connection, for probes that end before that */
    curl_socket_t fd;
    struct tp_curl_sock *hs;
    uint64_t open_ns, up_ns;
    unsigned conns;             /* connections opened so far */
    int err;                    /* errno of a local failure curl cannot know */
    bool doomed;                /* err happened outside curl: finish ourselves */
};

/* A multi for engine e, on its loop (curl's global init the first time).
 * Returns 0 or -errno. */
int tp_curl_new(struct tp_engine *e, struct tp_curl **out);
/* Every run must have been removed (tp_curl_first says which remain). */
void tp_curl_free(struct tp_curl *cm);
/* Whether libcurl was built with a CA bundle file. */
bool tp_curl_has_bundle(void);

/* Set run's easy handle up for the multi (private pointer, socket
 * callbacks) and start it; nothing of it runs before this returns.
 * 0 or -errno. */
int tp_curl_add(struct tp_curl *cm, struct tp_curl_run *run);
/* Take run out of the multi. abort: it is unfinished (cancel, fini, a
 * local failure), so its connection is reset whatever the close policy. */
void tp_curl_remove(struct tp_curl_run *run, bool abort);
/* A run still in the multi, or NULL. */
struct tp_curl_run *tp_curl_first(struct tp_curl *cm);

#endif
