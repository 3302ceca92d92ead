/* The Prometheus text exposition writer (util/prom.h).
 *
 * The FILE is the caller's alone while it writes, so the writes take no
 * stdio lock: a scrape of 20,000 targets is 11.6 MB of text, written a
 * label, a comma and a brace at a time. */
#include <stdarg.h>
#include <string.h>

#include "util/prom.h"

static const char *const type_names[] = {
    [TU_PROM_COUNTER] = "counter", [TU_PROM_GAUGE] = "gauge", [TU_PROM_HISTOGRAM] = "histogram"};

void tu_prom_init(struct tu_prom *p, FILE *f)
{
    memset(p, 0, sizeof(*p));
    p->f = f;
}

void tu_prom_family(struct tu_prom *p, const char *name, enum tu_prom_type type,
                    const char *help)
{
    if (p->name && strcmp(p->name, name) == 0)
        return;
    p->name = name;
    p->type = type;
    p->help = help;
    p->head_done = false;
}

/* The exposition format's escapes: in label values \ " and newline, in
 * HELP text \ and newline (a quote is plain text there). */
static void escaped(FILE *f, const char *s, bool quote)
{
    /* whole runs at once, not a byte at a time */
    for (const char *run = s;; s++) {
        char c = *s;
        if (c && c != '\\' && c != '\n' && (c != '"' || !quote))
            continue;
        fwrite_unlocked(run, 1, (size_t)(s - run), f);
        if (!c)
            return;
        fputs_unlocked(c == '\\' ? "\\\\" : c == '\n' ? "\\n" : "\\\"", f);
        run = s + 1;
    }
}

void tu_prom_render_label(FILE *f, const char *key, const char *value)
{
    fputs_unlocked(key, f);
    fputs_unlocked("=\"", f);
    escaped(f, value, true);
    fputc_unlocked('"', f);
}

void tu_prom_begin(struct tu_prom *p, const char *suffix)
{
    if (!p->head_done) {
        if (p->help) {
            fprintf(p->f, "# HELP %s ", p->name);
            escaped(p->f, p->help, false);
            fputc_unlocked('\n', p->f);
        }
        fprintf(p->f, "# TYPE %s %s\n", p->name, type_names[p->type]);
        p->head_done = true;
    }
    fputs_unlocked(p->name, p->f);
    if (suffix)
        fputs_unlocked(suffix, p->f);
    p->nlabels = 0;
}

void tu_prom_label(struct tu_prom *p, const char *key, const char *value)
{
    fputc_unlocked(p->nlabels++ ? ',' : '{', p->f);
    tu_prom_render_label(p->f, key, value);
}

void tu_prom_labels(struct tu_prom *p, const char *labels)
{
    if (!labels || !*labels)
        return;
    fputc_unlocked(p->nlabels++ ? ',' : '{', p->f);
    fputs_unlocked(labels, p->f);
}

static void vvalue(struct tu_prom *p, const char *fmt, va_list ap)
{
    if (p->nlabels)
        fputc_unlocked('}', p->f);
    fputc_unlocked(' ', p->f);
    vfprintf(p->f, fmt, ap);
    fputc_unlocked('\n', p->f);
    p->nlabels = 0;
}

void tu_prom_value(struct tu_prom *p, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vvalue(p, fmt, ap);
    va_end(ap);
}

void tu_prom_sample(struct tu_prom *p, const char *labels, const char *fmt, ...)
{
    va_list ap;

    tu_prom_begin(p, NULL);
    tu_prom_labels(p, labels);
    va_start(ap, fmt);
    vvalue(p, fmt, ap);
    va_end(ap);
}

void tu_prom_sample_label(struct tu_prom *p, const char *key, const char *value,
                          const char *fmt, ...)
{
    va_list ap;

    tu_prom_begin(p, NULL);
    tu_prom_label(p, key, value);
    va_start(ap, fmt);
    vvalue(p, fmt, ap);
    va_end(ap);
}
