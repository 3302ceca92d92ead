/* twkit probe: the problems of one config load (config.h, struct
 * tp_cfgctx), as every part of the loader reports them.
 *
 * Messages are kept and printed sorted by where they point in the config,
 * because the loader judges some things out of file order (defaults before
 * probes wherever they are written, a probe's missing keys after its
 * keys). A targets file's messages sort at its targets_file key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/config.h"

struct tp_cfgmsg {
    unsigned long line, col, seq;
    char *text;
};

void tp_cfg_verr(struct tp_cfgctx *c, const char *file, unsigned long line, unsigned long col,
                 const char *fmt, va_list ap)
{
    char *body = NULL, *text = NULL;
    bool other = file != c->path;
    va_list again;
    int n;

    c->nerr++;
    if (!c->errs)
        return;
    if (c->nmsgs == c->capmsgs) {
        size_t ncap = c->capmsgs ? c->capmsgs * 2 : 16;
        struct tp_cfgmsg *nm = realloc(c->msgs, ncap * sizeof(*nm));
        if (nm) {
            c->msgs = nm;
            c->capmsgs = ncap;
        }
    }
    va_copy(again, ap);
    n = c->nmsgs < c->capmsgs ? vasprintf(&body, fmt, again) : -1;
    va_end(again);
    if (n >= 0 && asprintf(&text, "%s:%lu:%lu: %s", file, line, col, body) >= 0) {
        struct tp_cfgmsg *m = &c->msgs[c->nmsgs];
        m->line = other ? c->anchor.line : line;
        m->col = other ? c->anchor.col : col;
        m->seq = c->nmsgs++;
        m->text = text;
        free(body);
        return;
    }
    /* Short of memory: out of order is better than not at all. */
    if (n >= 0)
        free(body);
    fprintf(c->errs, "%s:%lu:%lu: ", file, line, col);
    vfprintf(c->errs, fmt, ap);
    fputc('\n', c->errs);
}

void tp_cfg_note(struct tp_cfgctx *c, const struct tp_pos *at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tp_cfg_verr(c, c->path, at->line, at->col, fmt, ap);
    va_end(ap);
    c->nerr--; /* said in order with the errors, but not one */
}

void tp_cfg_err(struct tp_cfgctx *c, const struct tp_pos *at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tp_cfg_verr(c, c->path, at->line, at->col, fmt, ap);
    va_end(ap);
}

void tp_cfg_err_in(struct tp_cfgctx *c, const char *file, unsigned long line,
                   unsigned long col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tp_cfg_verr(c, file, line, col, fmt, ap);
    va_end(ap);
}

/* Once per load: after the first failed allocation the rest would only
 * repeat it. */
void tp_cfg_oom(struct tp_cfgctx *c)
{
    c->nerr++;
    if (c->errs && !c->oom_said)
        fprintf(c->errs, "%s: %s\n", c->path, strerror(ENOMEM));
    c->oom_said = true;
}

static int msg_cmp(const void *a, const void *b)
{
    const struct tp_cfgmsg *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void tp_cfg_flush(struct tp_cfgctx *c)
{
    if (c->nmsgs)
        qsort(c->msgs, c->nmsgs, sizeof(*c->msgs), msg_cmp);
    for (size_t i = 0; i < c->nmsgs; i++) {
        fprintf(c->errs, "%s\n", c->msgs[i].text);
        free(c->msgs[i].text);
    }
    free(c->msgs);
    c->msgs = NULL;
    c->nmsgs = c->capmsgs = 0;
}

const char *tp_quote(struct tp_quoted *q, const char *s, size_t n)
{
    size_t j = 0;

    q->b[j++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (j > sizeof(q->b) - 10) {
            memcpy(q->b + j, "...", 3);
            j += 3;
            break;
        }
        if (ch == '"' || ch == '\\') {
            q->b[j++] = '\\';
            q->b[j++] = (char)ch;
        } else if (ch == '\n') {
            q->b[j++] = '\\';
            q->b[j++] = 'n';
        } else if (ch < 0x20 || ch == 0x7f) {
            j += (size_t)snprintf(q->b + j, 5, "\\x%02x", ch);
        } else {
            q->b[j++] = (char)ch;
        }
    }
    q->b[j++] = '"';
    q->b[j] = '\0';
    return q->b;
}

const char *tp_qs(struct tp_quoted *q, const char *s) { return tp_quote(q, s, strlen(s)); }

/* ---- suggestions ---- */

/* Levenshtein distance, capped (99 past 32 characters): only to suggest a
 * key for a typo. */
static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned row[33];

    if (la > 32 || lb > 32)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *tp_cfg_suggest(const char *name, const char *const *cands, size_t ncands)
{
    const char *best = NULL;
    unsigned bestd = 3; /* further than 2 edits is not a typo */

    for (size_t i = 0; i < ncands; i++) {
        unsigned d = edit_distance(name, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return best;
}
