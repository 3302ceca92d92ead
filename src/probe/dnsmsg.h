/* twkit probe: DNS messages (RFC 1035), as the dns kind builds its query
 * and reads the answer. Allocation-free: a parsed message is offsets into
 * the caller's buffer, checked once by tp_dns_parse so that walking and
 * rendering it can never read outside it.
 *
 * Records render as blackbox_exporter's dns prober shows them to its
 * regexes (the Go library miekg/dns, RR.String()): "NAME\tTTL\tCLASS\tTYPE\tRDATA",
 * names fully qualified with their trailing dot and escaped as it
 * escapes them, RDATA in zone-file form, unknown types as RFC 3597's
 * "\# LEN HEX".
 *
 * Every type miekg v1.1.50 has a record type for renders in its own form:
 * A NS MD MF CNAME SOA MB MG MR NULL PTR HINFO MINFO MX TXT RP AFSDB X25
 * RT NSAP-PTR SIG KEY PX GPOS AAAA LOC EID NIMLOC SRV NAPTR KX CERT DNAME
 * OPT APL DS SSHFP RRSIG NSEC DNSKEY DHCID NSEC3 NSEC3PARAM TLSA SMIMEA
 * HIP NINFO RKEY TALINK CDS CDNSKEY OPENPGPKEY CSYNC ZONEMD SVCB HTTPS
 * SPF UINFO UID GID NID L32 L64 LP EUI48 EUI64 TKEY TSIG ANY URI CAA AVC
 * TA DLV; every other type (None, ISDN, NXT, ATMA, UNSPEC, IXFR, AXFR,
 * MAILB, MAILA, Reserved and the numbers without a name) as RFC 3597,
 * "CLASS1\tTYPE65280\t\# 2 abcd" (numbers for class and type, as miekg).
 * Checked against blackbox 0.23 itself (tests/fuzz/make_dnsmsg_corpus.py
 * --blackbox). Where the text differs: a NUL byte that miekg copies raw
 * into text (NULL's data, the NSID, EDE and ESU options) shows as "\000".
 * Where the parse differs, miekg being laxer: it takes RDATA cut short at
 * a field boundary or empty for any type (the rest zero), pointers
 * forwards, into the header or to what is not a label, more than one OPT
 * record (it reads the last) and bytes after the last record, all
 * refused here; a reply with a TSIG record fails blackbox's probe (miekg
 * verifies it, with no key), which parses here.
 */
#ifndef TW_PROBE_DNSMSG_H
#define TW_PROBE_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_DNS_HDR 12
#define TP_DNS_MAX_NAME 1025      /* the longest rendered name, escapes
                                     (\DDD) included, with its NUL */
#define TP_DNS_MAX_UDP 65535

/* Sections, in message order. */
enum tp_dns_section { TP_DNS_QD, TP_DNS_AN, TP_DNS_NS, TP_DNS_AR, TP_DNS_NSECT };

/* header flag bits (the second 16-bit word) */
#define TP_DNS_F_QR 0x8000u
#define TP_DNS_F_AA 0x0400u
#define TP_DNS_F_TC 0x0200u
#define TP_DNS_F_RD 0x0100u
#define TP_DNS_F_RA 0x0080u

struct tp_dns_msg {
    const uint8_t *buf;
    size_t len;
    uint16_t id, flags;          /* flags as sent; rcode is its low 4 bits */
    uint16_t count[TP_DNS_NSECT];
    size_t start[TP_DNS_NSECT];  /* offset of each section's first entry */
    int rcode;                   /* with an OPT record's extended bits
                                    (RFC 6891): 0..4095 */
    bool edns;                   /* an OPT record was in the additional
                                    section */
};

/* One record (or, in TP_DNS_QD, one question: ttl, rdata and rdlen 0;
 * rdata 0 is what marks a question). Offsets into the message's buffer. */
struct tp_dns_rr {
    size_t name;                 /* offset of its (maybe compressed) name */
    uint16_t type, class;
    uint32_t ttl;
    size_t rdata;                /* offset of the RDATA */
    uint16_t rdlen;
};

/* Check the whole of len bytes at buf as a DNS message: header, every
 * name (labels ≤ 63, names ≤ 255 bytes, compression pointers only to a
 * label of a name before, so backwards and loop-free, at most 126), every
 * record inside the buffer, the RDATA of every type miekg knows exactly
 * filled by its fields (A 4, AAAA 16, names inside their RDATA for
 * CNAME/NS/PTR/MX/SOA/SRV..., TXT strings, NSEC bitmaps, SVCB parameters
 * and EDNS options as miekg checks them), one OPT record at most in the
 * additional section. Trailing bytes after the last record are refused
 * too. Returns 0 with *m filled, or -EBADMSG (also for len < 12; *m is
 * then zero). buf must outlive m. */
int tp_dns_parse(struct tp_dns_msg *m, const uint8_t *buf, size_t len);

/* Entry i (0-based, < m->count[s]) of section s of a parsed message.
 * Sections are walked from their start: O(i) per call; iterate with
 * tp_dns_next instead. */
struct tp_dns_iter {
    const struct tp_dns_msg *m;
    enum tp_dns_section s;
    uint16_t i;
    size_t off;
};
void tp_dns_iter_init(struct tp_dns_iter *it, const struct tp_dns_msg *m,
                      enum tp_dns_section s);
/* The next entry of the section: true with *rr filled, false at its end. */
bool tp_dns_next(struct tp_dns_iter *it, struct tp_dns_rr *rr);

/* rr as blackbox shows it (miekg/dns RR.String()), NUL-terminated in
 * buf. Returns its length, or -ENOSPC when it does not fit in len bytes
 * (buf then holds a truncated, NUL-terminated prefix). An OPT record
 * renders as miekg renders it (its ";; OPT PSEUDOSECTION:" text, no owner,
 * TTL or class); a question as miekg's Question.String(), ";name.\tIN\t A".
 * -EBADMSG for an rr that is not one of m's (never for what tp_dns_next
 * gave). */
int tp_dns_rr_text(const struct tp_dns_msg *m, const struct tp_dns_rr *rr, char *buf,
                   size_t len);
/* The name at offset off of a parsed message, rendered as in a record
 * ("www.example.com.", "." for the root). Returns its length or -ENOSPC;
 * -EBADMSG when the bytes at off do not read as a name (never for a
 * record's name; an offset that is no name's may still read as one). */
int tp_dns_name_text(const struct tp_dns_msg *m, size_t off, char *buf, size_t len);

/* A query into buf (len bytes): id, one question (name as written, with
 * or without its trailing dot, miekg's escapes \. and \DDD understood;
 * type, class), RD when rd, and an OPT record with UDP payload size
 * edns_size when edns_size > 0 (DO bit clear). Returns its length, or
 * -EINVAL for a name that is not a DNS name (an empty label, a label
 * over 63 bytes, over 255 bytes in all, a lone "\" at the end, a "\DDD"
 * over 255, which miekg would wrap), or -ENOSPC. "" and "." are the root. */
int tp_dns_query(uint8_t *buf, size_t len, uint16_t id, const char *name, uint16_t type,
                 uint16_t class, bool rd, uint16_t edns_size);

/* Names and numbers as miekg/dns spells them (its StringToType,
 * StringToClass, StringToRcode, upper case): the number, or -1 when name is
 * not one. Types: every type miekg names (its TypeToString: "A", "None",
 * "NSAP-PTR", "Reserved"...), not "TYPE123"; classes: IN, CS, CH, HS,
 * NONE, ANY, not "CLASS123" (blackbox looks query_type and query_class up
 * in those plain maps, so it refuses "TYPE123" too); rcodes: NOERROR,
 * FORMERR, SERVFAIL, NXDOMAIN, NOTIMP (and miekg's old NOTIMPL), REFUSED,
 * YXDOMAIN, YXRRSET, NXRRSET, NOTAUTH, NOTZONE, BADSIG (16; BADVERS is not
 * in miekg's map), BADKEY, BADTIME, BADMODE, BADNAME, BADALG, BADTRUNC,
 * BADCOOKIE. Matching is case-sensitive as miekg's maps are. */
int tp_dns_type_num(const char *name);
int tp_dns_class_num(const char *name);
int tp_dns_rcode_num(const char *name);
/* The other way: "A", "TYPE65280"; "IN", "CLASS7" (and "CLASS255" for
 * ANY, as miekg's Class.String(): ANY is a type's name too); "NOERROR",
 * "BADSIG" for 16, "RCODE24" (buf: at least 16 bytes, used only for
 * numbers without a name). */
const char *tp_dns_type_name(uint16_t type, char *buf);
const char *tp_dns_class_name(uint16_t class, char *buf);
const char *tp_dns_rcode_name(int rcode, char *buf);

#endif
