/* twkit probe: the YAML front ends' shared part (yaml.c). Two front ends
 * feed the key tables (config.h): twkit's own config (config.c) and
 * blackbox_exporter's blackbox.yml (blackbox.c). Both load the file with
 * libyaml's document API, because every node keeps its start mark, so any
 * message can point at the exact line and column; both hand a key's value
 * to its row the same way (tp_y_apply).
 */
#ifndef TW_PROBE_YAML_H
#define TW_PROBE_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "probe/config.h"

struct tp_yctx {
    struct tp_cfgctx pub;  /* the messages, the file's path and directory */
    char *dir;
    yaml_document_t *doc;
};

/* A problem at node n / at line and column of the file itself. */
__attribute__((format(printf, 3, 4))) void tp_y_err(struct tp_yctx *y, const yaml_node_t *n,
                                                    const char *fmt, ...);
__attribute__((format(printf, 4, 5))) void tp_y_err_at(struct tp_yctx *y, unsigned long line,
                                                       unsigned long col, const char *fmt, ...);

yaml_node_t *tp_y_node(struct tp_yctx *y, int id);
static inline const char *tp_y_s(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }
static inline size_t tp_y_len(const yaml_node_t *n) { return n->data.scalar.length; }
/* "a mapping", "a sequence", "a single value". */
const char *tp_y_kind(const yaml_node_t *n);
/* YAML's null in plain style; in quotes the same text is a string. */
bool tp_y_is_null(const yaml_node_t *n);
/* A merge key (<<) in plain style. */
bool tp_y_is_merge_key(const yaml_node_t *k);
/* A node as the key tables see it. */
void tp_y_to_val(const yaml_node_t *n, struct tp_val *v);
/* "unknown key "x" in WHERE (did you mean y?)": the nearest of cands
 * within two edits; where NULL: at the top level, whose keys are cands. */
void tp_y_unknown_key(struct tp_yctx *y, const yaml_node_t *k, const char *where,
                      const char *const *cands, size_t ncands);
/* The value v of key into def, as its type says (MAP and LIST walked
 * here); false when it was bad (reported). LOADER keys are the front
 * end's: true, nothing done. */
bool tp_y_apply(struct tp_yctx *y, struct tp_def *def, const struct tp_key *key,
                const yaml_node_t *v);

/* Load len bytes at buf (not NUL-terminated) as the YAML file path (never
 * read), and call root with its root node (NULL: empty) and arg. Reports
 * YAML errors and a second document; messages are flushed at the end.
 * Returns the number of errors, 0 when none. */
int tp_y_load(const char *path, const char *buf, size_t len, FILE *errs,
              void (*root)(struct tp_yctx *y, yaml_node_t *root, void *arg), void *arg);
/* The whole file at path, malloc'd. 0 or -errno. */
int tp_y_slurp(const char *path, char **out, size_t *outlen);

#endif
