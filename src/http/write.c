/* HTTP/1.1 response heads and chunk framing (twkit/http.h). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "twkit/http.h"

const char *tw_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

struct out {
    char *p;
    size_t n, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->n + n <= o->cap)
        memcpy(o->p + o->n, s, n);
    o->n += n;
}

#define PUTS(o, lit) put(o, lit, sizeof(lit) - 1)

static void put_str(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void put_uint(struct out *o, uint64_t v)
{
    char d[20];
    size_t i = sizeof(d);

    do
        d[--i] = (char)('0' + v % 10);
    while (v /= 10);
    put(o, d + i, sizeof(d) - i);
}

ssize_t tw_http_write_head(char *out, size_t cap, int status, const char *date,
                           const char *content_type, int64_t content_length,
                           enum tw_http_conn conn, const char *extra)
{
    struct out o = {out, 0, cap};
    const char *reason = tw_http_reason(status);

    if (status < 100 || status > 999)
        return -EINVAL;
    PUTS(&o, "HTTP/1.1 ");
    put_uint(&o, (uint64_t)status);
    PUTS(&o, " ");
    put_str(&o, *reason ? reason : "Unknown");
    PUTS(&o, "\r\nServer: twkit\r\n");
    if (date) {
        PUTS(&o, "Date: ");
        put_str(&o, date);
        PUTS(&o, "\r\n");
    }
    if (content_type) {
        PUTS(&o, "Content-Type: ");
        put_str(&o, content_type);
        PUTS(&o, "\r\n");
    }
    if (content_length >= 0) {
        PUTS(&o, "Content-Length: ");
        put_uint(&o, (uint64_t)content_length);
        PUTS(&o, "\r\n");
    } else {
        PUTS(&o, "Transfer-Encoding: chunked\r\n");
    }
    if (conn == TW_HTTP_CONN_CLOSE)
        PUTS(&o, "Connection: close\r\n");
    else if (conn == TW_HTTP_CONN_KEEP_ALIVE)
        PUTS(&o, "Connection: keep-alive\r\n");
    if (extra)
        put_str(&o, extra);
    PUTS(&o, "\r\n");
    return o.n <= cap ? (ssize_t)o.n : -ENOSPC;
}

size_t tw_http_chunk_head(char *out, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char d[16];
    size_t i = sizeof(d), n;

    if (!len) {
        memcpy(out, "0\r\n\r\n", 5);
        return 5;
    }
    do
        d[--i] = hex[len & 15];
    while (len >>= 4);
    n = sizeof(d) - i;
    memcpy(out, d + i, n);
    memcpy(out + n, "\r\n", 2);
    return n + 2;
}

void tw_http_date(char out[30])
{
    time_t t = time(NULL);
    struct tm tm;
    static const char days[] = "SunMonTueWedThuFriSat", months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

    gmtime_r(&t, &tm);
    /* by hand, not strftime: the names must not follow the locale */
    memcpy(out, days + 3 * tm.tm_wday, 3);
    out[3] = ',';
    out[4] = ' ';
    out[5] = (char)('0' + tm.tm_mday / 10);
    out[6] = (char)('0' + tm.tm_mday % 10);
    out[7] = ' ';
    memcpy(out + 8, months + 3 * tm.tm_mon, 3);
    out[11] = ' ';
    for (int i = 0, y = tm.tm_year + 1900; i < 4; i++, y /= 10)
        out[15 - i] = (char)('0' + y % 10);
    out[16] = ' ';
    out[17] = (char)('0' + tm.tm_hour / 10);
    out[18] = (char)('0' + tm.tm_hour % 10);
    out[19] = ':';
    out[20] = (char)('0' + tm.tm_min / 10);
    out[21] = (char)('0' + tm.tm_min % 10);
    out[22] = ':';
    out[23] = (char)('0' + tm.tm_sec / 10);
    out[24] = (char)('0' + tm.tm_sec % 10);
    memcpy(out + 25, " GMT", 5); /* with the NUL */
}
