/* twkit probe: DNS names and numbers as miekg/dns v1.1.50 spells them
 * (dnsmsg.h), the library blackbox_exporter 0.23 (and Debian's build of
 * it) is built with: its TypeToString, ClassToString and RcodeToString
 * maps and their reverses StringToType, StringToClass and StringToRcode,
 * which blackbox looks query_type, query_class and valid_rcodes up in.
 * Those are plain maps: "TYPE65" and "CLASS3" are not in them, so a
 * module naming them is refused by blackbox and by tp_dns_*_num alike.
 *
 * Each type also carries the form of its RDATA (dnsmsg.c reads it) when
 * miekg has a record type for it: a few of its names (AXFR, NXT, ISDN...)
 * have none, and records of those render as RFC 3597, as unknown types do.
 */
#include <stdio.h>
#include <string.h>

#include "probe/dnsmsg.h"
#include "probe/dnsmsg_int.h"

struct type_row {
    uint16_t num;
    const char *name, *form;
};

/* By number. The forms' letters: tp_dns_field (dnsmsg_text.c), and n
 * and R (names, dnsmsg.c). */
static const struct type_row types[] = {
    {0, "None", NULL},
    {1, "A", "4"},
    {2, "NS", "n"},
    {3, "MD", "n"},
    {4, "MF", "n"},
    {5, "CNAME", "n"},
    {6, "SOA", "nnlllll"},
    {7, "MB", "n"},
    {8, "MG", "n"},
    {9, "MR", "n"},
    {10, "NULL", ";N"},
    {12, "PTR", "n"},
    {13, "HINFO", "qq"},
    {14, "MINFO", "nn"},
    {15, "MX", "wn"},
    {16, "TXT", "T"},
    {17, "RP", "nn"},
    {18, "AFSDB", "wn"},
    {19, "X25", "r"},
    {20, "ISDN", NULL},
    {21, "RT", "wn"},
    {23, "NSAP-PTR", "n"},
    {24, "SIG", "ybblttwnB"},
    {25, "KEY", "wbbB"},
    {26, "PX", "wnn"},
    {27, "GPOS", "rrr"},
    {28, "AAAA", "6"},
    {29, "LOC", "L"},
    {30, "NXT", NULL},
    {31, "EID", "X"},
    {32, "NIMLOC", "X"},
    {33, "SRV", "wwwn"},
    {34, "ATMA", NULL},
    {35, "NAPTR", "wwqqqn"},
    {36, "KX", "wn"},
    {37, "CERT", "cwaB"},
    {39, "DNAME", "n"},
    {41, "OPT", "o"},
    {42, "APL", "P"},
    {43, "DS", "wbbX"},
    {44, "SSHFP", "bbX"},
    {46, "RRSIG", "ybblttwnB"},
    {47, "NSEC", "nM"},
    {48, "DNSKEY", "wbbB"},
    {49, "DHCID", "B"},
    {50, "NSEC3", "bbwSZM"},
    {51, "NSEC3PARAM", "bbwS"},
    {52, "TLSA", "bbbx"},
    {53, "SMIMEA", "bbbm"},
    {55, "HIP", "hR"},
    {56, "NINFO", "T"},
    {57, "RKEY", "wbbB"},
    {58, "TALINK", "nn"},
    {59, "CDS", "wbbX"},
    {60, "CDNSKEY", "wbbB"},
    {61, "OPENPGPKEY", "B"},
    {62, "CSYNC", "lwM"},
    {63, "ZONEMD", "lbbx"},
    {64, "SVCB", "wnV"},
    {65, "HTTPS", "wnV"},
    {99, "SPF", "T"},
    {100, "UINFO", "q"},
    {101, "UID", "l"},
    {102, "GID", "l"},
    {103, "UNSPEC", NULL},
    {104, "NID", "wi"},
    {105, "L32", "w4"},
    {106, "L64", "wI"},
    {107, "LP", "wn"},
    {108, "EUI48", "e"},
    {109, "EUI64", "E"},
    {249, "TKEY", ";_nttwwkk"},
    {250, "TSIG", "!_ngwKwwk"},
    {251, "IXFR", NULL},
    {252, "AXFR", NULL},
    {253, "MAILB", NULL},
    {254, "MAILA", NULL},
    {255, "ANY", ""},
    {256, "URI", "wwO"},
    {257, "CAA", "brO"},
    {258, "AVC", "T"},
    {32768, "TA", "wbbX"},
    {32769, "DLV", "wbbX"},
    {65535, "Reserved", NULL},
};
#define NTYPES (sizeof types / sizeof types[0])

static const struct type_row *type_row(uint16_t num)
{
    size_t lo = 0, hi = NTYPES;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (types[mid].num == num)
            return &types[mid];
        if (types[mid].num < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *tp_dns_form(uint16_t type)
{
    const struct type_row *r = type_row(type);

    return r ? r->form : NULL;
}

int tp_dns_type_num(const char *name)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (!strcmp(types[i].name, name))
            return types[i].num;
    return -1;
}

const char *tp_dns_type_name(uint16_t type, char *buf)
{
    const struct type_row *r = type_row(type);

    if (r)
        return r->name;
    snprintf(buf, 16, "TYPE%u", type);
    return buf;
}

/* A number and its name, for the short tables. */
struct num_name {
    int num;
    const char *name;
};

static const char *find_name(const struct num_name *t, size_t n, int num)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].num == num)
            return t[i].name;
    return NULL;
}

static int find_num(const struct num_name *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name))
            return t[i].num;
    return -1;
}

#define N(t) (sizeof(t) / sizeof((t)[0]))

static const struct num_name classes[] = {
    {1, "IN"}, {2, "CS"}, {3, "CH"}, {4, "HS"}, {254, "NONE"}, {255, "ANY"},
};

int tp_dns_class_num(const char *name) { return find_num(classes, N(classes), name); }

/* miekg's Class.String(): the mnemonic only when it is not also a type's,
 * so ANY (255) is "CLASS255" in text. */
const char *tp_dns_class_name(uint16_t class, char *buf)
{
    const char *s = find_name(classes, N(classes), class);

    if (s && tp_dns_type_num(s) < 0)
        return s;
    snprintf(buf, 16, "CLASS%u", class);
    return buf;
}

/* RcodeToString has BADSIG for 16 (BADVERS is commented out of it), and
 * StringToRcode adds the old misspelling NOTIMPL. */
static const struct num_name rcodes[] = {
    {0, "NOERROR"},   {1, "FORMERR"},  {2, "SERVFAIL"}, {3, "NXDOMAIN"}, {4, "NOTIMP"},
    {5, "REFUSED"},   {6, "YXDOMAIN"}, {7, "YXRRSET"},  {8, "NXRRSET"},  {9, "NOTAUTH"},
    {10, "NOTZONE"},  {16, "BADSIG"},  {17, "BADKEY"},  {18, "BADTIME"}, {19, "BADMODE"},
    {20, "BADNAME"},  {21, "BADALG"},  {22, "BADTRUNC"}, {23, "BADCOOKIE"},
    {4, "NOTIMPL"},
};

int tp_dns_rcode_num(const char *name) { return find_num(rcodes, N(rcodes), name); }

const char *tp_dns_rcode_name(int rcode, char *buf)
{
    const char *s = find_name(rcodes, N(rcodes), rcode);

    if (s)
        return s;
    snprintf(buf, 16, "RCODE%d", rcode);
    return buf;
}

static const struct num_name algs[] = {
    {1, "RSAMD5"},          {2, "DH"},
    {3, "DSA"},             {5, "RSASHA1"},
    {6, "DSA-NSEC3-SHA1"},  {7, "RSASHA1-NSEC3-SHA1"},
    {8, "RSASHA256"},       {10, "RSASHA512"},
    {12, "ECC-GOST"},       {13, "ECDSAP256SHA256"},
    {14, "ECDSAP384SHA384"}, {15, "ED25519"},
    {16, "ED448"},          {252, "INDIRECT"},
    {253, "PRIVATEDNS"},    {254, "PRIVATEOID"},
};

const char *tp_dns_alg_name(uint8_t alg) { return find_name(algs, N(algs), alg); }

static const struct num_name hashes[] = {
    {1, "SHA1"}, {2, "SHA256"}, {3, "GOST94"}, {4, "SHA384"}, {5, "SHA512"},
};

const char *tp_dns_hash_name(uint8_t hash) { return find_name(hashes, N(hashes), hash); }

static const struct num_name certs[] = {
    {1, "PKIX"}, {2, "SPKI"},   {3, "PGP"},     {4, "IPIX"}, {5, "ISPKI"},
    {6, "IPGP"}, {7, "ACPKIX"}, {8, "IACPKIX"}, {253, "URI"}, {254, "OID"},
};

const char *tp_dns_cert_name(uint16_t type) { return find_name(certs, N(certs), type); }

static const char *const ede[] = {
    "Other",
    "Unsupported DNSKEY Algorithm",
    "Unsupported DS Digest Type",
    "Stale Answer",
    "Forged Answer",
    "DNSSEC Indeterminate",
    "DNSSEC Bogus",
    "Signature Expired",
    "Signature Not Yet Valid",
    "DNSKEY Missing",
    "RRSIGs Missing",
    "No Zone Key Bit Set",
    "NSEC Missing",
    "Cached Error",
    "Not Ready",
    "Blocked",
    "Censored",
    "Filtered",
    "Prohibited",
    "Stale NXDOMAIN Answer",
    "Not Authoritative",
    "Not Supported",
    "No Reachable Authority",
    "Network Error",
    "Invalid Data",
};

const char *tp_dns_ede_name(uint16_t code) { return code < N(ede) ? ede[code] : NULL; }
