/* twkit probe: the JSON log (a line per state change or result) and
 * /status (every target's state and last result), docs/PROBE.md, "Output".
 */
#include <errno.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe/engine.h"
#include "probe/probe.h"
#include "twkit/error.h"
#include "util/json.h"

void tp_log_begin(FILE *f, const char *event)
{
    char buf[40];

    fprintf(f, "{\"time\":\"%s\",\"event\":\"%s\"", tu_rfc3339(buf, sizeof(buf), tu_wall_ns()),
            event);
}

static const char *const state_names[] = {"unknown", "up", "down"};

/* The fields of a result, comma-separated, no braces. */
static void json_result(FILE *f, const struct tp_kind *kind, const struct tp_result *r)
{
    fprintf(f, "\"result\":\"%s\"", tp_outcome_names[r->outcome]);
    if (r->reason)
        fprintf(f, ",\"reason\":\"%s\"", r->reason);
    if (r->err)
        fprintf(f, ",\"error\":\"%s\"", tw_errname(r->err));
    if (r->detail[0]) {
        fputs(",\"detail\":", f);
        tu_json_str(f, r->detail);
    }
    if (r->ip_protocol) { /* the address probed, once one was chosen */
        char a[TW_ADDRSTRLEN];
        /* with its port; an icmp probe's has none */
        fprintf(f, ",\"address\":\"%s\"",
                tw_addr_port(&r->addr) ? tw_addr_format(&r->addr, a, sizeof(a))
                                       : tw_addr_host(&r->addr, a, sizeof(a)));
    }
    fprintf(f, ",\"duration_s\":%.6f,\"dns_s\":%.6f,\"phases\":{", r->duration, r->dns);
    for (int i = 0, n = 0; i < TP_NPHASE; i++)
        if (r->phase[i] > 0)
            fprintf(f, "%s\"%s\":%.6f", n++ ? "," : "", tp_phase_names[i], r->phase[i]);
    fputc('}', f);
    if (kind->json)
        kind->json(f, r);
    if (r->regex_failed)
        fputs(",\"regex_failed\":true", f);
    if (r->tls)
        fprintf(f, ",\"cert_expiry\":%.0f,\"leaf_expiry\":%.0f,\"verify\":%ld",
                r->cert_expiry, r->leaf_expiry, r->verify);
    if (r->handshake > TP_HS_NONE && r->handshake < TP_NHS)
        fprintf(f, ",\"handshake\":\"%s\"", tp_handshake_names[r->handshake]);
}

static void json_target(FILE *f, const struct tp_target *t)
{
    fputs("\"name\":", f);
    tu_json_str(f, t->def->name);
    fprintf(f, ",\"kind\":\"%s\",\"target\":", t->def->kind->name);
    tu_json_str(f, t->shown);
}

static void line(FILE *f, const struct tp_target *t, const struct tp_result *r,
                 enum tp_state from, bool state)
{
    tp_log_begin(f, state ? "state" : "result");
    fputc(',', f);
    json_target(f, t);
    if (state)
        fprintf(f, ",\"state\":\"%s\",\"previous\":\"%s\",\"consecutive\":%u",
                state_names[t->state], state_names[from],
                t->state == TP_UP ? t->consec_ok : t->consec_fail);
    fprintf(f, ",\"seq\":%llu,", (unsigned long long)t->seq);
    json_result(f, t->def->kind, r);
    fputs("}\n", f);
}

/* Lines of one write(2) stay whole between writers: a pipe's up to
 * PIPE_BUF, a file's whatever the length (the kernel serialises writes
 * that share a file offset). The engines of --threads each buffer their
 * own and write whole lines, at most this much at a time. */
#define LOG_CHUNK 4096

static void on_logflush(tw_defer *d)
{
    tp_log_flush(d->data);
}

int tp_log_open(struct tp_engine *e)
{
    tw_defer_init(&e->logflush, on_logflush, e);
    if (!e->opts.log)
        return 0;
    if (!(e->logbuf = open_memstream(&e->logmem, &e->loglen)))
        return -ENOMEM;
    __fsetlocking(e->logbuf, FSETLOCKING_BYCALLER); /* ours alone */
    return 0;
}

void tp_log_flush(struct tp_engine *e)
{
    int fd = e->opts.log ? fileno(e->opts.log) : -1;
    size_t off = 0;

    if (!e->logbuf || fflush(e->logbuf) != 0 || !e->loglen)
        return;
    while (off < e->loglen) {
        size_t n = e->loglen - off;
        if (n > LOG_CHUNK) { /* whole lines; a longer line goes alone */
            const char *nl = memrchr(e->logmem + off, '\n', LOG_CHUNK);
            n = nl ? (size_t)(nl - (e->logmem + off)) + 1 : n;
            if (!nl && (nl = memchr(e->logmem + off, '\n', e->loglen - off)))
                n = (size_t)(nl - (e->logmem + off)) + 1;
        }
        ssize_t w = write(fd, e->logmem + off, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* a log that cannot be written loses lines, not probes */
        off += (size_t)w;
    }
    rewind(e->logbuf);
}

void tp_log_close(struct tp_engine *e)
{
    tw_defer_cancel(&e->logflush);
    tp_log_flush(e);
    if (e->logbuf)
        fclose(e->logbuf);
    free(e->logmem);
    e->logbuf = NULL;
    e->logmem = NULL;
}

/* A result line for every result (--log-results, --once), and a state line
 * when the state changed (not with --once): a reader of result lines sees
 * every result, a reader of state lines every change. They go out once the
 * loop's batch is done (sooner when many are waiting). */
void tp_log_line(struct tp_engine *e, const struct tp_target *t, const struct tp_result *r,
                 enum tp_state from)
{
    FILE *f = e->logbuf;

    if (!f)
        return;
    if (e->opts.log_results || e->opts.once)
        line(f, t, r, from, false);
    if (from != t->state && !e->opts.once)
        line(f, t, r, from, true);
    if (ftell(f) >= LOG_CHUNK)
        tp_log_flush(e);
    else
        tw_defer_post(e->loop, &e->logflush);
}

void tp_log_probe(FILE *f, const char *module, const struct tp_target *t,
                  const struct tp_result *r)
{
    if (!f)
        return;
    flockfile(f);
    tp_log_begin(f, "probe");
    fputs(",\"module\":", f);
    tu_json_str(f, module);
    fprintf(f, ",\"kind\":\"%s\",\"target\":", t->def->kind->name);
    tu_json_str(f, t->shown);
    fputc(',', f);
    json_result(f, t->def->kind, r);
    fputs("}\n", f);
    fflush(f);
    funlockfile(f);
}

void tp_view_status(const struct tp_view *v, FILE *f)
{
    fprintf(f, "{\"targets\":[");
    for (size_t k = 0; k < v->n; k++) {
        const struct tp_target *t = v->t[k];
        fputs(k ? ",\n{" : "\n{", f);
        json_target(f, t);
        fprintf(f, ",\"state\":\"%s\",\"seq\":%llu,\"running\":%s,\"consecutive_ok\":%u,"
                   "\"consecutive_fail\":%u",
                state_names[t->state], (unsigned long long)t->seq, t->running ? "true" : "false",
                t->consec_ok, t->consec_fail);
        if (t->last_local)
            fprintf(f, ",\"local_error\":\"%s\"", tw_errname(t->last_local_err));
        if (t->have_last) {
            fputs(",\"last\":{", f);
            json_result(f, t->def->kind, &t->last);
            fputc('}', f);
        }
        fputc('}', f);
    }
    fputs("\n]}\n", f);
}
