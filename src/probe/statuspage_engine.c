/* twkit probe: the status page's rows from the engine (statuspage.h).
 * Read while the engines are paused, as /metrics is: the rows point into
 * the engines' targets and are used before they run again. Nothing here
 * calls into the engine; it reads what the engine keeps.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "probe/engine.h"
#include "probe/statuspage.h"

/* The value of label in kv[0..n), or NULL. */
static const char *kv_get(const struct tp_kv *kv, size_t n, const char *label)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, label) == 0)
            return kv[i].value;
    return NULL;
}

/* The target's value of label as its series carry it: name and kind, or
 * its targets-file line's labels over its probe's. */
static const char *group_of(const struct tp_def *def, size_t i, const char *label)
{
    const char *v = NULL;

    if (!label || strcmp(label, "name") == 0)
        return def->name;
    if (strcmp(label, "kind") == 0)
        return def->kind->name;
    if (def->tlabels && i < def->ntargets)
        v = kv_get(def->tlabels[i].kv, def->tlabels[i].n, label);
    return v ? v : kv_get(def->labels, def->nlabels, label);
}

int tp_status_rows(const struct tp_view *v, const char *group_label,
                   struct tp_status_row **rows, size_t *n)
{
    struct tp_status_row *out = calloc(v->n ? v->n : 1, sizeof(*out));

    if (!out)
        return -ENOMEM;
    for (size_t k = 0; k < v->n; k++) {
        const struct tp_target *t = v->t[k];
        const struct tp_def *def = t->def;
        struct tp_status_row *r = &out[k];
        r->probe = def->name;
        r->kind = def->kind->name;
        r->target = t->shown;
        r->group = group_of(def, t->def_index, group_label);
        r->state = t->state;
        r->since = t->since;
        r->have_last = t->have_last;
        if (t->have_last) {
            r->outcome = t->last.outcome;
            r->reason = t->last.reason;
            r->detail = t->last.detail;
            r->duration = t->last.duration;
        }
        r->local_err = t->last_local ? t->last_local_err : 0;
        r->recent = &t->recent;
    }
    *rows = out;
    *n = v->n;
    return 0;
}
