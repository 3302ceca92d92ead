/* twkit probe: what dnsmsg.c, dnsmsg_text.c and dnsmsg_names.c share, and
 * nothing else uses (dnsmsg.h is the interface). */
#ifndef TW_PROBE_DNSMSG_INT_H
#define TW_PROBE_DNSMSG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool digit(int c) { return c >= '0' && c <= '9'; }

/* k bytes at p, big-endian */
static inline uint32_t getn(const uint8_t *p, size_t k)
{
    uint32_t v = 0;

    while (k--)
        v = v << 8 | *p++;
    return v;
}

/* ---- dnsmsg_names.c ---- */

/* The RDATA form of a type miekg/dns has a record type for, one letter per
 * field (tp_dns_field below, and 'n' and 'R' for names in dnsmsg.c); NULL
 * for a type it renders as RFC 3597 (no name, or a name and no record
 * type: AXFR, NXT). */
const char *tp_dns_form(uint16_t type);


/* miekg's mnemonics for DNSSEC algorithms, DS digest types, CERT types and
 * extended DNS errors (RFC 8914); NULL for a number without one. */
const char *tp_dns_alg_name(uint8_t alg);
const char *tp_dns_hash_name(uint8_t hash);
const char *tp_dns_cert_name(uint16_t type);
const char *tp_dns_ede_name(uint16_t code);

/* ---- dnsmsg_text.c ---- */

/* Text out: counts what it was asked for, keeps what fits in cap bytes
 * with a NUL. A NULL out takes nothing: checking a message walks the same
 * code as rendering it. */
struct tp_dns_out {
    char *p;
    size_t cap, n;
};

void tp_dns_put(struct tp_dns_out *o, const void *s, size_t k);
void tp_dns_putc(struct tp_dns_out *o, char c);
void tp_dns_puts(struct tp_dns_out *o, const char *s);
void tp_dns_putf(struct tp_dns_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* NUL-terminates: the length, or -ENOSPC when it did not fit. */
int tp_dns_finish(struct tp_dns_out *o);

/* How a byte is escaped: in a name, a character-string, an SVCB value, an
 * ALPN id, or not at all (but NUL). */
enum tp_dns_esc { TP_ESC_NAME, TP_ESC_TXT, TP_ESC_PARAM, TP_ESC_ALPN, TP_ESC_RAW };
void tp_dns_put_esc(struct tp_dns_out *o, uint8_t b, enum tp_dns_esc e);
void tp_dns_put_hex(struct tp_dns_out *o, const uint8_t *p, size_t n, bool upper);
void tp_dns_put_type(struct tp_dns_out *o, uint16_t type);

/* One field f of a form holding no name, at p with left bytes of its RDATA
 * from there: checks it as miekg does and renders it to o (without a
 * space before it: the caller's, but for M and V, whose items start with
 * one). False when the bytes are not what miekg takes; else *used is what
 * it took. */
bool tp_dns_field(struct tp_dns_out *o, char f, const uint8_t *p, size_t left, size_t *used);

#endif
