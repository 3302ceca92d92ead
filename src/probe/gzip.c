/* twkit probe: gzip for /metrics (gzip.h).
 *
 * Prometheus asks every scrape for gzip; the exposition of 20,000 targets
 * is some megabytes of text that compress about tenfold. Compressed at
 * zlib's fastest level: the prober's CPU belongs to its probes, and the
 * repetitive text gains little from the slower levels.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "probe/gzip.h"

static bool is_ows(char ch) { return ch == ' ' || ch == '\t'; }

/* s[0..n) without leading and trailing blanks. */
static void trim(const char **s, size_t *n)
{
    while (*n && is_ows(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_ows((*s)[*n - 1]))
        (*n)--;
}

static bool word_is(const char *s, size_t n, const char *w)
{
    return n == strlen(w) && !strncasecmp(s, w, n);
}

/* The weight of a list element's parameters ";q=0.5;..." (p..p+n): 0 when
 * it says q=0 (any number of zeros after the point), 1 otherwise. A weight
 * that is not a number is taken as given: the client named the coding. */
static bool weight_nonzero(const char *p, size_t n)
{
    while (n) {
        const char *semi = memchr(p, ';', n), *v, *eq;
        size_t len = semi ? (size_t)(semi - p) : n, vn;

        v = p;
        vn = len;
        trim(&v, &vn);
        if ((eq = memchr(v, '=', vn))) {
            const char *name = v, *val = eq + 1;
            size_t nn = (size_t)(eq - v), valn = vn - nn - 1;

            trim(&name, &nn);
            trim(&val, &valn);
            if (word_is(name, nn, "q")) {
                bool zero = valn > 0 && val[0] == '0';
                for (size_t i = 1; zero && i < valn; i++)
                    zero = val[i] == '0' || (i == 1 && val[i] == '.');
                return !zero;
            }
        }
        if (!semi)
            break;
        n -= len + 1;
        p = semi + 1;
    }
    return true;
}

bool tp_accepts_gzip(const struct tw_http_req *req)
{
    int gzip = -1, star = -1; /* -1: not named; 0: refused; 1: accepted */

    for (unsigned h = 0; h < req->nheaders; h++) {
        const struct tw_http_header *hd = &req->headers[h];
        const char *p = hd->value;
        size_t n = hd->value_len;

        if (!word_is(hd->name, hd->name_len, "accept-encoding"))
            continue;
        while (n) {
            const char *comma = memchr(p, ',', n), *e = p, *semi;
            size_t len = comma ? (size_t)(comma - p) : n, en, cn;

            en = len;
            trim(&e, &en);
            semi = memchr(e, ';', en);
            cn = semi ? (size_t)(semi - e) : en;
            while (cn && is_ows(e[cn - 1]))
                cn--;
            if (word_is(e, cn, "gzip") || word_is(e, cn, "x-gzip"))
                gzip = weight_nonzero(e + cn, en - cn) ? 1 : gzip < 0 ? 0 : gzip;
            else if (word_is(e, cn, "*"))
                star = weight_nonzero(e + cn, en - cn);
            if (!comma)
                break;
            n -= len + 1;
            p = comma + 1;
        }
    }
    return gzip > 0 || (gzip < 0 && star > 0);
}

/* body in gzip format, malloc'd into *out; false when zlib fails. */
static bool compress_gzip(const void *body, size_t len, unsigned char **out, size_t *outlen)
{
    z_stream z;
    unsigned char *buf;
    uLong cap;
    int rc;

    memset(&z, 0, sizeof(z));
    /* 15 + 16: a gzip wrapper around a 32 KiB window */
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    cap = deflateBound(&z, (uLong)len);
    if (!(buf = malloc(cap))) {
        deflateEnd(&z);
        return false;
    }
    z.next_in = (Bytef *)(uintptr_t)body;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    rc = deflate(&z, Z_FINISH); /* one call: the output has deflateBound's room */
    *outlen = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return false;
    }
    *out = buf;
    return true;
}

int tp_respond_maybe_gzip(tw_sconn *c, const struct tw_http_req *req, int status,
                          const char *ctype, const void *body, size_t len)
{
    return tp_respond_gzip_if(c, tp_accepts_gzip(req), status, ctype, body, len);
}

int tp_respond_gzip_if(tw_sconn *c, bool gzip, int status, const char *ctype, const void *body,
                       size_t len)
{
    unsigned char *z;
    size_t zlen;
    int rc;

    /* uInt counts the input: past 4 GiB it goes out as it is */
    if (len < (size_t)UINT32_MAX && gzip && compress_gzip(body, len, &z, &zlen)) {
        rc = tw_sconn_respond(c, status, ctype, "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n",
                              z, zlen);
        free(z);
        return rc;
    }
    return tw_sconn_respond(c, status, ctype, "Vary: Accept-Encoding\r\n", body, len);
}
