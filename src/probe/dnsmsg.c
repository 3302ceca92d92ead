/* twkit probe: DNS messages (dnsmsg.h): one check of the whole message,
 * then walking and rendering it from offsets into the caller's buffer.
 *
 * The text is miekg/dns v1.1.50's RR.String() (what blackbox_exporter 0.23
 * matches its regexes against), learnt from its types.go, msg.go and
 * msg_helpers.go; the RDATA fields that hold no name are dnsmsg_text.c's,
 * the types' forms dnsmsg_names.c's. What decides the text here:
 *   - miekg escapes a name as it unpacks it and String() decodes and
 *     escapes it again, which gives back the same text: a byte is "\X" for
 *     . space ' @ ; ( ) " \, "\DDD" outside 0x20-0x7e, itself otherwise;
 *   - an RR of a type with no record type in miekg shows as RFC 3597 with
 *     numbers for class and type too: "name.\t60\tCLASS1\tTYPE65280\t\# 2 abcd";
 *   - OPT shows no header at all, only its ";; OPT PSEUDOSECTION:" lines;
 *     class ANY shows as CLASS255 (ANY is a type's name too).
 * The check and the rendering walk a record's RDATA through the same code
 * (its type's form), so what was checked is what is read. Where the check
 * is stricter than miekg's unpacking (dnsmsg.h lists it): RDATA cut short
 * at a field boundary, or empty (miekg's dynamic update, for any type),
 * pointers that do not go back to a name already read, and trailing bytes
 * are refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "probe/dnsmsg.h"
#include "probe/dnsmsg_int.h"

#define T_OPT 41
#define MAX_PTRS 126    /* miekg's maxCompressionPointers */
#define PTR_SPAN 16384  /* what a pointer's 14 bits reach */
#define MAX_WIRE 254    /* a name's labels with their length bytes, the
                           root byte aside: 255 in all (RFC 1035 2.3.4) */

/* ---- names ---- */

/* The name at off, into o ("." for the root). False when off is not a name
 * inside buf, which never happens for the offsets tp_dns_parse checked,
 * and bounded however buf looks: every pointer goes back from where it
 * is, at most 126 of them, at most 254 bytes of labels. */
static bool put_name(struct tp_dns_out *o, const uint8_t *buf, size_t len, size_t pos)
{
    int hops = 0, wire = 0;

    for (;;) {
        uint8_t c;

        if (pos >= len)
            return false;
        c = buf[pos];
        if (!c)
            break;
        if ((c & 0xC0) == 0xC0) {
            size_t t;

            if (pos + 1 >= len)
                return false;
            t = (size_t)(c & 0x3F) << 8 | buf[pos + 1];
            if (t >= pos || ++hops > MAX_PTRS)
                return false;
            pos = t;
            continue;
        }
        wire += c + 1;
        if ((c & 0xC0) || wire > MAX_WIRE || pos + 1 + c > len)
            return false;
        for (size_t i = 1; i <= c; i++)
            tp_dns_put_esc(o, buf[pos + i], TP_ESC_NAME);
        tp_dns_putc(o, '.');
        pos += 1 + c;
    }
    if (!wire)
        tp_dns_putc(o, '.');
    return true;
}

/* Where the name at off ends in place (after its root byte or its first
 * pointer), or 0 when that is not before end. */
static size_t skip_name(const uint8_t *buf, size_t end, size_t off)
{
    while (off < end) {
        uint8_t c = buf[off];

        if (!c)
            return off + 1;
        if ((c & 0xC0) == 0xC0)
            return off + 2 <= end ? off + 2 : 0;
        if (c & 0xC0)
            return 0;
        off += 1 + (size_t)c;
    }
    return 0;
}

/* tp_dns_parse's state: the places a compression pointer may go to. */
struct pctx {
    const uint8_t *buf;
    size_t len;
    uint64_t starts[PTR_SPAN / 64];
};

static bool is_start(const struct pctx *c, size_t off)
{
    return off < PTR_SPAN && (c->starts[off / 64] >> (off % 64) & 1);
}

/* Checks the name at off, whose bytes in place end before limit (the end
 * of the RDATA that holds it); *next is where it ends in place. A pointer
 * must go to a label (or the pointer or root byte ending one) of a name
 * checked before this one: so always backwards, never into the name itself
 * and never round a loop, by construction. This name's places are marked
 * for the names after it. */
static bool check_name(struct pctx *c, size_t off, size_t limit, size_t *next)
{
    size_t lit[MAX_WIRE / 2 + 2], nlit = 0, pos = off;
    int hops = 0, wire = 0;
    bool jumped = false;

    for (;;) {
        uint8_t b;

        if (pos >= limit)
            return false;
        b = c->buf[pos];
        if (!jumped)
            lit[nlit++] = pos;
        if (!b) {
            if (!jumped)
                *next = pos + 1;
            break;
        }
        if ((b & 0xC0) == 0xC0) {
            size_t t;

            if (pos + 1 >= limit)
                return false;
            t = (size_t)(b & 0x3F) << 8 | c->buf[pos + 1];
            if (!is_start(c, t) || ++hops > MAX_PTRS)
                return false;
            if (!jumped)
                *next = pos + 2;
            jumped = true;
            limit = c->len;
            pos = t;
            continue;
        }
        wire += b + 1;
        if ((b & 0xC0) || wire > MAX_WIRE || pos + 1 + b > limit)
            return false;
        pos += 1 + b;
    }
    for (size_t i = 0; i < nlit; i++)
        if (lit[i] < PTR_SPAN)
            c->starts[lit[i] / 64] |= (uint64_t)1 << (lit[i] % 64);
    return true;
}

/* ---- RDATA ---- */

/* One RDATA, checked (chk set, o NULL: tp_dns_parse) or rendered (o set)
 * by the same walk of its type's form. */
struct rd {
    const uint8_t *buf;
    size_t len;       /* the message */
    size_t pos, end;  /* what is left of the RDATA */
    struct pctx *chk;
    struct tp_dns_out *o;
    int nf;           /* fields written: a space goes before the next */
};

static void sep(struct rd *r)
{
    if (r->nf++)
        tp_dns_putc(r->o, ' ');
}

static bool name_field(struct rd *r)
{
    size_t next;

    if (r->chk)
        return check_name(r->chk, r->pos, r->end, &r->pos);
    sep(r);
    next = skip_name(r->buf, r->end, r->pos);
    if (!next || !put_name(r->o, r->buf, r->len, r->pos))
        return false;
    r->pos = next;
    return true;
}

/* One field of a form: n a name, R names to the end (HIP's servers), the
 * others tp_dns_field's. */
static bool rd_field(struct rd *r, char f)
{
    size_t used;

    if (f == 'n')
        return name_field(r);
    if (f == 'R') {
        while (r->pos < r->end)
            if (!name_field(r))
                return false;
        return true;
    }
    if (f != 'M' && f != 'V')
        sep(r);
    if (!tp_dns_field(r->o, f, r->buf + r->pos, r->end - r->pos, &used))
        return false;
    r->pos += used;
    return true;
}

/* The form's fields after its flags (";", "!", "_"). */
static const char *form_fields(const char *form)
{
    while (*form && strchr(";!_", *form))
        form++;
    return form;
}

/* ---- parsing ---- */

static bool check_rdata(struct pctx *c, uint16_t type, size_t off, size_t n)
{
    const char *form = tp_dns_form(type);
    struct rd r = {c->buf, c->len, off, off + n, c, NULL, 0};

    if (!form)
        return true; /* RFC 3597: any bytes */
    for (form = form_fields(form); *form; form++)
        if (!rd_field(&r, *form))
            return false;
    return r.pos == r.end;
}

int tp_dns_parse(struct tp_dns_msg *m, const uint8_t *buf, size_t len)
{
    struct pctx c;
    size_t off = TP_DNS_HDR;
    uint32_t opt_ttl = 0;
    int opts = 0;

    memset(m, 0, sizeof *m);
    if (!buf || len < TP_DNS_HDR || len > TP_DNS_MAX_UDP)
        return -EBADMSG;
    c.buf = buf;
    c.len = len;
    memset(c.starts, 0, sizeof c.starts);
    for (int s = 0; s < TP_DNS_NSECT; s++) {
        uint16_t count = (uint16_t)getn(buf + 4 + 2 * s, 2);

        m->start[s] = off;
        m->count[s] = count;
        for (unsigned i = 0; i < count; i++) {
            uint16_t type, rdlen;

            if (!check_name(&c, off, len, &off))
                goto bad;
            if (s == TP_DNS_QD) {
                if (len - off < 4)
                    goto bad;
                off += 4;
                continue;
            }
            if (len - off < 10)
                goto bad;
            type = (uint16_t)getn(buf + off, 2);
            rdlen = (uint16_t)getn(buf + off + 8, 2);
            if (len - off - 10 < rdlen || !check_rdata(&c, type, off + 10, rdlen))
                goto bad;
            /* RFC 6891 6.1.1: one OPT at most, in the additional section */
            if (type == T_OPT && s == TP_DNS_AR) {
                if (opts++)
                    goto bad;
                opt_ttl = getn(buf + off + 4, 4);
            }
            off += 10 + (size_t)rdlen;
        }
    }
    if (off != len)
        goto bad;
    m->buf = buf;
    m->len = len;
    m->id = (uint16_t)getn(buf, 2);
    m->flags = (uint16_t)getn(buf + 2, 2);
    m->rcode = (int)(m->flags & 0xF) | (int)(opt_ttl >> 24) << 4;
    m->edns = opts > 0;
    return 0;
bad:
    memset(m, 0, sizeof *m);
    return -EBADMSG;
}

void tp_dns_iter_init(struct tp_dns_iter *it, const struct tp_dns_msg *m,
                      enum tp_dns_section s)
{
    it->m = m;
    it->s = s;
    it->i = 0;
    it->off = (unsigned)s < TP_DNS_NSECT ? m->start[s] : 0;
}

bool tp_dns_next(struct tp_dns_iter *it, struct tp_dns_rr *rr)
{
    const struct tp_dns_msg *m = it->m;
    size_t off;

    if ((unsigned)it->s >= TP_DNS_NSECT || it->i >= m->count[it->s] ||
        !(off = skip_name(m->buf, m->len, it->off)))
        return false;
    memset(rr, 0, sizeof *rr);
    rr->name = it->off;
    if (m->len - off < (it->s == TP_DNS_QD ? 4u : 10u))
        return false;
    rr->type = (uint16_t)getn(m->buf + off, 2);
    rr->class = (uint16_t)getn(m->buf + off + 2, 2);
    if (it->s == TP_DNS_QD) {
        it->off = off + 4;
    } else {
        rr->ttl = getn(m->buf + off + 4, 4);
        rr->rdlen = (uint16_t)getn(m->buf + off + 8, 2);
        rr->rdata = off + 10;
        if (m->len - rr->rdata < rr->rdlen)
            return false;
        it->off = rr->rdata + rr->rdlen;
    }
    it->i++;
    return true;
}

/* ---- rendering ---- */

static int bad_text(char *buf, size_t len)
{
    if (len)
        buf[0] = '\0';
    return -EBADMSG;
}

int tp_dns_rr_text(const struct tp_dns_msg *m, const struct tp_dns_rr *rr, char *buf,
                   size_t len)
{
    struct tp_dns_out o = {buf, len, 0};
    struct rd r = {m->buf, m->len, rr->rdata, rr->rdata + rr->rdlen, NULL, &o, 0};
    const char *form = tp_dns_form(rr->type);
    char cb[16];

    if (!rr->rdata) { /* a question, as miekg's Question.String() */
        tp_dns_putc(&o, ';');
        if (!put_name(&o, m->buf, m->len, rr->name))
            return bad_text(buf, len);
        tp_dns_putf(&o, "\t%s\t ", tp_dns_class_name(rr->class, cb));
        tp_dns_put_type(&o, rr->type);
        return tp_dns_finish(&o);
    }
    if (rr->rdata > m->len || m->len - rr->rdata < rr->rdlen)
        return bad_text(buf, len);
    if (rr->type == T_OPT) { /* no header: the UDP size is its class */
        tp_dns_putf(&o, "\n;; OPT PSEUDOSECTION:\n; EDNS: version %u; flags: %sudp: %u",
                    rr->ttl >> 16 & 0xFF, rr->ttl & 0x8000 ? "do; " : "; ", rr->class);
    } else {
        if (form && *form == ';')
            tp_dns_putc(&o, ';');
        if (form && strchr(form, '!'))
            tp_dns_puts(&o, "\n;; TSIG PSEUDOSECTION:\n; ");
        if (!put_name(&o, m->buf, m->len, rr->name))
            return bad_text(buf, len);
        if (!form) { /* RFC 3597, with numbers for class and type */
            tp_dns_putf(&o, "\t%" PRIu32 "\tCLASS%u\tTYPE%u\t\\# %u ", rr->ttl, rr->class,
                        rr->type, rr->rdlen);
            tp_dns_put_hex(&o, m->buf + rr->rdata, rr->rdlen, false);
            return tp_dns_finish(&o);
        }
        tp_dns_putf(&o, "\t%" PRIu32 "\t%s\t", rr->ttl, tp_dns_class_name(rr->class, cb));
        tp_dns_put_type(&o, rr->type);
        tp_dns_putc(&o, '\t');
        if (strchr(form, '_'))
            r.nf = 1;
    }
    for (form = form_fields(form); *form; form++)
        if (!rd_field(&r, *form))
            return bad_text(buf, len);
    if (r.pos != r.end)
        return bad_text(buf, len);
    return tp_dns_finish(&o);
}

int tp_dns_name_text(const struct tp_dns_msg *m, size_t off, char *buf, size_t len)
{
    struct tp_dns_out o = {buf, len, 0};

    if (!put_name(&o, m->buf, m->len, off))
        return bad_text(buf, len);
    return tp_dns_finish(&o);
}

/* ---- queries ---- */

/* name in wire form into w (258 bytes), as miekg packs Fqdn(name): "\."
 * a dot inside a label, "\DDD" a byte (refused over 255, which miekg
 * wraps), "\X" X. Returns its length or -EINVAL. */
static int encode_name(const char *s, uint8_t *w)
{
    size_t n = 1, lab = 0;
    unsigned cur = 0;

    if (!*s || !strcmp(s, ".")) {
        w[0] = 0;
        return 1;
    }
    while (*s) {
        unsigned b = (unsigned char)*s;

        if (b == '.') {
            if (!cur || n >= 256)
                return -EINVAL; /* empty label: a leading dot, ".." */
            w[lab] = (uint8_t)cur;
            cur = 0;
            lab = n++;
            s++;
            continue;
        }
        if (b == '\\') {
            if (digit(s[1]) && digit(s[2]) && digit(s[3])) {
                b = (unsigned)(s[1] - '0') * 100 + (unsigned)(s[2] - '0') * 10 +
                    (unsigned)(s[3] - '0');
                s += 4;
            } else if (s[1]) {
                b = (unsigned char)s[1];
                s += 2;
            } else {
                return -EINVAL;
            }
            if (b > 255)
                return -EINVAL;
        } else {
            s++;
        }
        if (++cur > 63 || n >= 256)
            return -EINVAL;
        w[n++] = (uint8_t)b;
    }
    if (cur) {
        w[lab] = (uint8_t)cur;
        lab = n++;
    }
    w[lab] = 0;
    return n > 255 ? -EINVAL : (int)n;
}

static uint8_t *put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

int tp_dns_query(uint8_t *buf, size_t len, uint16_t id, const char *name, uint16_t type,
                 uint16_t class, bool rd, uint16_t edns_size)
{
    uint8_t w[258], *p = buf;
    int n = encode_name(name, w);
    size_t need;

    if (n < 0)
        return n;
    need = TP_DNS_HDR + (size_t)n + 4 + (edns_size ? 11 : 0);
    if (len < need)
        return -ENOSPC;
    p = put16(p, id);
    p = put16(p, rd ? TP_DNS_F_RD : 0);
    p = put16(p, 1);
    p = put16(p, 0);
    p = put16(p, 0);
    p = put16(p, edns_size ? 1 : 0);
    memcpy(p, w, (size_t)n);
    p = put16(p + n, type);
    p = put16(p, class);
    if (edns_size) { /* OPT: root name, class = UDP size, TTL 0 (DO clear) */
        *p++ = 0;
        p = put16(p, T_OPT);
        p = put16(p, edns_size);
        memset(p, 0, 6);
    }
    return (int)need;
}
