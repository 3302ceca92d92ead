/* HTTP/1.1 messages (RFC 9112): an incremental request parser that never
 * allocates, and a response writer.
 *
 * The parser points into the caller's buffer. Call tw_http_parse with all
 * the bytes of the current request received so far (the same bytes, with
 * more appended, on each call) and the same parser state; zero the state
 * before each new request. A chunked body is decoded in place, so the
 * buffer must be writable and must not be changed between calls except by
 * appending.
 *
 * Results: > 0, a whole request of that many input bytes (the next one, if
 * pipelined, starts right after); -EAGAIN, need more bytes; anything else
 * is invalid input, and tw_http_error_status gives the status to answer:
 *   -EBADMSG          400  malformed, or a request-smuggling shape (both
 *                          Content-Length and Transfer-Encoding, duplicate
 *                          Content-Length, obs-fold, bare LF, bad chunk
 *                          size, extension or trailer line); a target its
 *                          method may not use ("*" but for OPTIONS;
 *                          CONNECT takes only "host:port", the others
 *                          "/..." or "http(s)://..."); a Host that is not
 *                          uri-host [":" port] (RFC 3986)
 *   -ENAMETOOLONG     414  request line longer than max_line
 *   -EMSGSIZE         431  head larger than max_head, or too many headers
 *   -EFBIG            413  body larger than max_body
 *   -ENOSYS           501  a transfer coding before the final chunked
 *                          that this parser does not decode (gzip, chunked);
 *                          chunked not last (or absent) is 400
 *   -EPROTONOSUPPORT  505  not HTTP/1.x
 */
#ifndef TWKIT_HTTP_H
#define TWKIT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TW_HTTP_MAX_HEADERS 100 /* the most max_headers can be */

struct tw_http_limits {
    uint32_t max_line;    /* request line, 0: 8192 */
    uint32_t max_head;    /* request line + headers (+ trailers), 0: 16384 */
    uint32_t max_headers; /* 0: 64; at most TW_HTTP_MAX_HEADERS */
    uint32_t max_body;    /* decoded body, 0: 1 MiB; chunked framing may add
                             as much again plus 4 KiB before -EFBIG */
    uint32_t reserved_[4]; /* room to grow (docs/DESIGN.md, "ABI"): leave zero */
};

struct tw_http_header {
    const char *name, *value; /* not NUL-terminated */
    uint32_t name_len, value_len;
};

struct tw_http_req {
    /* path: an origin-form target ("/a/b?q") up to '?'; for an absolute-form
     * target ("http://host/a/b?q") its path, up to '?', or "/" (a string of
     * the parser's, not in buf) when the authority is followed by nothing
     * or by '?'; the whole target for "*" (OPTIONS) and for the
     * authority-form ("host:port") of CONNECT. */
    const char *method, *target, *path;
    uint32_t method_len, target_len, path_len;
    /* authority: the "host[:port]" of an absolute-form target, or the whole
     * target of CONNECT; NULL (and 0) for the other forms. The Host header
     * is still required in HTTP/1.1, and is not compared with it. */
    const char *authority;
    uint32_t authority_len;
    uint8_t minor;           /* HTTP/1.minor */
    bool keep_alive;         /* the connection may carry another request */
    bool chunked;
    bool expect_continue;    /* Expect: 100-continue */
    int64_t content_length;  /* -1: none */
    unsigned nheaders;
    struct tw_http_header headers[TW_HTTP_MAX_HEADERS];
    const char *body;        /* decoded; body_len bytes */
    uint32_t body_len;
};

/* Where the parse of one request got to. Zero before each request. */
struct tw_http_parser {
    uint32_t scanned;   /* head bytes searched for its end so far */
    uint32_t head_len;  /* 0 until the whole head is here */
    uint32_t raw;       /* body input consumed (chunked framing included) */
    uint32_t body;      /* decoded body bytes, at buf + head_len */
    uint64_t chunk_left;
    uint32_t line;      /* a chunk-size digit seen, then the chunk extension's
                           length; the trailers' length so far */
    uint8_t line_seen;  /* the request line's LF has arrived */
    uint8_t state;
};

ssize_t tw_http_parse(struct tw_http_parser *p, char *buf, size_t len,
                      const struct tw_http_limits *lim, struct tw_http_req *req);
/* Errors are reported in the order of the bytes that cause them, so a
 * request gives the same result however it is split. */

/* The status for a tw_http_parse error (400 for anything unknown). */
int tw_http_error_status(int err);

/* A request header's value, or NULL. Names compare case-insensitively. */
const struct tw_http_header *tw_http_header_get(const struct tw_http_req *req,
                                                const char *name);

/* The reason phrase of a status ("OK", "Not Found"; "" if unknown). */
const char *tw_http_reason(int status);

/* ---- responses ---- */

/* Write a response head into out[0..cap): status line, Date (from date,
 * "Sat, 21 Nov 2026 10:00:00 GMT", or none if NULL), Content-Type if given,
 * Content-Length (or Transfer-Encoding: chunked when content_length < 0),
 * Connection: close or keep-alive as conn says, the caller's extra header
 * lines (each ending in CRLF, or NULL), and the empty line.
 * Returns the length, or -ENOSPC. */
enum tw_http_conn { TW_HTTP_CONN_DEFAULT, TW_HTTP_CONN_CLOSE, TW_HTTP_CONN_KEEP_ALIVE };
ssize_t tw_http_write_head(char *out, size_t cap, int status, const char *date,
                           const char *content_type, int64_t content_length,
                           enum tw_http_conn conn, const char *extra);

/* Chunked output: the framing around len bytes of data (len 0: the last
 * chunk). Returns the length written to out (at least 24 bytes of room). */
size_t tw_http_chunk_head(char *out, size_t len); /* "1a2b\r\n" or "0\r\n\r\n" */
#define TW_HTTP_CHUNK_END "\r\n"

/* Format the current time for the Date header into out (30 bytes). */
void tw_http_date(char out[30]);

/* ---- responses, read by clients (twkit bench) ---- */
struct tw_http_resp {
    int status;
    uint8_t minor;
    bool keep_alive;
    bool chunked;
    int64_t content_length; /* -1: none */
};

/* Parse a response head in buf[0..len). Returns its length, -EAGAIN, or
 * -EBADMSG / -EMSGSIZE (head past max_head, 0: 16384). */
ssize_t tw_http_parse_response(const char *buf, size_t len, uint32_t max_head,
                               struct tw_http_resp *resp);

#ifdef __cplusplus
}
#endif

#endif
