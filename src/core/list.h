/* Intrusive circular doubly-linked lists (internal). */
#ifndef TW_CORE_LIST_H
#define TW_CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "twkit/list.h"

#define tw__container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void tw__list_init(struct tw_list *h) { h->prev = h->next = h; }
static inline bool tw__list_empty(const struct tw_list *h) { return h->next == h; }

static inline void tw__list_add_tail(struct tw_list *h, struct tw_list *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}

static inline void tw__list_add_head(struct tw_list *h, struct tw_list *n)
{
    n->next = h->next;
    n->prev = h;
    h->next->prev = n;
    h->next = n;
}

static inline void tw__list_del(struct tw_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* Move every node of src to the (empty) dst; src becomes empty. */
static inline void tw__list_move_all(struct tw_list *dst, struct tw_list *src)
{
    if (tw__list_empty(src)) {
        tw__list_init(dst);
        return;
    }
    dst->next = src->next;
    dst->prev = src->prev;
    dst->next->prev = dst;
    dst->prev->next = dst;
    tw__list_init(src);
}

#endif
