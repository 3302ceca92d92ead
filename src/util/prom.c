/* The Prometheus text exposition writer (util/prom.h). */
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
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else if (*s == '"' && quote)
            fputs("\\\"", f);
        else
            fputc(*s, f);
    }
}

void tu_prom_render_label(FILE *f, const char *key, const char *value)
{
    fprintf(f, "%s=\"", key);
    escaped(f, value, true);
    fputc('"', f);
}

void tu_prom_begin(struct tu_prom *p, const char *suffix)
{
    if (!p->head_done) {
        if (p->help) {
            fprintf(p->f, "# HELP %s ", p->name);
            escaped(p->f, p->help, false);
            fputc('\n', p->f);
        }
        fprintf(p->f, "# TYPE %s %s\n", p->name, type_names[p->type]);
        p->head_done = true;
    }
    fputs(p->name, p->f);
    if (suffix)
        fputs(suffix, p->f);
    p->nlabels = 0;
}

void tu_prom_label(struct tu_prom *p, const char *key, const char *value)
{
    fputc(p->nlabels++ ? ',' : '{', p->f);
    tu_prom_render_label(p->f, key, value);
}

void tu_prom_labels(struct tu_prom *p, const char *labels)
{
    if (!labels || !*labels)
        return;
    fputc(p->nlabels++ ? ',' : '{', p->f);
    fputs(labels, p->f);
}

static void vvalue(struct tu_prom *p, const char *fmt, va_list ap)
{
    if (p->nlabels)
        fputc('}', p->f);
    fputc(' ', p->f);
    vfprintf(p->f, fmt, ap);
    fputc('\n', p->f);
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
