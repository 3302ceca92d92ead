/* twkit probe --threads: the lanes, their threads and mailboxes (fleet.h).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "probe/after.h"
#include "probe/fleet.h"
#include "probe/probe.h"

typedef void (*lane_fn)(void *arg);

struct lane {
    struct tp_fleet *fl;
    unsigned no;
    tw_loop *loop;             /* lane 0: the caller's */
    struct tp_engine *engine;  /* the lane's own, touched on its thread */
    pthread_t tid;
    bool started;
    tw_io mail;                /* eventfd: a call or a pause is waiting */
    /* under fl->mu */
    lane_fn fn;                /* the call waiting, or NULL */
    void *arg;
    bool done;                 /* the last call returned */
    bool parked;
    bool ended;                /* its loop returned (--once: all probed) */
    bool quit;
};

struct tp_fleet {
    unsigned n;
    struct lane *lanes;
    struct tp_engine **engines; /* per lane, for the view */
    struct tp_view view;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool pause;
    bool once;                 /* the engines run --once... */
    bool stopped;              /* ...unless stopped (a signal) */
};

unsigned tp_fleet_cpus(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n < 1 ? 1 : n > TP_FLEET_MAX_LANES ? TP_FLEET_MAX_LANES : (unsigned)n;
}

unsigned tp_fleet_lanes(const struct tp_fleet *fl) { return fl->n; }

/* ---- the lanes' side ---- */

static void on_mail(tw_io *io, unsigned events)
{
    struct lane *l = io->data;
    struct tp_fleet *fl = l->fl;
    uint64_t v;
    lane_fn fn;
    void *arg;

    (void)events;
    if (read(io->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&fl->mu);
    if (fl->pause) {
        l->parked = true;
        pthread_cond_broadcast(&fl->cv);
        while (fl->pause)
            pthread_cond_wait(&fl->cv, &fl->mu);
        l->parked = false;
    }
    fn = l->fn;
    arg = l->arg;
    l->fn = NULL;
    pthread_mutex_unlock(&fl->mu);
    if (!fn)
        return;
    fn(arg);
    pthread_mutex_lock(&fl->mu);
    l->done = true;
    pthread_cond_broadcast(&fl->cv);
    pthread_mutex_unlock(&fl->mu);
}

static void *lane_main(void *arg)
{
    struct lane *l = arg;
    struct tp_fleet *fl = l->fl;

    for (;;) {
        tw_loop_run(l->loop); /* the mailbox keeps it running */
        pthread_mutex_lock(&fl->mu);
        l->ended = true;
        pthread_cond_broadcast(&fl->cv);
        bool quit = l->quit;
        pthread_mutex_unlock(&fl->mu);
        if (quit)
            return NULL;
    }
}

/* ---- the caller's side ---- */

static void poke(struct lane *l)
{
    uint64_t one = 1;

    while (write(l->mail.fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

/* fn(arg) on lane l's thread, waited for (lane 0: here and now). */
static void call(struct tp_fleet *fl, struct lane *l, lane_fn fn, void *arg)
{
    if (!l->started) {
        fn(arg);
        return;
    }
    pthread_mutex_lock(&fl->mu);
    l->fn = fn;
    l->arg = arg;
    l->done = false;
    pthread_mutex_unlock(&fl->mu);
    poke(l);
    pthread_mutex_lock(&fl->mu);
    while (!l->done)
        pthread_cond_wait(&fl->cv, &fl->mu);
    pthread_mutex_unlock(&fl->mu);
}

const struct tp_view *tp_fleet_pause(struct tp_fleet *fl)
{
    pthread_mutex_lock(&fl->mu);
    fl->pause = true;
    pthread_mutex_unlock(&fl->mu);
    for (unsigned i = 1; i < fl->n; i++)
        poke(&fl->lanes[i]);
    pthread_mutex_lock(&fl->mu);
    for (unsigned i = 1; i < fl->n; i++)
        while (!fl->lanes[i].parked)
            pthread_cond_wait(&fl->cv, &fl->mu);
    pthread_mutex_unlock(&fl->mu);
    return &fl->view;
}

void tp_fleet_resume(struct tp_fleet *fl)
{
    pthread_mutex_lock(&fl->mu);
    fl->pause = false;
    pthread_cond_broadcast(&fl->cv);
    pthread_mutex_unlock(&fl->mu);
}

/* ---- engines, on their lanes ---- */

struct make_args {
    struct lane *l;
    const struct tp_config *cfg;
    struct tp_engine_opts eo;
    struct tp_engine *made;
    int err;
};

/* fn(&m[i]) on every lane i at once (lane 0: here), all waited for: the
 * lanes make (and swap in) their engines side by side, not one after the
 * other. With --once an engine starts probing as it is made, so a lane made
 * later would start later and finish later. */
static void call_all(struct tp_fleet *fl, lane_fn fn, struct make_args *m)
{
    pthread_mutex_lock(&fl->mu);
    for (unsigned i = 0; i < fl->n; i++)
        if (fl->lanes[i].started) {
            fl->lanes[i].fn = fn;
            fl->lanes[i].arg = &m[i];
            fl->lanes[i].done = false;
        }
    pthread_mutex_unlock(&fl->mu);
    for (unsigned i = 0; i < fl->n; i++)
        if (fl->lanes[i].started)
            poke(&fl->lanes[i]);
    for (unsigned i = 0; i < fl->n; i++)
        if (!fl->lanes[i].started)
            fn(&m[i]);
    pthread_mutex_lock(&fl->mu);
    for (unsigned i = 0; i < fl->n; i++)
        while (fl->lanes[i].started && !fl->lanes[i].done)
            pthread_cond_wait(&fl->cv, &fl->mu);
    pthread_mutex_unlock(&fl->mu);
}

static void do_make(void *arg)
{
    struct make_args *m = arg;

    m->err = tp_engine_new(m->l->loop, m->cfg, &m->eo, &m->made);
}

static void do_free(void *arg)
{
    struct make_args *m = arg;

    tp_engine_free(m->made);
    m->made = NULL;
}

/* The lane's engine makes way for m->made: states carried over. */
static void do_swap(void *arg)
{
    struct make_args *m = arg;
    struct lane *l = m->l;

    if (l->engine) {
        tp_engine_adopt(m->made, l->engine);
        tp_engine_free(l->engine);
    }
    l->engine = m->made;
    m->made = NULL;
    tp_engine_start(l->engine);
}

static void do_stop(void *arg)
{
    struct lane *l = arg;

    if (l->engine)
        tp_engine_stop(l->engine);
}

static void do_end(void *arg)
{
    struct lane *l = arg;

    tp_engine_free(l->engine);
    l->engine = NULL;
    pthread_mutex_lock(&l->fl->mu);
    l->quit = true;
    pthread_mutex_unlock(&l->fl->mu);
    tw_loop_stop(l->loop);
}

int tp_fleet_load(struct tp_fleet *fl, const struct tp_config *cfg,
                  const struct tp_engine_opts *eo)
{
    struct make_args *m = calloc(fl->n, sizeof(*m));
    struct tp_engine_opts o = *eo;
    struct tp_view view;
    int err = 0;

    if (!m)
        return -ENOMEM;
    o.lanes = fl->n;
    fl->once = o.once;
    if (o.once && fl->n > 1) {
        unsigned max = o.max_inflight ? o.max_inflight : 1000;
        o.max_inflight = (max + fl->n - 1) / fl->n;
    }
    if (o.after) {
        /* the whole config's identities, in its order: from the targets
         * themselves, which every lane's engine makes alike */
        const struct tp_target **all = calloc(cfg->ntargets ? cfg->ntargets : 1, sizeof(*all));
        struct tp_target *tmp = calloc(cfg->ntargets ? cfg->ntargets : 1, sizeof(*tmp));
        size_t k = 0;
        if (!all || !tmp) {
            free(all);
            free(tmp);
            free(m);
            return -ENOMEM;
        }
        for (size_t d = 0; d < cfg->ndefs; d++)
            for (size_t i = 0; i < cfg->defs[d].ntargets; i++, k++) {
                bool secret;
                char *shown = tp_target_redact(cfg->defs[d].targets[i], &secret);
                tmp[k].def = &cfg->defs[d];
                tmp[k].target = cfg->defs[d].targets[i];
                tmp[k].shown = shown ? shown : tmp[k].target;
                all[k] = &tmp[k];
            }
        o.after_gen = tp_after_gen_new(o.after, cfg, all, cfg->ntargets, &o.after_gen_no);
        for (k = 0; k < cfg->ntargets; k++)
            if (tmp[k].shown != tmp[k].target)
                free((char *)tmp[k].shown);
        free(all);
        free(tmp);
    }
    for (unsigned i = 0; i < fl->n; i++) {
        m[i].l = &fl->lanes[i];
        m[i].cfg = cfg;
        m[i].eo = o;
        m[i].eo.lane = i;
    }
    call_all(fl, do_make, m);
    for (unsigned i = 0; i < fl->n && !err; i++)
        err = m[i].err;
    if (!err) {
        struct tp_engine **e = calloc(fl->n, sizeof(*e));
        for (unsigned i = 0; e && i < fl->n; i++)
            e[i] = m[i].made;
        if (!e || (err = tp_view_make(e, fl->n, &view)) < 0) {
            free(e);
            err = -ENOMEM;
        } else {
            call_all(fl, do_swap, m);
            tp_view_free(&fl->view);
            free(fl->engines);
            fl->engines = e;
            fl->view = view;
        }
    }
    for (unsigned i = 0; i < fl->n; i++)
        if (m[i].made)
            call(fl, m[i].l, do_free, &m[i]);
    free(m);
    return err;
}

void tp_fleet_stop(struct tp_fleet *fl)
{
    fl->stopped = true;
    for (unsigned i = 0; i < fl->n; i++)
        call(fl, &fl->lanes[i], do_stop, &fl->lanes[i]);
}

void tp_fleet_wait(struct tp_fleet *fl)
{
    if (!fl->once || fl->stopped)
        return; /* nothing ends on its own */
    pthread_mutex_lock(&fl->mu);
    for (unsigned i = 1; i < fl->n; i++)
        while (!fl->lanes[i].ended)
            pthread_cond_wait(&fl->cv, &fl->mu);
    pthread_mutex_unlock(&fl->mu);
}

/* ---- life cycle ---- */

int tp_fleet_new(tw_loop *loop, unsigned lanes, struct tp_fleet **out)
{
    struct tp_fleet *fl = calloc(1, sizeof(*fl));
    int err = -ENOMEM;

    if (!fl)
        return -ENOMEM;
    if (lanes < 1 || lanes > TP_FLEET_MAX_LANES) {
        free(fl);
        return -EINVAL;
    }
    pthread_mutex_init(&fl->mu, NULL);
    pthread_cond_init(&fl->cv, NULL);
    if (!(fl->lanes = calloc(lanes, sizeof(*fl->lanes))))
        goto fail;
    fl->n = lanes;
    for (unsigned i = 0; i < lanes; i++) {
        struct lane *l = &fl->lanes[i];
        int fd;
        l->fl = fl;
        l->no = i;
        tw_io_init(&l->mail, -1, on_mail, l);
        if (i == 0) {
            l->loop = loop;
            continue;
        }
        if ((err = tw_loop_new(&l->loop)) < 0)
            goto fail;
        if ((fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
            err = -errno;
            goto fail;
        }
        tw_io_init(&l->mail, fd, on_mail, l);
        if ((err = tw_io_start(l->loop, &l->mail, TW_IO_READ)) < 0)
            goto fail;
        if ((err = -pthread_create(&l->tid, NULL, lane_main, l)) < 0)
            goto fail;
        l->started = true;
    }
    *out = fl;
    return 0;
fail:
    tp_fleet_free(fl);
    return err;
}

void tp_fleet_free(struct tp_fleet *fl)
{
    if (!fl)
        return;
    for (unsigned i = 0; fl->lanes && i < fl->n; i++) {
        struct lane *l = &fl->lanes[i];
        if (l->started) {
            call(fl, l, do_end, l);
            pthread_join(l->tid, NULL);
        } else if (i == 0) {
            tp_engine_free(l->engine);
        }
        if (i > 0) {
            tw_io_close(&l->mail);
            if (l->loop)
                tw_loop_free(l->loop);
        }
    }
    tp_view_free(&fl->view);
    free(fl->engines);
    free(fl->lanes);
    pthread_mutex_destroy(&fl->mu);
    pthread_cond_destroy(&fl->cv);
    free(fl);
}
