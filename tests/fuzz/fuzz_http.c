/* libFuzzer target for the HTTP/1.1 parser (src/http/parse.c).
 *
 * The input is read as pipelined requests, once with small limits and once
 * with the defaults. Each request is parsed in one call, and again in two
 * calls with one parser state, split at a point taken from a hash of the
 * bytes; the two must agree (return value, request line, flags, headers,
 * body). Everything the parser returns must lie inside the request it
 * returned (but the "/" path of an absolute-form target that has none). The input also goes to tw_http_parse_response. Any
 * disagreement calls abort().
 *
 * Build (see tests/fuzz/README.md):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude \
 *         src/http/parse.c tests/fuzz/fuzz_http.c -o fuzz_http
 *
 * -DFUZZ_HTTP_LAX_ERRORS: accept a split result that is a different error
 * than the one-shot one, or an error where the one-shot parse (of a
 * truncated input) needs more bytes. Success vs error, EAGAIN from the
 * split vs an error from the one-shot parse, and any difference between two
 * successful parses still abort.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twkit/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PIPELINED 32

static const struct tw_http_limits small_limits = {
    .max_line = 64, .max_head = 256, .max_headers = 8, .max_body = 64};

static struct tw_http_req req_a, req_b; /* large: not on the stack */

static char *copy(const uint8_t *data, size_t n)
{
    char *b = malloc(n ? n : 1);
    if (!b)
        abort();
    memcpy(b, data, n);
    return b;
}

static void fail(const char *what, ssize_t a, ssize_t b)
{
    fprintf(stderr, "fuzz_http: %s (one-shot %zd, split %zd)\n", what, a, b);
    abort();
}

static bool inside(const char *p, size_t n, const char *lo, const char *hi)
{
    return p && p >= lo && p <= hi && n <= (size_t)(hi - p);
}

static bool in_target(const struct tw_http_req *q, const char *p, size_t n)
{
    return inside(p, n, q->target, q->target + q->target_len);
}

/* the parser's own "/", the path of "http://host" or "http://host?q" */
static bool own_slash(const struct tw_http_req *q)
{
    return q->authority && q->path_len == 1 && q->path[0] == '/';
}

/* Everything a successful parse points at lies in buf[0..r). */
static void check_bounds(const struct tw_http_req *q, const char *buf, size_t len, ssize_t r)
{
    const char *end = buf + r;

    if (r <= 0)
        return;
    if ((size_t)r > len)
        fail("returned more than it was given", r, (ssize_t)len);
    if (!inside(q->method, q->method_len, buf, end) || !q->method_len ||
        !inside(q->target, q->target_len, buf, end) || !q->target_len ||
        !q->path_len || (!in_target(q, q->path, q->path_len) && !own_slash(q)) ||
        (q->authority ? !in_target(q, q->authority, q->authority_len) : q->authority_len != 0))
        fail("request line outside the request", r, 0);
    if (q->nheaders > TW_HTTP_MAX_HEADERS)
        fail("nheaders", r, q->nheaders);
    for (unsigned i = 0; i < q->nheaders; i++)
        if (!inside(q->headers[i].name, q->headers[i].name_len, buf, end) ||
            !inside(q->headers[i].value, q->headers[i].value_len, buf, end) ||
            !q->headers[i].name_len)
            fail("header outside the request", r, i);
    if (!inside(q->body, q->body_len, buf, end))
        fail("body outside the request", r, q->body_len);
    if (q->chunked ? q->content_length != -1
                   : q->body_len != (q->content_length > 0 ? q->content_length : 0))
        fail("body length vs framing", r, q->body_len);
    if (q->minor > 9)
        fail("minor", r, q->minor);
}

#define OFF(q, base, f) ((q)->f - (base))

/* The same offset into the request, or both outside it (the parser's "/"),
 * or both NULL. */
static bool same_span(const struct tw_http_req *qa, const char *a, const char *pa,
                      const struct tw_http_req *qb, const char *b, const char *pb)
{
    bool ia = pa && in_target(qa, pa, 0), ib = pb && in_target(qb, pb, 0);

    if (ia || ib)
        return ia && ib && pa - a == pb - b;
    return pa == pb;
}

static void compare(ssize_t ra, const char *a, const struct tw_http_req *qa, ssize_t rb,
                    const char *b, const struct tw_http_req *qb)
{
    if (ra != rb) {
#ifdef FUZZ_HTTP_LAX_ERRORS
        if (ra < 0 && rb < 0 && rb != -EAGAIN)
            return;
#endif
        fail("return values differ", ra, rb);
    }
    if (ra <= 0)
        return;
    if (OFF(qa, a, method) != OFF(qb, b, method) || qa->method_len != qb->method_len ||
        OFF(qa, a, target) != OFF(qb, b, target) || qa->target_len != qb->target_len ||
        qa->path_len != qb->path_len || !same_span(qa, a, qa->path, qb, b, qb->path) ||
        !same_span(qa, a, qa->authority, qb, b, qb->authority) ||
        qa->authority_len != qb->authority_len)
        fail("request lines differ", ra, rb);
    if (qa->keep_alive != qb->keep_alive || qa->minor != qb->minor ||
        qa->chunked != qb->chunked || qa->expect_continue != qb->expect_continue ||
        qa->content_length != qb->content_length)
        fail("flags differ", ra, rb);
    if (qa->nheaders != qb->nheaders)
        fail("header counts differ", ra, rb);
    for (unsigned i = 0; i < qa->nheaders; i++)
        if (OFF(qa, a, headers[i].name) != OFF(qb, b, headers[i].name) ||
            OFF(qa, a, headers[i].value) != OFF(qb, b, headers[i].value) ||
            qa->headers[i].name_len != qb->headers[i].name_len ||
            qa->headers[i].value_len != qb->headers[i].value_len)
            fail("headers differ", ra, rb);
    if (OFF(qa, a, body) != OFF(qb, b, body) || qa->body_len != qb->body_len ||
        memcmp(qa->body, qb->body, qa->body_len) != 0)
        fail("bodies differ", ra, rb);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Parse the requests in data[0..size) one after another. */
static void requests(const uint8_t *data, size_t size, const struct tw_http_limits *lim)
{
    size_t off = 0;

    for (int n = 0; n < MAX_PIPELINED && off <= size; n++) {
        size_t rem = size - off, k = (size_t)(fnv1a(data + off, rem) % (rem + 1));
        char *a = copy(data + off, rem), *b = copy(data + off, rem);
        struct tw_http_parser pa = {0}, pb = {0};
        ssize_t ra = tw_http_parse(&pa, a, rem, lim, &req_a), rb;

        check_bounds(&req_a, a, rem, ra);
        rb = tw_http_parse(&pb, b, k, lim, &req_b);
        if (rb > 0 && (size_t)rb > k)
            fail("returned more than the first call was given", ra, rb);
        if (rb == -EAGAIN) {
            rb = tw_http_parse(&pb, b, rem, lim, &req_b);
            check_bounds(&req_b, b, rem, rb);
        }
        compare(ra, a, &req_a, rb, b, &req_b);
        free(a);
        free(b);
        if (ra <= 0)
            break;
        off += (size_t)ra;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tw_http_resp resp;
    char *c;
    ssize_t r;

    if (size > 1 << 20)
        return 0;
    requests(data, size, &small_limits);
    requests(data, size, NULL);

    c = copy(data, size);
    r = tw_http_parse_response(c, size, 0, &resp);
    if (r > 0 && ((size_t)r > size || resp.status < 100 || resp.status > 599 ||
                  (resp.chunked && resp.content_length != -1)))
        fail("parse_response", r, resp.status);
    r = tw_http_parse_response(c, size, 64, &resp);
    if (r > 0 && (size_t)r > size)
        fail("parse_response, max_head 64", r, (ssize_t)size);
    free(c);
    return 0;
}
