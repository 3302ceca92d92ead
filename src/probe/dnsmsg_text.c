/* twkit probe: RDATA fields as text (dnsmsg_int.h), the part of miekg/dns
 * v1.1.50's String() methods that holds no domain name (dnsmsg.c does the
 * names and the headers). Learnt from its types.go, msg_helpers.go,
 * edns.go and svcb.go; what is surprising there:
 *   - a character-string byte is "\"" or "\\" backslashed, "\DDD" outside
 *     0x20-0x7e, itself otherwise (unpackString escapes, String() decodes
 *     and escapes again: the same);
 *   - CAA values and URI targets are kept raw and then read as if escaped
 *     (sprintTxtOctet): a "\065" in the wire data shows as "A";
 *   - Go's net.IP: an IPv4-mapped address is dotted ("::ffff:1.2.3.4" shows
 *     as "1.2.3.4"); otherwise the longest run of two or more zero groups,
 *     the first of equals, becomes "::";
 *   - SMIMEA's hex gets a space every 1024 digits, and one at the end when
 *     they are a multiple of 1024 (splitN's empty last chunk); a TCP
 *     keepalive timeout is multiplied by 100 in 16 bits; the EDNS expire
 *     option shows nothing;
 *   - bytes miekg copies into text raw (NULL's data, the NSID, EDE and ESU
 *     options) show as themselves here too, but for NUL: "\000", so that
 *     the text stays a C string.
 * Checking and rendering are one walk: with a NULL out only the checks
 * (those of miekg's unpack functions) are left.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "probe/dnsmsg.h"
#include "probe/dnsmsg_int.h"

/* ---- text out ---- */

void tp_dns_put(struct tp_dns_out *o, const void *s, size_t k)
{
    if (!o)
        return;
    if (o->n + 1 < o->cap) {
        size_t room = o->cap - 1 - o->n;

        memcpy(o->p + o->n, s, k < room ? k : room);
    }
    o->n += k;
}

void tp_dns_putc(struct tp_dns_out *o, char c) { tp_dns_put(o, &c, 1); }
void tp_dns_puts(struct tp_dns_out *o, const char *s) { tp_dns_put(o, s, strlen(s)); }

void tp_dns_putf(struct tp_dns_out *o, const char *fmt, ...)
{
    char s[128];
    va_list ap;
    int k;

    if (!o)
        return;
    va_start(ap, fmt);
    k = vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    tp_dns_put(o, s, k < 0 ? 0 : (size_t)k < sizeof s ? (size_t)k : sizeof s - 1);
}

int tp_dns_finish(struct tp_dns_out *o)
{
    if (!o->cap)
        return -ENOSPC;
    if (o->n < o->cap) {
        o->p[o->n] = '\0';
        return (int)o->n;
    }
    o->p[o->cap - 1] = '\0';
    return -ENOSPC;
}

void tp_dns_put_esc(struct tp_dns_out *o, uint8_t b, enum tp_dns_esc e)
{
    const char *special = e == TP_ESC_NAME ? ".'@;()\"\\ " : e == TP_ESC_TXT ? "\"\\"
                          : e == TP_ESC_PARAM ? "\"; \\" : "\"; ";

    if (e == TP_ESC_RAW && b) {
        tp_dns_putc(o, (char)b);
        return;
    }
    if (b < 0x20 || b > 0x7e) {
        tp_dns_putf(o, "\\%03u", b);
        return;
    }
    if (e == TP_ESC_ALPN && (b == ',' || b == '\\')) { /* escaped twice */
        tp_dns_puts(o, b == ',' ? "\\\\\\044" : "\\\\\\092");
        return;
    }
    if (strchr(special, b))
        tp_dns_putc(o, '\\');
    tp_dns_putc(o, (char)b);
}

void tp_dns_put_hex(struct tp_dns_out *o, const uint8_t *p, size_t n, bool upper)
{
    const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";

    for (size_t i = 0; o && i < n; i++) {
        char s[2] = {d[p[i] >> 4], d[p[i] & 15]};

        tp_dns_put(o, s, 2);
    }
}

void tp_dns_put_type(struct tp_dns_out *o, uint16_t type)
{
    char b[16];

    tp_dns_puts(o, tp_dns_type_name(type, b));
}

static void put_b64(struct tp_dns_out *o, const uint8_t *p, size_t n)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; o && i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char s[4] = {a[v >> 18 & 63], a[v >> 12 & 63], i + 1 < n ? a[v >> 6 & 63] : '=',
                     i + 2 < n ? a[v & 63] : '='};

        tp_dns_put(o, s, 4);
    }
}

/* base32 with the extended hex alphabet and no padding (NSEC3). */
static void put_b32hex(struct tp_dns_out *o, const uint8_t *p, size_t n)
{
    static const char a[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    uint32_t acc = 0;
    int bits = 0;

    for (size_t i = 0; o && i < n; i++) {
        acc = acc << 8 | p[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            tp_dns_putc(o, a[acc >> bits & 31]);
        }
        acc &= (1u << bits) - 1;
    }
    if (bits)
        tp_dns_putc(o, a[acc << (5 - bits) & 31]);
}

static void put_ip4(struct tp_dns_out *o, const uint8_t *p)
{
    tp_dns_putf(o, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
}

static bool v4mapped(const uint8_t *p)
{
    static const uint8_t pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    return !memcmp(p, pre, 12);
}

/* Go's net.IP.String() of 16 bytes. */
static void put_ip6(struct tp_dns_out *o, const uint8_t *p)
{
    int best = -1, bestn = 0;

    if (v4mapped(p)) {
        put_ip4(o, p + 12);
        return;
    }
    for (int i = 0; i < 8;) {
        int j = i;

        while (j < 8 && !p[2 * j] && !p[2 * j + 1])
            j++;
        if (j - i > bestn) {
            best = i;
            bestn = j - i;
        }
        i = j > i ? j : i + 1;
    }
    if (bestn < 2)
        best = -1;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            tp_dns_puts(o, "::");
            i += bestn;
            if (i >= 8)
                break;
        } else if (i > 0) {
            tp_dns_putc(o, ':');
        }
        tp_dns_putf(o, "%x", (unsigned)getn(p + 2 * i, 2));
    }
}

/* miekg's RRSIG, TKEY and TSIG times: UTC, YYYYMMDDHHMMSS. (Its RFC 1982
 * shift of 32-bit times is 0 for any time until 2106.) */
static void put_time(struct tp_dns_out *o, uint64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!o)
        return;
    if (!gmtime_r(&tt, &tm)) {
        tp_dns_putf(o, "%" PRIu64, t);
        return;
    }
    tp_dns_putf(o, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A name or its number ("RSASHA256", "7"). */
static void put_name_or_num(struct tp_dns_out *o, const char *name, unsigned num)
{
    if (name)
        tp_dns_puts(o, name);
    else
        tp_dns_putf(o, "%u", num);
}

/* A CAA value or URI target, read as escaped text as miekg's
 * sprintTxtOctet and nextByte read it: "\." stays, "\DDD" is that byte
 * (mod 256), "\X" is X, a lone "\" at the end goes. */
static void put_octets(struct tp_dns_out *o, const uint8_t *s, size_t n)
{
    tp_dns_putc(o, '"');
    for (size_t i = 0; o && i < n;) {
        uint8_t b = s[i];
        size_t k = 1;

        if (b == '\\') {
            if (i + 1 < n && s[i + 1] == '.') {
                tp_dns_puts(o, "\\.");
                i += 2;
                continue;
            }
            if (n - i == 1) {
                i++;
                continue;
            }
            if (n - i >= 4 && digit(s[i + 1]) && digit(s[i + 2]) && digit(s[i + 3])) {
                b = (uint8_t)((s[i + 1] - '0') * 100 + (s[i + 2] - '0') * 10 + s[i + 3] - '0');
                k = 4;
            } else {
                b = s[i + 1];
                k = 2;
            }
        }
        tp_dns_put_esc(o, b, TP_ESC_TXT);
        i += k;
    }
    tp_dns_putc(o, '"');
}

/* ---- fields with a form of their own ---- */

/* An NSEC/NSEC3/CSYNC type bitmap, as miekg checks it: windows in rising
 * order, each 1 to 32 bytes. " TYPE" per type. */
static bool bitmap(struct tp_dns_out *o, const uint8_t *p, size_t n)
{
    int last = -1;

    while (n) {
        size_t k;

        if (n < 2 || p[0] <= last || !p[1] || p[1] > 32 || n - 2 < p[1])
            return false;
        for (unsigned j = 0; o && j < p[1]; j++)
            for (unsigned bit = 0; bit < 8; bit++)
                if (p[2 + j] & 0x80 >> bit) {
                    tp_dns_putc(o, ' ');
                    tp_dns_put_type(o, (uint16_t)(p[0] * 256 + j * 8 + bit));
                }
        last = p[0];
        k = 2 + (size_t)p[1];
        p += k;
        n -= k;
    }
    return true;
}

/* LOC (RFC 1876), 16 bytes, as miekg prints it. */
static void loc_angle(struct tp_dns_out *o, uint32_t v, const char *pos_neg)
{
    char hemi = pos_neg[0];

    if (v > 1u << 31) {
        v -= 1u << 31;
    } else {
        hemi = pos_neg[1];
        v = (1u << 31) - v;
    }
    tp_dns_putf(o, "%02u %02u %u.%03u %c ", v / 3600000, v % 3600000 / 60000,
                v % 60000 / 1000, v % 1000, hemi);
}

static void loc_size(struct tp_dns_out *o, uint8_t x, const char *after)
{
    unsigned m = x >> 4, e = x & 15;

    if (e < 2)
        tp_dns_putf(o, "0.%02u", e ? m * 10 : m);
    else
        tp_dns_putf(o, "%u%.*s", m, (int)(e - 2), "0000000000000");
    tp_dns_puts(o, after);
}

static void loc(struct tp_dns_out *o, const uint8_t *p)
{
    int64_t alt = (int64_t)getn(p + 12, 4) - 10000000, a = alt < 0 ? -alt : alt;

    loc_angle(o, getn(p + 4, 4), "NS");
    loc_angle(o, getn(p + 8, 4), "EW");
    if (alt % 100)
        tp_dns_putf(o, "%s%" PRId64 ".%02" PRId64 "m ", alt < 0 ? "-" : "", a / 100, a % 100);
    else
        tp_dns_putf(o, "%" PRId64 "m ", alt / 100);
    loc_size(o, p[1], "m ");
    loc_size(o, p[2], "m ");
    loc_size(o, p[3], "m");
}

/* APL (RFC 3123) items: "[!]1:192.0.2.0/24", "2:2001:db8::/32". */
static bool apl(struct tp_dns_out *o, const uint8_t *p, size_t n)
{
    for (bool first = true; n; first = false) {
        size_t fam, afd, iplen;
        uint8_t ip[16] = {0};

        if (n < 4)
            return false;
        fam = getn(p, 2);
        afd = p[3] & 0x7f;
        iplen = fam == 1 ? 4 : fam == 2 ? 16 : 0;
        if (!iplen || p[2] > 8 * iplen || afd > iplen || n - 4 < afd || (afd && !p[3 + afd]))
            return false;
        memcpy(ip, p + 4, afd);
        tp_dns_putf(o, "%s%s%zu:", first ? "" : " ", p[3] & 0x80 ? "!" : "", fam);
        if (fam == 1) {
            put_ip4(o, ip);
        } else {
            if (v4mapped(ip))
                tp_dns_puts(o, "::ffff:");
            put_ip6(o, ip);
        }
        tp_dns_putf(o, "/%u", p[2]);
        p += 4 + afd;
        n -= 4 + afd;
    }
    return true;
}

static void svcb_key(struct tp_dns_out *o, unsigned key)
{
    static const char *const k[] = {"mandatory", "alpn", "no-default-alpn", "port",
                                    "ipv4hint", "ech", "ipv6hint", "dohpath"};

    if (key < 8)
        tp_dns_puts(o, k[key]);
    else if (key != 65535)
        tp_dns_putf(o, "key%u", key);
}

/* The value of SVCB key key (n bytes at v), false where miekg refuses it. */
static bool svcb_value(struct tp_dns_out *o, unsigned key, const uint8_t *v, size_t n)
{
    if ((key == 0 && n % 2) || (key == 2 && n) || (key == 3 && n != 2) ||
        (key == 4 && (!n || n % 4)) || (key == 6 && (!n || n % 16)))
        return false;
    for (size_t i = 0; key == 1 && i < n; i += 1 + v[i])
        if (n - i - 1 < v[i])
            return false;
    for (size_t i = 0; key == 6 && i < n; i += 16)
        if (v4mapped(v + i))
            return false;
    for (size_t i = 0; o && i < n;) {
        switch (key) {
        case 0: /* mandatory: keys */
            svcb_key(o, (unsigned)getn(v + i, 2));
            i += 2;
            break;
        case 1: /* alpn: length-prefixed ids */
            for (size_t j = 1; j <= v[i]; j++)
                tp_dns_put_esc(o, v[i + j], TP_ESC_ALPN);
            i += 1 + v[i];
            break;
        case 3:
            tp_dns_putf(o, "%u", (unsigned)getn(v, 2));
            i = n;
            break;
        case 4:
            put_ip4(o, v + i);
            i += 4;
            break;
        case 5: /* ech */
            put_b64(o, v, n);
            i = n;
            break;
        case 6:
            put_ip6(o, v + i);
            i += 16;
            break;
        default: /* dohpath, keyNNNNN */
            tp_dns_put_esc(o, v[i++], TP_ESC_PARAM);
            continue;
        }
        if (i < n && (key == 0 || key == 1 || key == 4 || key == 6))
            tp_dns_putc(o, ',');
    }
    return true;
}

/* SVCB/HTTPS parameters: " key=\"value\"" each, keys rising. */
static bool svcb(struct tp_dns_out *o, const uint8_t *p, size_t n)
{
    long last = -1;

    while (n) {
        size_t len, key;

        if (n < 4 || n - 4 < (len = getn(p + 2, 2)))
            return false;
        key = getn(p, 2);
        if (key == 65535 || (long)key <= last)
            return false;
        tp_dns_putc(o, ' ');
        svcb_key(o, (unsigned)key);
        tp_dns_puts(o, "=\"");
        if (!svcb_value(o, (unsigned)key, p + 4, len))
            return false;
        tp_dns_putc(o, '"');
        last = (long)key;
        p += 4 + len;
        n -= 4 + len;
    }
    return true;
}

static void put_algs(struct tp_dns_out *o, const uint8_t *v, size_t n, bool hashes)
{
    for (size_t i = 0; i < n; i++) {
        tp_dns_putc(o, ' ');
        put_name_or_num(o, hashes ? tp_dns_hash_name(v[i]) : tp_dns_alg_name(v[i]), v[i]);
    }
}

static void put_raw(struct tp_dns_out *o, const uint8_t *v, size_t n)
{
    for (size_t i = 0; o && i < n; i++)
        tp_dns_put_esc(o, v[i], TP_ESC_RAW);
}

/* One EDNS option (edns.go): false where miekg's unpack fails. */
static bool edns_option(struct tp_dns_out *o, unsigned code, const uint8_t *v, size_t n)
{
    uint8_t ip[16] = {0};
    unsigned fam, src, scope, alen;
    const char *name;

    switch (code) {
    case 1:
        if (n < 18)
            return false;
        tp_dns_putf(o, "\n; LONG LIVED QUERIES: %u %u %u ", (unsigned)getn(v, 2),
                    (unsigned)getn(v + 2, 2), (unsigned)getn(v + 4, 2));
        tp_dns_putf(o, "%" PRIu64 " %u", (uint64_t)getn(v + 6, 4) << 32 | getn(v + 10, 4),
                    (unsigned)getn(v + 14, 4));
        return true;
    case 2:
        if (n != 4 && n != 8)
            return false;
        tp_dns_putf(o, "\n; UPDATE LEASE: %u %u", (unsigned)getn(v, 4),
                    n == 8 ? (unsigned)getn(v + 4, 4) : 0);
        return true;
    case 3:
        tp_dns_puts(o, "\n; NSID: ");
        tp_dns_put_hex(o, v, n, false);
        tp_dns_puts(o, "  ");
        for (size_t i = 0; o && i < n; i++) { /* Go's string(byte): UTF-8 above 0x7f */
            tp_dns_putc(o, '(');
            if (v[i] < 0x80) {
                tp_dns_put_esc(o, v[i], TP_ESC_RAW);
            } else {
                tp_dns_putc(o, (char)(0xC0 | v[i] >> 6));
                tp_dns_putc(o, (char)(0x80 | (v[i] & 0x3F)));
            }
            tp_dns_putc(o, ')');
        }
        return true;
    case 4:
        tp_dns_puts(o, "\n; ESU: ");
        put_raw(o, v, n);
        return true;
    case 5:
    case 6:
    case 7:
        tp_dns_puts(o, code == 5 ? "\n; DNSSEC ALGORITHM UNDERSTOOD: "
                       : code == 6 ? "\n; DS HASH UNDERSTOOD: " : "\n; NSEC3 HASH UNDERSTOOD: ");
        put_algs(o, v, n, code != 5);
        return true;
    case 8: /* client subnet: family, source and scope prefix, address */
        if (n < 4)
            return false;
        fam = (unsigned)getn(v, 2);
        src = v[2];
        scope = v[3];
        alen = fam == 1 ? 4 : 16;
        if (fam > 2 || (fam == 0 && src) || src > alen * 8 || (fam && scope > alen * 8))
            return false;
        if (fam) /* family 0 is 0.0.0.0 whatever follows */
            memcpy(ip, v + 4, n - 4 < alen ? n - 4 : alen);
        tp_dns_puts(o, "\n; SUBNET: ");
        if (fam == 2 && !v4mapped(ip)) {
            tp_dns_putc(o, '[');
            put_ip6(o, ip);
            tp_dns_putc(o, ']');
        } else {
            put_ip4(o, fam == 2 ? ip + 12 : ip);
        }
        tp_dns_putf(o, "/%u/%u", src, scope);
        return true;
    case 9: /* expire */
        return n == 0 || n >= 4;
    case 10:
        tp_dns_puts(o, "\n; COOKIE: ");
        tp_dns_put_hex(o, v, n, false);
        return true;
    case 11: /* TCP keepalive, in 100 ms units */
        if (n != 0 && n != 2)
            return false;
        tp_dns_puts(o, "\n; KEEPALIVE: use tcp keep-alive");
        if (n && getn(v, 2))
            tp_dns_putf(o, ", timeout %ums", (unsigned)(uint16_t)(getn(v, 2) * 100));
        else
            tp_dns_puts(o, ", timeout omitted");
        return true;
    case 12:
        tp_dns_puts(o, "\n; PADDING: ");
        tp_dns_put_hex(o, v, n, true);
        return true;
    case 15: /* extended DNS error */
        if (n < 2)
            return false;
        tp_dns_putf(o, "\n; EDE: %u", (unsigned)getn(v, 2));
        if ((name = tp_dns_ede_name((uint16_t)getn(v, 2))))
            tp_dns_putf(o, " (%s)", name);
        tp_dns_puts(o, ": (");
        put_raw(o, v + 2, n - 2);
        tp_dns_putc(o, ')');
        return true;
    default:
        tp_dns_putf(o, "\n; LOCAL OPT: %u:0x", code);
        tp_dns_put_hex(o, v, n, false);
        return true;
    }
}

static bool edns(struct tp_dns_out *o, const uint8_t *p, size_t n)
{
    while (n) {
        size_t len;

        if (n < 4 || n - 4 < (len = getn(p + 2, 2)) ||
            !edns_option(o, (unsigned)getn(p, 2), p + 4, len))
            return false;
        p += 4 + len;
        n -= 4 + len;
    }
    return true;
}

/* HIP (RFC 8005) but its rendezvous servers: "alg hit(hex) key(base64)". */
static bool hip(struct tp_dns_out *o, const uint8_t *p, size_t n, size_t *used)
{
    size_t hit, pk;

    if (n < 4 || n - 4 < (hit = p[0]) + (pk = getn(p + 2, 2)))
        return false;
    tp_dns_putf(o, "%u ", p[1]);
    tp_dns_put_hex(o, p + 4, hit, false);
    tp_dns_putc(o, ' ');
    put_b64(o, p + 4 + hit, pk);
    *used = 4 + hit + pk;
    return true;
}

/* ---- one field ---- */

static size_t fixed_size(char f)
{
    switch (f) {
    case 'b':
    case 'a':
        return 1;
    case 'w':
    case 'y':
    case 'c':
        return 2;
    case 'l':
    case 't':
    case '4':
        return 4;
    case 'e':
    case 'g':
        return 6;
    case 'E':
    case 'i':
    case 'I':
        return 8;
    case '6':
        return 16;
    case 'L':
        return 16;
    }
    return 0;
}

/* Fields of a fixed size: k bytes at p. */
static void fixed(struct tp_dns_out *o, char f, const uint8_t *p, size_t k)
{
    switch (f) {
    case 'b':
    case 'w':
    case 'l':
        tp_dns_putf(o, "%" PRIu32, getn(p, k));
        break;
    case 'y':
        tp_dns_put_type(o, (uint16_t)getn(p, 2));
        break;
    case 'c':
        put_name_or_num(o, tp_dns_cert_name((uint16_t)getn(p, 2)), getn(p, 2));
        break;
    case 'a':
        put_name_or_num(o, tp_dns_alg_name(p[0]), p[0]);
        break;
    case 't':
        put_time(o, getn(p, 4));
        break;
    case 'g':
        put_time(o, (uint64_t)getn(p, 2) << 32 | getn(p + 2, 4));
        break;
    case '4':
        put_ip4(o, p);
        break;
    case '6':
        put_ip6(o, p);
        break;
    case 'L':
        loc(o, p);
        break;
    case 'e':
    case 'E':
        for (size_t i = 0; i < k; i++)
            tp_dns_putf(o, i ? "-%02x" : "%02x", p[i]);
        break;
    default: /* i, I */
        for (size_t i = 0; i < 8; i += 2)
            tp_dns_putf(o, f == 'i' ? "%s%02x%02x" : "%s%02X%02X", i ? ":" : "", p[i], p[i + 1]);
    }
}

/* The form letters (dnsmsg_names.c has the forms; 'n' and 'R', names, are
 * dnsmsg.c's):
 *   b w l   8-, 16-, 32-bit number     4 6   IPv4, IPv6 address
 *   y       a type (RRSIG's covered)    t g   32-bit, 48-bit time
 *   c a     CERT type, DNSSEC algorithm, by name when miekg has one
 *   e E     EUI-48, EUI-64             i I   64 bits in 4 hex groups (NID, L64)
 *   q r     a character-string, quoted or not
 *   T       character-strings to the end, quoted, none at all too (TXT)
 *   X x     hex to the end, upper or lower case;  m  the same, lower, a
 *           space every 1024 digits (SMIMEA)
 *   B       base64 to the end          O     octets to the end (CAA, URI)
 *   N       raw bytes to the end (NULL)
 *   S Z     8-bit length, then hex ("-" when empty) or base32hex (NSEC3)
 *   k K     16-bit length, then hex: "LEN hex", "LEN HEX" (TKEY, TSIG)
 *   M       an NSEC type bitmap        L     LOC
 *   P       APL items                  h     HIP but its servers
 *   V       SVCB parameters            o     EDNS options */
bool tp_dns_field(struct tp_dns_out *o, char f, const uint8_t *p, size_t left, size_t *used)
{
    size_t k = fixed_size(f);

    *used = left; /* the fields to the end */
    if (k) {
        if (left < k)
            return false;
        fixed(o, f, p, k);
        *used = k;
        return true;
    }
    switch (f) {
    case 'T':
        if (!left)
            return true;
        /* fall through */
    case 'q':
    case 'r':
        for (size_t at = 0; at < left && (f == 'T' || !at); at += 1 + (size_t)p[at]) {
            if (left - at - 1 < p[at])
                return false;
            tp_dns_puts(o, !at || f != 'T' ? f == 'r' ? "" : "\"" : " \"");
            for (size_t i = 1; o && i <= p[at]; i++)
                tp_dns_put_esc(o, p[at + i], TP_ESC_TXT);
            if (f != 'r')
                tp_dns_putc(o, '"');
            *used = at + 1 + p[at];
        }
        return left > 0;
    case 'X':
    case 'x':
        tp_dns_put_hex(o, p, left, f == 'X');
        return true;
    case 'm': /* splitN leaves an empty last chunk at a multiple of 1024 */
        for (size_t i = 0; i < left; i += 512) {
            if (i)
                tp_dns_putc(o, ' ');
            tp_dns_put_hex(o, p + i, left - i < 512 ? left - i : 512, false);
            if (i + 512 == left)
                tp_dns_putc(o, ' ');
        }
        return true;
    case 'B':
        put_b64(o, p, left);
        return true;
    case 'O':
        put_octets(o, p, left);
        return true;
    case 'N':
        put_raw(o, p, left);
        return true;
    case 'S':
    case 'Z':
        if (left < 1 || left - 1 < p[0])
            return false;
        if (f == 'Z')
            put_b32hex(o, p + 1, p[0]);
        else if (p[0])
            tp_dns_put_hex(o, p + 1, p[0], true);
        else
            tp_dns_putc(o, '-');
        *used = 1 + (size_t)p[0];
        return true;
    case 'k':
    case 'K':
        if (left < 2 || left - 2 < (k = getn(p, 2)))
            return false;
        tp_dns_putf(o, "%zu ", k);
        tp_dns_put_hex(o, p + 2, k, f == 'K');
        *used = 2 + k;
        return true;
    case 'M':
        return bitmap(o, p, left);
    case 'P':
        return apl(o, p, left);
    case 'h':
        return hip(o, p, left, used);
    case 'V':
        return svcb(o, p, left);
    case 'o':
        return edns(o, p, left);
    }
    return false;
}
