/* Byte buffers that exist only while they hold something (internal):
 * an idle connection owns no buffer memory. */
#ifndef TW_CORE_BUF_H
#define TW_CORE_BUF_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tw__buf {
    uint8_t *p;
    uint32_t off, len, cap; /* data is p[off .. off+len) */
};

/* The most one buffer may hold: a request, a frame or the replies queued
 * for one connection never come near it (the server's limits are far
 * lower); it is the cap that keeps the size arithmetic away from 2^32. */
#define TW_BUF_MAX (1u << 30)

/* Make room for n more bytes after the data. Returns where they go (the
 * caller writes them and adds what it used to len), or NULL: out of memory,
 * or more than TW_BUF_MAX in all (the caller reports -ENOMEM). Sizes are
 * computed in 64 bits, so no request can make them wrap. */
static inline uint8_t *tw__buf_reserve(struct tw__buf *b, uint64_t n)
{
    uint64_t need = (uint64_t)b->len + n;

    if (need > TW_BUF_MAX)
        return NULL;
    if (b->off + need > b->cap) {
        if (b->off)
            memmove(b->p, b->p + b->off, b->len);
        b->off = 0;
        if (need > b->cap) {
            uint64_t cap = b->cap ? b->cap : 512;
            uint8_t *p;
            while (cap < need)
                cap *= 2; /* at most 2 * TW_BUF_MAX: no wrap in 64 bits */
            if (cap > TW_BUF_MAX)
                cap = TW_BUF_MAX;
            if (!(p = realloc(b->p, (size_t)cap)))
                return NULL;
            b->p = p;
            b->cap = (uint32_t)cap;
        }
    }
    return b->p + b->off + b->len;
}

/* Append a[0..alen) then b[0..blen). Returns 0 or -ENOMEM. */
static inline int tw__buf_append(struct tw__buf *b, const void *a, uint32_t alen,
                                 const void *c, uint32_t clen)
{
    uint8_t *w = tw__buf_reserve(b, (uint64_t)alen + clen);

    if (!w)
        return -ENOMEM;
    if (alen)
        memcpy(w, a, alen);
    if (clen)
        memcpy(w + alen, c, clen);
    b->len += alen + clen;
    return 0;
}

/* Drop n bytes from the front; free the memory when empty. */
static inline void tw__buf_consume(struct tw__buf *b, uint32_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0) {
        free(b->p);
        *b = (struct tw__buf){0};
    }
}

/* Input that may continue a message begun in an earlier read: where to
 * parse from. With bytes already buffered, data[0..n) is appended and the
 * parse starts at the buffer; else at data itself, with no copy. Returns 0
 * or -ENOMEM. */
static inline int tw__buf_input(struct tw__buf *b, uint8_t *data, uint32_t n, uint8_t **p,
                                uint32_t *len, bool *buffered)
{
    *buffered = b->len > 0;
    if (!*buffered) {
        *p = data;
        *len = n;
        return 0;
    }
    if (tw__buf_append(b, data, n, NULL, 0) < 0)
        return -ENOMEM;
    *p = b->p + b->off;
    *len = b->len;
    return 0;
}

/* After the parse: keep rest[0..left), the part of an unfinished message,
 * for the next read. Returns 0 or -ENOMEM. */
static inline int tw__buf_input_rest(struct tw__buf *b, bool buffered, const uint8_t *rest,
                                     uint32_t left)
{
    if (buffered) {
        tw__buf_consume(b, b->len - left);
        return 0;
    }
    return left ? tw__buf_append(b, rest, left, NULL, 0) : 0;
}

/* Write as much of b to the socket fd as it takes. Returns 0 (all written,
 * or the socket buffer is full) or -errno (-EPIPE, -ECONNRESET, ...).
 * MSG_NOSIGNAL: a peer that went away is an error to handle, not a SIGPIPE
 * that kills a program which did not ignore it. */
static inline int tw__buf_write(struct tw__buf *b, int fd)
{
    while (b->len) {
        ssize_t n = send(fd, b->p + b->off, b->len, MSG_NOSIGNAL);
        if (n > 0) {
            tw__buf_consume(b, (uint32_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        return n < 0 ? -errno : -EPIPE;
    }
    return 0;
}

static inline void tw__buf_free(struct tw__buf *b)
{
    free(b->p);
    *b = (struct tw__buf){0};
}

#endif
