/* The intrusive doubly-linked list node that the loop's watchers and
 * timers embed (the operations are internal: src/core/list.h). */
#ifndef TWKIT_LIST_H
#define TWKIT_LIST_H

#ifdef __cplusplus
extern "C" {
#endif

struct tw_list {
    struct tw_list *prev, *next;
};

#ifdef __cplusplus
}
#endif

#endif
