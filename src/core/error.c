/* The errno table: name and class of every errno twkit expects to meet. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "twkit/error.h"

#define L TW_ECLASS_LOCAL
#define F TW_ECLASS_REFUSED
#define R TW_ECLASS_RESET
#define T TW_ECLASS_TIMEOUT
#define U TW_ECLASS_UNREACH
#define O TW_ECLASS_OTHER

/* X(name, class)
 *
 * The class answers one question for a prober or a benchmark: may this
 * failure be blamed on the peer? It is the one classifier in twkit; bench,
 * probe and the library all ask tw_errclass. *local* means this host could
 * not do it, whatever the peer is like, so it never counts against a target
 * or a server:
 *   EADDRNOTAVAIL, EADDRINUSE  no free local port or address to use;
 *   EAGAIN                     from connect(): no free local port or route
 *                              cache entry (older kernels; tw_sock_connect
 *                              turns it into EADDRNOTAVAIL, but an errno
 *                              taken from curl or a plain connect() is not
 *                              translated). A would-block read or write is
 *                              never reported as a failure, so EAGAIN that
 *                              reaches a classifier is the connect() one;
 *   EMFILE, ENFILE             no descriptors;
 *   ENOBUFS, ENOMEM            no memory;
 *   EPERM, EACCES              this host said no: a netfilter OUTPUT rule
 *                              that drops (EPERM), a security module or a
 *                              broadcast address without SO_BROADCAST
 *                              (EACCES), a privilege we lack. A peer cannot
 *                              produce them: it refuses (RST), resets or
 *                              sends ICMP (refused, reset, unreachable);
 *   ENOSPC, EDQUOT             a disk, quota or kernel table full here
 *                              (epoll_ctl says ENOSPC past max_user_watches).
 * The other classes say what the peer or the path did: *refused*, *reset*,
 * *timeout*, *unreachable*; *other* is everything else (a protocol error, a
 * bad argument): not local, so a tool counts it against the peer. */
#define TW_ERRNO_MAP(X)                                                        \
    X(EPERM, L) X(ENOENT, O) X(ESRCH, O) X(EINTR, O) X(EIO, O) X(ENXIO, O)     \
    X(E2BIG, O) X(EBADF, O) X(ECHILD, O) X(EAGAIN, L) X(ENOMEM, L)             \
    X(EACCES, L) X(EFAULT, O) X(EBUSY, O) X(EEXIST, O) X(ENODEV, O)            \
    X(ENOTDIR, O) X(EISDIR, O) X(EINVAL, O) X(ENFILE, L) X(EMFILE, L)          \
    X(ENOSPC, L) X(ESPIPE, O) X(EROFS, O) X(EPIPE, R) X(EDOM, O) X(ERANGE, O)  \
    X(EDEADLK, O) X(ENAMETOOLONG, O) X(ENOSYS, O) X(ENOTEMPTY, O)              \
    X(ELOOP, O) X(ENOMSG, O) X(ENODATA, O) X(ETIME, T) X(EPROTO, O)            \
    X(EBADMSG, O) X(EOVERFLOW, O) X(EILSEQ, O) X(EUSERS, O) X(ENOTSOCK, O)     \
    X(EDESTADDRREQ, O) X(EMSGSIZE, O) X(EPROTOTYPE, O) X(ENOPROTOOPT, O)       \
    X(EPROTONOSUPPORT, O) X(ESOCKTNOSUPPORT, O) X(EOPNOTSUPP, O)               \
    X(EPFNOSUPPORT, O) X(EAFNOSUPPORT, O) X(EADDRINUSE, L)                     \
    X(EADDRNOTAVAIL, L) X(ENETDOWN, U) X(ENETUNREACH, U) X(ENETRESET, R)       \
    X(ECONNABORTED, R) X(ECONNRESET, R) X(ENOBUFS, L) X(EISCONN, O)            \
    X(ENOTCONN, O) X(ESHUTDOWN, O) X(ETOOMANYREFS, O) X(ETIMEDOUT, T)          \
    X(ECONNREFUSED, F) X(EHOSTDOWN, U) X(EHOSTUNREACH, U) X(EALREADY, O)       \
    X(EINPROGRESS, O) X(ESTALE, O) X(EDQUOT, L) X(ECANCELED, O) X(EFBIG, O)    \
    X(EOWNERDEAD, O) X(ENOTRECOVERABLE, O)

struct errent {
    int num;
    const char *name;
    enum tw_errclass cls;
};

static const struct errent errtab[] = {
#define X(e, c) {e, #e, c},
    TW_ERRNO_MAP(X)
#undef X
};

static const struct errent *lookup(int err)
{
    if (err < 0)
        err = -err;
    for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
        if (errtab[i].num == err)
            return &errtab[i];
    return NULL;
}

const char *tw_errname(int err)
{
    static __thread char buf[24];
    const struct errent *e;

    if (err == 0)
        return "OK";
    e = lookup(err);
    if (e)
        return e->name;
    snprintf(buf, sizeof(buf), "E%d", err < 0 ? -err : err);
    return buf;
}

const char *tw_strerror(int err)
{
    return strerror(err < 0 ? -err : err);
}

enum tw_errclass tw_errclass(int err)
{
    const struct errent *e;

    if (err == 0)
        return TW_ECLASS_NONE;
    e = lookup(err);
    return e ? e->cls : TW_ECLASS_OTHER;
}

const char *tw_errclass_name(enum tw_errclass c)
{
    static const char *const names[TW_ECLASS_COUNT] = {
        [TW_ECLASS_NONE] = "none",       [TW_ECLASS_LOCAL] = "local",
        [TW_ECLASS_REFUSED] = "refused", [TW_ECLASS_RESET] = "reset",
        [TW_ECLASS_TIMEOUT] = "timeout", [TW_ECLASS_UNREACH] = "unreachable",
        [TW_ECLASS_OTHER] = "other",
    };
    return (unsigned)c < TW_ECLASS_COUNT ? names[c] : "other";
}
