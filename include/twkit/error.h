/* twkit errors: one currency, the negative errno.
 *
 * Every twkit function that can fail returns a negative errno value (-EINVAL,
 * -EADDRNOTAVAIL, ...). This header names them ("EADDRNOTAVAIL", not just
 * "Cannot assign requested address") and sorts them into classes, so a tool
 * can tell "this host ran out of ports" from "the server refused".
 */
#ifndef TWKIT_ERROR_H
#define TWKIT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum tw_errclass {
    TW_ECLASS_NONE = 0,   /* not an error (0) */
    TW_ECLASS_LOCAL,      /* this host could not: out of ports, fds, memory or
                             disk, or its own firewall or permissions said no
                             (src/core/error.c lists which errnos and why) */
    TW_ECLASS_REFUSED,    /* the peer refused the connection */
    TW_ECLASS_RESET,      /* the peer reset (or the connection broke) */
    TW_ECLASS_TIMEOUT,    /* nothing answered in time */
    TW_ECLASS_UNREACH,    /* no route to the peer */
    TW_ECLASS_OTHER,
    TW_ECLASS_COUNT
};

/* The macro name of an errno ("EADDRNOTAVAIL"); accepts err or -err.
 * Unknown values give "E<number>" in a thread-local buffer. */
const char *tw_errname(int err);

/* The C library's message for err or -err. */
const char *tw_strerror(int err);

/* The class of err or -err. */
enum tw_errclass tw_errclass(int err);

/* "local", "refused", "reset", "timeout", "unreachable", "other", "none". */
const char *tw_errclass_name(enum tw_errclass c);

#ifdef __cplusplus
}
#endif

#endif
