/* twkit probe: the TIME_WAIT sockets of the prober's own (timewait.c).
 *
 * A socket in TIME_WAIT has no owner any more: sock_diag reports it with
 * no inode and no uid, so whose it is cannot be asked. The prober remembers
 * instead the 4-tuple of every socket it closes gracefully (close:
 * graceful, the one ending that leaves it a TIME_WAIT), for as long as a
 * TIME_WAIT can last, and counts the TIME_WAIT sockets of its network
 * namespace that have one of those tuples.
 */
#ifndef TW_PROBE_TIMEWAIT_H
#define TW_PROBE_TIMEWAIT_H

#include <stdint.h>

struct tp_twset;

/* An empty set (it grows as sockets are noted). Returns 0 or -ENOMEM. */
int tp_tw_new(struct tp_twset **out);
void tp_tw_free(struct tp_twset *s);
/* fd, connected, is about to be closed gracefully at now_ms (loop ms); its
 * closing may take up to close_ms before the TIME_WAIT starts. Costs two
 * system calls (its addresses); a set at its cap forgets its oldest. */
void tp_tw_note(struct tp_twset *s, int fd, uint64_t now_ms, uint64_t close_ms);
/* Carry the tuples of from (the previous config's engine) over into s. */
void tp_tw_adopt(struct tp_twset *s, const struct tp_twset *from);
/* The TIME_WAIT sockets of this thread's network namespace with a tuple
 * of s (returned), and all of them (*netns). -errno (and *netns -1) when
 * sock_diag cannot be read. */
int tp_tw_count(struct tp_twset *s, uint64_t now_ms, int *netns);

#endif
