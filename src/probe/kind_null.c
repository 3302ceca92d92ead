/* The null probe kind: succeeds at once, touches no network; for trying a
 * config and the engine without a target. A target is host[:port] (port 9,
 * discard) and is never connected to. */
#include <errno.h>
#include <stdlib.h>

#include "probe/config.h"
#include "probe/probe.h"

struct null_run {
    tw_defer done; /* the report comes from the loop, never from start */
    struct tp_engine *e;
    struct tp_target *t;
};

static void null_done(tw_defer *d)
{
    struct null_run *run = d->data;
    struct tp_result r = {.outcome = TP_SUCCESS, .verify = -1};
    struct tp_engine *e = run->e;
    struct tp_target *t = run->t;

    free(run);
    t->run = NULL;
    tp_probe_done(e, t, &r);
}

static int null_start(struct tp_engine *e, struct tp_target *t)
{
    struct null_run *run = calloc(1, sizeof(*run));

    if (!run)
        return -ENOMEM;
    run->e = e;
    run->t = t;
    tw_defer_init(&run->done, null_done, run);
    tw_defer_post(tp_engine_loop(e), &run->done);
    t->run = run;
    return 0;
}

static void null_cancel(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    struct null_run *run = t->run;

    tw_defer_cancel(&run->done);
    free(run);
    t->run = NULL;
}

static int null_parse_target(const char *target, struct tp_endpoint *ep, const char **why)
{
    return tp_hostport_parse(target, ep, 9, why);
}

const struct tp_kind tp_kind_null = {
    .name = "null",
    .parse_target = null_parse_target,
    .start = null_start,
    .cancel = null_cancel,
};
