/* twkit probe --threads N: one engine per lane, each lane a thread with a
 * loop of its own (docs/PROBE.md, "Threads").
 *
 * Lane 0 is the caller's loop (the main thread's, which also serves
 * /metrics and /probe); lanes 1..N-1 are threads started here. A target's
 * lane is tp_lane_of its probe's name and target (shard.h): stable, and
 * independent of --shard. Each lane's engine owns its targets, resolver,
 * TLS contexts, counters and log buffer outright, and pushes results into
 * an after ring of its own (after.h): nothing on the probe path is shared
 * between lanes, so nothing there takes a lock.
 *
 * Everything else talks to a lane through its mailbox (an eventfd on its
 * loop): tp_fleet runs a function on the lane's thread and waits for it
 * (making, starting, swapping and freeing engines), or parks every lane
 * (tp_fleet_pause) while the main thread reads every engine's targets
 * through the view (probe.h, struct tp_view) for /metrics, /status, the
 * status page and the summary. A pause holds a lane for as long as the
 * reader takes (tens of milliseconds for 20,000 targets: docs/PROBE.md,
 * "Threads"), at a scrape, never per probe.
 */
#ifndef TW_PROBE_FLEET_H
#define TW_PROBE_FLEET_H

#include <stddef.h>

#include "probe/probe.h"
#include "twkit/loop.h"

#define TP_FLEET_MAX_LANES 256

struct tp_fleet;

/* lanes (1..TP_FLEET_MAX_LANES) lanes, lane 0 on loop. 0 or -errno. */
int tp_fleet_new(tw_loop *loop, unsigned lanes, struct tp_fleet **out);
unsigned tp_fleet_lanes(const struct tp_fleet *fl);
/* The CPUs this process may run on (sched_getaffinity): --threads'
 * default. */
unsigned tp_fleet_cpus(void);

/* Engines for cfg (which must outlive them), one per lane, each with eo
 * and its lane (eo->after's generation is made here), then: the engines
 * running now are stopped, their targets' states carried over
 * (tp_engine_adopt) and freed, and the new ones started. If an engine
 * cannot be made, nothing changes and -errno is returned. With --once
 * (eo->once), eo->max_inflight is shared out among the lanes. */
int tp_fleet_load(struct tp_fleet *fl, const struct tp_config *cfg,
                  const struct tp_engine_opts *eo);
/* Stop every engine (tp_engine_stop). */
void tp_fleet_stop(struct tp_fleet *fl);
/* --once: wait until every lane's engine has probed its targets (lane
 * 0's ended when the caller's loop returned); without --once, or once
 * tp_fleet_stop ran, it returns at once. */
void tp_fleet_wait(struct tp_fleet *fl);

/* Park every lane but 0 (the caller's) at its next turn and return once
 * all are parked: the view may be read until tp_fleet_resume. */
const struct tp_view *tp_fleet_pause(struct tp_fleet *fl);
void tp_fleet_resume(struct tp_fleet *fl);

/* Free the engines on their lanes, end the threads. NULL: nothing. */
void tp_fleet_free(struct tp_fleet *fl);

#endif
