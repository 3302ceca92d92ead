/* HTTP/1.1 request parser and response head reader (twkit/http.h).
 *
 * The head is searched for its end ("\r\n\r\n") only in bytes not seen
 * before, so a request trickling in one byte at a time costs O(n), and is
 * parsed once it is whole. A bare LF anywhere in the head is rejected as
 * soon as it arrives. A chunked body is decoded in place by a byte state
 * machine that remembers where it stopped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "twkit/http.h"

/* Chunked decoding states. The CH_EXT_* ones read a chunk extension
 * (RFC 9112 7.1.1):
 *   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 *   chunk-ext-name = token, chunk-ext-val = token / quoted-string */
enum {
    CH_SIZE,
    CH_EXT_SEMI,      /* BWS, then ';' */
    CH_EXT_NAME_BWS,  /* after ';': BWS, then the name */
    CH_EXT_NAME,      /* in the name: ';', '=', BWS before '=', or CR */
    CH_EXT_NAME_END,  /* BWS after the name: '=' or ';' */
    CH_EXT_VAL_BWS,   /* after '=': BWS, then the value */
    CH_EXT_TOKEN,     /* in a token value: ';', BWS before ';', or CR */
    CH_EXT_QUOTED,    /* in a quoted-string */
    CH_EXT_QPAIR,     /* after '\\' in a quoted-string */
    CH_EXT_VAL_END,   /* after the closing quote: ';', BWS, or CR */
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER,       /* the start of a trailer line, or of the final CRLF */
    CH_TRAILER_NAME,  /* a field name, up to its ':' */
    CH_TRAILER_VALUE, /* the field value, up to CR */
    CH_TRAILER_LF,
    CH_END_LF,        /* the LF of the CRLF that ends the trailers */
    CH_DONE
};

#define MAX_CHUNK_EXT 256

/* Byte classes, one lookup per byte on the hot path: TC, RFC 9110 tchar
 * (ALPHA, DIGIT and !#$%&'*+-.^_`|~); RN, RFC 3986 reg-name bytes without
 * pct-encoded (unreserved -._~ and sub-delims !$&'()*+,;=). */
#define TC 1
#define RN 2
static const unsigned char byte_class[256] = {
    ['0' ... '9'] = TC | RN, ['A' ... 'Z'] = TC | RN, ['a' ... 'z'] = TC | RN,
    ['!'] = TC | RN, ['#'] = TC, ['$'] = TC | RN, ['%'] = TC, ['&'] = TC | RN,
    ['\''] = TC | RN, ['*'] = TC | RN, ['+'] = TC | RN, ['-'] = TC | RN, ['.'] = TC | RN,
    ['^'] = TC, ['_'] = TC | RN, ['`'] = TC, ['|'] = TC, ['~'] = TC | RN,
    ['('] = RN, [')'] = RN, [','] = RN, [';'] = RN, ['='] = RN,
};

static inline bool is_tchar(unsigned char c) { return byte_class[c] & TC; }

/* field-value bytes: VCHAR, obs-text, SP, HTAB */
static bool is_vchar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static inline unsigned char lower_ascii(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* s[0..n) and lit[0..n) equal but for ASCII case, as HTTP compares (and
 * strncasecmp in the C locale), without the library call per field. */
static inline bool same_nocase(const char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower_ascii((unsigned char)s[i]) != lower_ascii((unsigned char)lit[i]))
            return false;
    return true;
}

static inline bool eq_nocase(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && same_nocase(s, lit, n);
}

/* RFC 3986 unreserved and sub-delims (reg-name without pct-encoded) */
static inline bool is_regname_char(unsigned char c) { return byte_class[c] & RN; }

/* RFC 3986 IP-literal without its brackets: IPv6address or IPvFuture
 * ("v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )). */
static bool ip_literal(const char *s, size_t n)
{
    char a[INET6_ADDRSTRLEN];
    unsigned char six[16];
    size_t i = 1;

    if (n && (s[0] | 0x20) == 'v') {
        while (i < n && hexval((unsigned char)s[i]) >= 0)
            i++;
        if (i == 1 || i >= n || s[i++] != '.' || i == n)
            return false;
        for (; i < n; i++)
            if (!is_regname_char((unsigned char)s[i]) && s[i] != ':')
                return false;
        return true;
    }
    if (n >= sizeof(a))
        return false;
    memcpy(a, s, n);
    a[n] = '\0';
    return inet_pton(AF_INET6, a, six) == 1;
}

/* RFC 3986 uri-host [ ":" port ] (RFC 9110 7.2): a reg-name (IPv4 is one
 * too), or an IP-literal in brackets; the port, if there is a ':', is
 * digits, maybe none. need_host: the host must not be empty; need_port:
 * there must be a ':' and at least one digit. */
static bool valid_host(const char *s, size_t n, bool need_host, bool need_port)
{
    size_t i = 0;

    if (n && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb || !ip_literal(s + 1, (size_t)(rb - s - 1)))
            return false;
        i = (size_t)(rb - s) + 1;
    } else {
        while (i < n && s[i] != ':') {
            if (s[i] == '%') {
                if (n - i < 3 || hexval((unsigned char)s[i + 1]) < 0 ||
                    hexval((unsigned char)s[i + 2]) < 0)
                    return false;
                i += 3;
            } else if (is_regname_char((unsigned char)s[i])) {
                i++;
            } else {
                return false;
            }
        }
        if (need_host && i == 0)
            return false;
    }
    if (i == n)
        return !need_port;
    if (s[i++] != ':' || (need_port && i == n))
        return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Methods are case-sensitive (RFC 9110 9.1). */
static bool method_is(const struct tw_http_req *req, const char *m)
{
    return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

/* Sort out the request target (RFC 9112 3.2) and set path and authority.
 * CONNECT takes only the authority-form ("host:port", 3.2.3; RFC 9110
 * 9.3.6: a port is required); the other methods the origin-form ("/...")
 * or the absolute-form with the http or https scheme (any case), and
 * OPTIONS also the asterisk-form ("*", 3.2.4). Anything else is 400.
 * Returns 0 or -EBADMSG. */
static int parse_target(struct tw_http_req *req)
{
    const char *t = req->target, *te = t + req->target_len, *a, *ae, *q;
    size_t skip = 0;

    req->authority = NULL;
    req->authority_len = 0;
    req->path = t;
    req->path_len = req->target_len;
    if (method_is(req, "CONNECT")) {
        if (!valid_host(t, req->target_len, true, true))
            return -EBADMSG;
        req->authority = t;
        req->authority_len = req->target_len;
        return 0;
    }
    if (t[0] == '/') {
        q = memchr(t, '?', req->target_len);
        if (q)
            req->path_len = (uint32_t)(q - t);
        return 0;
    }
    if (req->target_len == 1 && t[0] == '*')
        return method_is(req, "OPTIONS") ? 0 : -EBADMSG;
    if (req->target_len >= 7 && same_nocase(t, "http://", 7))
        skip = 7;
    else if (req->target_len >= 8 && same_nocase(t, "https://", 8))
        skip = 8;
    if (!skip)
        return -EBADMSG;
    /* absolute-form: "http://" authority path-abempty [ "?" query ] */
    for (a = ae = t + skip; ae < te && *ae != '/' && *ae != '?'; ae++)
        ;
    /* RFC 9110 4.2.1, 4.2.4: an http URI has a host, and no userinfo
     * ('@' is not a host byte) */
    if (!valid_host(a, (size_t)(ae - a), true, false))
        return -EBADMSG;
    req->authority = a;
    req->authority_len = (uint32_t)(ae - a);
    if (ae == te || *ae == '?') {
        req->path = "/";
        req->path_len = 1;
    } else {
        q = memchr(ae, '?', (size_t)(te - ae));
        req->path = ae;
        req->path_len = (uint32_t)((q ? q : te) - ae);
    }
    return 0;
}

static void limits(const struct tw_http_limits *in, struct tw_http_limits *l)
{
    *l = in ? *in : (struct tw_http_limits){0};
    if (!l->max_line)
        l->max_line = 8192;
    if (!l->max_head)
        l->max_head = 16384;
    if (!l->max_headers || l->max_headers > TW_HTTP_MAX_HEADERS)
        l->max_headers = l->max_headers ? TW_HTTP_MAX_HEADERS : 64;
    if (!l->max_body)
        l->max_body = 1u << 20;
}

/* Leading empty lines before a request line are ignored (RFC 9112 2.2). */
static size_t skip_empty_lines(const char *buf, size_t len)
{
    size_t s = 0;
    while (s + 1 < len && buf[s] == '\r' && buf[s + 1] == '\n')
        s += 2;
    return s;
}

/* Find the end of the head, searching only bytes not seen before, and
 * never past max_head. Errors come in the order of the bytes that cause
 * them, so a request gives the same result however it is split: a bare LF
 * (-EBADMSG) where it is, a request line longer than max_line
 * (-ENAMETOOLONG) at its byte max_line + 2 without an LF, a head longer than
 * max_head (-EMSGSIZE) at its byte max_head + 1. Returns the head length, 0
 * if it is not here yet, or the error. */
static ssize_t find_head_end(struct tw_http_parser *p, const char *buf, size_t len, size_t start,
                             uint32_t max_line, uint32_t max_head)
{
    size_t end = len < max_head ? len : max_head, first_lf_by = start + (size_t)max_line + 1;
    size_t i = p->scanned > start ? p->scanned : start;

    while (i < end) {
        const char *nl = memchr(buf + i, '\n', end - i);
        size_t j;
        if (!nl)
            break;
        j = (size_t)(nl - buf);
        if (!p->line_seen) {
            if (j > first_lf_by)
                return -ENAMETOOLONG;
            p->line_seen = 1;
        }
        if (j == 0 || buf[j - 1] != '\r')
            return -EBADMSG;
        if (j >= start + 3 && buf[j - 2] == '\n' && buf[j - 3] == '\r')
            return (ssize_t)(j + 1);
        i = j + 1;
    }
    p->scanned = (uint32_t)end;
    if (!p->line_seen && first_lf_by < end)
        return -ENAMETOOLONG;
    return len > max_head ? -EMSGSIZE : 0;
}

/* What the header fields say about framing and the connection. */
struct fields {
    int64_t content_length;
    unsigned cl_count, host_count, te_chunked, te_unknown;
    bool te_seen, te_last_chunked, conn_close, conn_keep_alive, expect_continue;
};

static void scan_list(const char *v, size_t n, struct fields *f, bool te)
{
    size_t i = 0;

    while (i < n) {
        size_t s, e;
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        s = i;
        while (i < n && v[i] != ',')
            i++;
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e == s)
            continue;
        if (te) {
            bool ch = eq_nocase(v + s, e - s, "chunked");
            f->te_chunked += ch;
            f->te_unknown += !ch;
            f->te_last_chunked = ch;
        } else if (eq_nocase(v + s, e - s, "close")) {
            f->conn_close = true;
        } else if (eq_nocase(v + s, e - s, "keep-alive")) {
            f->conn_keep_alive = true;
        }
    }
}

/* Parse header lines from q up to the empty line that ends the head; in a
 * request (req) a Host value must be uri-host [":" port] (RFC 9112 3.2,
 * RFC 9110 7.2; it may be empty). Returns 0 or -errno. */
static int parse_fields(const char *q, const char *end, struct tw_http_header *hdrs,
                        unsigned max, unsigned *nhdrs, uint64_t max_body, bool req,
                        struct fields *f)
{
    unsigned n = 0;
    int too_big = 0;

    memset(f, 0, sizeof(*f));
    f->content_length = -1;
    for (;;) {
        const char *le = memchr(q, '\r', (size_t)(end - q)), *name = q, *v, *ve;
        size_t nlen;
        if (!le || le + 1 >= end || le[1] != '\n')
            return -EBADMSG; /* a CR not followed by LF */
        if (le == q)
            break;
        if (*q == ' ' || *q == '\t')
            return -EBADMSG; /* obs-fold */
        while (q < le && is_tchar((unsigned char)*q))
            q++;
        nlen = (size_t)(q - name);
        if (!nlen || q == le || *q != ':')
            return -EBADMSG; /* no name, or whitespace before the colon */
        for (v = q + 1; v < le && (*v == ' ' || *v == '\t'); v++)
            ;
        for (ve = le; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
            ;
        for (const char *c = v; c < ve; c++)
            if (!is_vchar((unsigned char)*c))
                return -EBADMSG;
        if (n >= max)
            return -EMSGSIZE;
        hdrs[n++] = (struct tw_http_header){.name = name, .name_len = (uint32_t)nlen, .value = v,
                                            .value_len = (uint32_t)(ve - v)};
        switch (nlen) {
        case 4:
            if (eq_nocase(name, nlen, "host")) {
                f->host_count++;
                if (req && !valid_host(v, (size_t)(ve - v), false, false))
                    return -EBADMSG;
            }
            break;
        case 6:
            if (eq_nocase(name, nlen, "expect") && eq_nocase(v, (size_t)(ve - v), "100-continue"))
                f->expect_continue = true;
            break;
        case 10:
            if (eq_nocase(name, nlen, "connection"))
                scan_list(v, (size_t)(ve - v), f, false);
            break;
        case 14:
            if (eq_nocase(name, nlen, "content-length")) {
                uint64_t x = 0;
                if (++f->cl_count > 1 || v == ve)
                    return -EBADMSG;
                for (const char *c = v; c < ve; c++) {
                    if (*c < '0' || *c > '9')
                        return -EBADMSG;
                    if (x <= max_body)
                        x = x * 10 + (uint64_t)(*c - '0');
                }
                if (x > max_body)
                    too_big = -EFBIG; /* after the rest is known to be well formed */
                f->content_length = (int64_t)x;
            }
            break;
        case 17:
            if (eq_nocase(name, nlen, "transfer-encoding")) {
                f->te_seen = true;
                scan_list(v, (size_t)(ve - v), f, true);
            }
            break;
        }
        q = le + 2;
    }
    *nhdrs = n;
    return too_big;
}

/* Request line and headers of the head buf[start..head_len). */
static int parse_head(const char *buf, size_t start, size_t head_len,
                      const struct tw_http_limits *lim, struct tw_http_req *req)
{
    const char *q = buf + start, *end = buf + head_len, *le = memchr(q, '\r', (size_t)(end - q));
    const char *t;
    struct fields f;
    int r;

    if (le[1] != '\n')
        return -EBADMSG; /* a bare CR: the line must not end there */
    req->method = q;
    while (q < le && is_tchar((unsigned char)*q))
        q++;
    req->method_len = (uint32_t)(q - req->method);
    if (!req->method_len || q == le || *q++ != ' ')
        return -EBADMSG;
    for (t = q; q < le && (unsigned char)*q > 0x20 && *q != 0x7f; q++)
        ;
    if (q == t || q == le || *q++ != ' ')
        return -EBADMSG;
    req->target = t;
    req->target_len = (uint32_t)(q - 1 - t);
    if (le - q != 8 || memcmp(q, "HTTP/", 5) != 0 || q[5] < '0' || q[5] > '9' || q[6] != '.' ||
        q[7] < '0' || q[7] > '9')
        return -EBADMSG;
    if (q[5] != '1')
        return -EPROTONOSUPPORT;
    req->minor = (uint8_t)(q[7] - '0');
    if ((r = parse_target(req)) < 0)
        return r;
    if ((r = parse_fields(le + 2, end, req->headers, lim->max_headers, &req->nheaders,
                          lim->max_body, true, &f)) < 0 && r != -EFBIG)
        return r;
    /* RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one before. */
    if (f.host_count > 1 || (req->minor >= 1 && f.host_count == 0))
        return -EBADMSG;
    if (f.te_seen) {
        /* RFC 9112 6.1, 6.3: both framings, or TE in HTTP/1.0, is how
         * request smuggling starts; refuse rather than pick one. */
        if (f.cl_count || req->minor == 0)
            return -EBADMSG;
        /* RFC 9112 6.3: chunked must be the final coding, else the length
         * cannot be known (400); before it, a coding we do not decode (501) */
        if (f.te_chunked != 1 || !f.te_last_chunked)
            return -EBADMSG;
        if (f.te_unknown)
            return -ENOSYS;
    }
    if (r < 0)
        return r;
    req->chunked = f.te_seen;
    req->content_length = f.content_length;
    req->expect_continue = f.expect_continue;
    req->keep_alive = !f.conn_close && (req->minor >= 1 || f.conn_keep_alive);
    return 0;
}

/* The state after byte c of a chunk extension in state st, CH_SIZE_LF at
 * its end (CR), or -1 if c may not come there. */
static int chunk_ext_next(int st, unsigned char c)
{
    bool ws = c == ' ' || c == '\t', tc = is_tchar(c);

    switch (st) {
    case CH_EXT_SEMI:
        return ws ? st : c == ';' ? CH_EXT_NAME_BWS : -1;
    case CH_EXT_NAME_BWS:
        return ws ? st : tc ? CH_EXT_NAME : -1;
    case CH_EXT_NAME:
    case CH_EXT_NAME_END:
        if (tc && st == CH_EXT_NAME)
            return st;
        if (c == '\r' && st == CH_EXT_NAME)
            return CH_SIZE_LF;
        return ws ? CH_EXT_NAME_END : c == ';' ? CH_EXT_NAME_BWS : c == '=' ? CH_EXT_VAL_BWS : -1;
    case CH_EXT_VAL_BWS:
        return ws ? st : c == '"' ? CH_EXT_QUOTED : tc ? CH_EXT_TOKEN : -1;
    case CH_EXT_TOKEN:
    case CH_EXT_VAL_END:
        if (tc && st == CH_EXT_TOKEN)
            return st;
        return c == '\r' ? CH_SIZE_LF : ws ? CH_EXT_SEMI : c == ';' ? CH_EXT_NAME_BWS : -1;
    case CH_EXT_QUOTED: /* qdtext: HTAB, SP, VCHAR but '"' and '\\', obs-text */
        if (c == '"')
            return CH_EXT_VAL_END;
        if (c == '\\')
            return CH_EXT_QPAIR;
        return is_vchar(c) ? st : -1;
    case CH_EXT_QPAIR: /* quoted-pair: HTAB, SP, VCHAR, obs-text */
        return is_vchar(c) ? CH_EXT_QUOTED : -1;
    }
    return -1;
}

/* The state after byte c (not CR) of a trailer line in state st, or -1 if
 * c may not come there. */
static int trailer_next(int st, unsigned char c)
{
    if (st == CH_TRAILER_VALUE)
        return is_vchar(c) ? st : -1;
    if (is_tchar(c))
        return CH_TRAILER_NAME;
    return c == ':' && st == CH_TRAILER_NAME ? CH_TRAILER_VALUE : -1;
}

/* Decode the chunked body in b[0..avail) in place, from where p stopped.
 * Returns 1 when the last chunk and the trailers are in, -EAGAIN, or an
 * error. */
static int decode_chunked(struct tw_http_parser *p, char *b, size_t avail,
                          const struct tw_http_limits *lim)
{
    uint64_t max_raw = 2ull * lim->max_body + 4096;

    while (p->raw < avail && p->state != CH_DONE) {
        unsigned char c = (unsigned char)b[p->raw];
        int h;

        switch (p->state) {
        case CH_SIZE:
            if ((h = hexval(c)) >= 0) {
                /* chunk-size is 1*HEXDIG: leading zeros are not counted
                 * (the framing allowance bounds them), a ninth significant
                 * digit is: 4 GiB or more is not a size we accept */
                if (p->chunk_left > 0xfffffff)
                    return -EBADMSG;
                p->line = 1; /* a digit is here */
                p->chunk_left = p->chunk_left * 16 + (uint64_t)h;
                if (p->body + p->chunk_left > lim->max_body)
                    return -EFBIG;
            } else if (!p->line) {
                return -EBADMSG;
            } else if (c == ';' || c == ' ' || c == '\t') {
                p->state = c == ';' ? CH_EXT_NAME_BWS : CH_EXT_SEMI;
                p->line = 0; /* now the extension's length */
            } else if (c == '\r') {
                p->state = CH_SIZE_LF;
            } else {
                return -EBADMSG;
            }
            p->raw++;
            break;
        case CH_EXT_SEMI:
        case CH_EXT_NAME_BWS:
        case CH_EXT_NAME:
        case CH_EXT_NAME_END:
        case CH_EXT_VAL_BWS:
        case CH_EXT_TOKEN:
        case CH_EXT_QUOTED:
        case CH_EXT_QPAIR:
        case CH_EXT_VAL_END:
            if ((h = chunk_ext_next(p->state, c)) < 0 || (c != '\r' && ++p->line > MAX_CHUNK_EXT))
                return -EBADMSG;
            p->state = (uint8_t)h;
            p->raw++;
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                return -EBADMSG;
            p->raw++;
            p->line = 0;
            p->state = p->chunk_left ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA: {
            size_t n = avail - p->raw;
            if (n > p->chunk_left)
                n = (size_t)p->chunk_left;
            if (p->body != p->raw)
                memmove(b + p->body, b + p->raw, n);
            p->body += (uint32_t)n;
            p->raw += (uint32_t)n;
            p->chunk_left -= n;
            if (!p->chunk_left)
                p->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
        case CH_DATA_LF:
            if (c != (p->state == CH_DATA_CR ? '\r' : '\n'))
                return -EBADMSG;
            p->raw++;
            p->state = p->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE;
            break;
        /* Trailer lines are field lines (RFC 9112 7.1.2, 5): a token, ':'
         * at once, a value; no obs-fold. line: their bytes so far. */
        case CH_TRAILER:
        case CH_TRAILER_NAME:
        case CH_TRAILER_VALUE:
            if (c == '\r' && p->state != CH_TRAILER_NAME) {
                p->state = p->state == CH_TRAILER ? CH_END_LF : CH_TRAILER_LF;
            } else {
                if ((h = trailer_next(p->state, c)) < 0)
                    return -EBADMSG;
                if (++p->line > lim->max_head)
                    return -EMSGSIZE;
                p->state = (uint8_t)h;
            }
            p->raw++;
            break;
        case CH_TRAILER_LF:
        case CH_END_LF:
            if (c != '\n')
                return -EBADMSG;
            p->raw++;
            p->state = p->state == CH_END_LF ? CH_DONE : CH_TRAILER;
            break;
        }
        if (p->raw > max_raw)
            return -EFBIG; /* framing overhead past its allowance */
    }
    return p->state == CH_DONE ? 1 : -EAGAIN;
}

ssize_t tw_http_parse(struct tw_http_parser *p, char *buf, size_t len,
                      const struct tw_http_limits *lim_in, struct tw_http_req *req)
{
    struct tw_http_limits lim;
    size_t start = skip_empty_lines(buf, len);
    ssize_t head;
    int r;

    limits(lim_in, &lim);
    if (!p->head_len) {
        if ((head = find_head_end(p, buf, len, start, lim.max_line, lim.max_head)) <= 0)
            return head ? head : -EAGAIN;
        p->head_len = (uint32_t)head;
    }
    /* The head is re-read on each call: req points into buf, which the
     * caller may have moved since the last call. */
    if ((r = parse_head(buf, start, p->head_len, &lim, req)) < 0)
        return r;
    req->body = buf + p->head_len;
    req->body_len = 0;
    if (req->chunked) {
        if ((r = decode_chunked(p, buf + p->head_len, len - p->head_len, &lim)) < 0)
            return r;
        req->body_len = p->body;
        return (ssize_t)p->head_len + p->raw;
    }
    if (req->content_length > 0) {
        if (len - p->head_len < (uint64_t)req->content_length)
            return -EAGAIN;
        req->body_len = (uint32_t)req->content_length;
    }
    return (ssize_t)p->head_len + req->body_len;
}

int tw_http_error_status(int err)
{
    switch (err) {
    case -ENAMETOOLONG: return 414;
    case -EMSGSIZE: return 431;
    case -EFBIG: return 413;
    case -ENOSYS: return 501;
    case -EPROTONOSUPPORT: return 505;
    default: return 400;
    }
}

const struct tw_http_header *tw_http_header_get(const struct tw_http_req *req, const char *name)
{
    for (unsigned i = 0; i < req->nheaders; i++)
        if (eq_nocase(req->headers[i].name, req->headers[i].name_len, name))
            return &req->headers[i];
    return NULL;
}

ssize_t tw_http_parse_response(const char *buf, size_t len, uint32_t max_head,
                               struct tw_http_resp *resp)
{
    struct tw_http_header hdrs[TW_HTTP_MAX_HEADERS];
    struct tw_http_parser p = {0};
    struct fields f;
    unsigned n;
    ssize_t head;
    const char *q = buf, *le;
    int r;

    if (!max_head)
        max_head = 16384;
    if ((head = find_head_end(&p, buf, len, 0, max_head, max_head)) <= 0)
        return head == -ENAMETOOLONG ? -EMSGSIZE : head ? head : -EAGAIN;
    /* "HTTP/1.1 200 OK\r\n": the reason phrase may be empty */
    if (head < 16 || memcmp(q, "HTTP/1.", 7) != 0 || q[7] < '0' || q[7] > '9' || q[8] != ' ' ||
        q[9] < '1' || q[9] > '5' || q[10] < '0' || q[10] > '9' || q[11] < '0' || q[11] > '9' ||
        (q[12] != ' ' && q[12] != '\r'))
        return -EBADMSG;
    resp->minor = (uint8_t)(q[7] - '0');
    resp->status = (q[9] - '0') * 100 + (q[10] - '0') * 10 + (q[11] - '0');
    le = memchr(q, '\r', (size_t)head);
    if (le[1] != '\n')
        return -EBADMSG;
    if ((r = parse_fields(le + 2, buf + head, hdrs, TW_HTTP_MAX_HEADERS, &n, UINT32_MAX, false,
                          &f)) < 0)
        return r == -EFBIG ? -EBADMSG : r;
    if (f.te_seen && (f.te_unknown || !f.te_last_chunked))
        return -EBADMSG;
    resp->chunked = f.te_seen;
    resp->content_length = f.te_seen ? -1 : f.content_length;
    resp->keep_alive = !f.conn_close && (resp->minor >= 1 || f.conn_keep_alive);
    return head;
}
