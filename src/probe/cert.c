/* What a TLS peer's certificates say, for every kind that speaks TLS (the
 * tls kind's handshake, the tcp kind's tls and starttls, the http kind's
 * https connections through curl), as blackbox_exporter 0.23 reports it:
 * its crypto/tls ConnectionState read by prober/tls.go, and the leaf's
 * names printed by Go's pkix.Name.String().
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "probe/probe.h"
#include "util/prom.h"

static double not_after(const X509 *x)
{
    const ASN1_TIME *at = x ? X509_get0_notAfter(x) : NULL;
    struct tm tm;

    if (!at || !ASN1_TIME_to_tm(at, &tm))
        return 0;
    return (double)timegm(&tm);
}

/* Earliest notAfter over chain (0: none). */
static double earliest(STACK_OF(X509) *chain)
{
    double min = 0;

    for (int i = 0; chain && i < sk_X509_num(chain); i++) {
        double na = not_after(sk_X509_value(chain, i));
        if (na > 0 && (min == 0 || na < min))
            min = na;
    }
    return min;
}

void tp_tls_expiry(struct ssl_st *ssl, struct tp_result *r)
{
    double leaf, min;

    if (!ssl)
        return;
    leaf = not_after(SSL_get0_peer_certificate(ssl));
    /* The client side's chain starts with the leaf; the leaf is counted
     * here as well, so a chain that omits it (a server-side SSL) is fine. */
    min = earliest(SSL_get_peer_cert_chain(ssl));
    r->tls = true;
    r->leaf_expiry = leaf;
    r->cert_expiry = leaf > 0 && (min == 0 || leaf < min) ? leaf : min;
}

/* ---- the leaf's names as Go prints them ---- */

/* Go's encoding/asn1 PrintableString set, as Marshal judges a string
 * (neither '*' nor '&' allowed). */
static bool go_printable(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char b = s[i];
        if (!((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
              (b >= '\'' && b <= ')') || (b >= '+' && b <= '/') || b == ' ' || b == ':' ||
              b == '=' || b == '?'))
            return false;
    }
    return true;
}

static bool is_string_type(int type)
{
    switch (type) {
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_NUMERICSTRING:
    case V_ASN1_IA5STRING:
    case V_ASN1_T61STRING:
    case V_ASN1_UTF8STRING:
    case V_ASN1_BMPSTRING:
        return true;
    default:
        return false;
    }
}

/* The value as the Go string asn1 parses it into: BMPString decoded, the
 * others' bytes as they are. malloc'd into *out; -1 on failure. */
static int go_string(const ASN1_STRING *v, unsigned char **out)
{
    const unsigned char *data = ASN1_STRING_get0_data(v);
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_length(v);

    if (ASN1_STRING_type(v) == V_ASN1_BMPSTRING) {
        if ((n = ASN1_STRING_to_UTF8(&utf8, v)) < 0)
            return -1;
        data = utf8;
    }
    if ((*out = malloc((size_t)n + 1))) {
        memcpy(*out, data, (size_t)n);
        (*out)[n] = '\0';
    }
    OPENSSL_free(utf8);
    return *out ? n : -1;
}

static void der_len(FILE *f, size_t n)
{
    if (n < 128) {
        fprintf(f, "%02x", (unsigned)n);
        return;
    }
    int bytes = 0;
    for (size_t m = n; m; m >>= 8)
        bytes++;
    fprintf(f, "%02x", 0x80u | (unsigned)bytes);
    for (int i = bytes - 1; i >= 0; i--)
        fprintf(f, "%02x", (unsigned)((n >> (8 * i)) & 0xff));
}

/* A type Go has no short name for: "OID=#" and the DER of the value as
 * asn1.Marshal writes it back (a string: PrintableString when its
 * characters allow, else UTF8String; anything else: its own encoding). */
static void nonstd(FILE *f, const X509_NAME_ENTRY *e)
{
    const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
    const unsigned char *data = ASN1_STRING_get0_data(v);
    unsigned char *s = NULL;
    char oid[128];
    int n = ASN1_STRING_length(v), tag = ASN1_STRING_type(v);

    OBJ_obj2txt(oid, sizeof(oid), X509_NAME_ENTRY_get_object(e), 1);
    fprintf(f, "%s=#", oid);
    if (is_string_type(tag) && (n = go_string(v, &s)) >= 0) {
        tag = go_printable(s, (size_t)n) ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;
        data = s;
    }
    fprintf(f, "%02x", (unsigned)tag & 0x1f);
    der_len(f, n < 0 ? 0 : (size_t)n);
    for (int i = 0; i < n; i++)
        fprintf(f, "%02x", data[i]);
    free(s);
}

/* RFC 2253's escapes as Go's RDNSequence.String applies them. */
static void escaped_value(FILE *f, const unsigned char *s, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        unsigned char c = s[k];
        bool esc = strchr(",+\"\\<>;", c) && c;
        if (c == ' ')
            esc = k == 0 || k == n - 1;
        if (c == '#')
            esc = k == 0;
        if (esc)
            fputc('\\', f);
        fputc(c, f);
    }
}

/* The attributes Go parses into named fields, in the order its
 * Name.ToRDNSequence puts them (printed last to first). */
static const struct {
    int nid;
    const char *name;
    bool single; /* CommonName, SerialNumber: the last one written wins */
} go_named[] = {
    {NID_countryName, "C", false},         {NID_stateOrProvinceName, "ST", false},
    {NID_localityName, "L", false},        {NID_streetAddress, "STREET", false},
    {NID_postalCode, "POSTALCODE", false}, {NID_organizationName, "O", false},
    {NID_organizationalUnitName, "OU", false}, {NID_commonName, "CN", true},
    {NID_serialNumber, "SERIALNUMBER", true},
};
#define NGO (sizeof(go_named) / sizeof(go_named[0]))

static int named_index(int nid)
{
    for (size_t i = 0; i < NGO; i++)
        if (go_named[i].nid == nid)
            return (int)i;
    return -1;
}

/* One RDN of the named fields: every value of type i joined with '+'
 * (one value for CN and SERIALNUMBER). Returns whether it wrote one. */
static bool named_rdn(FILE *f, const X509_NAME *nm, size_t i, bool first)
{
    int count = X509_NAME_entry_count(nm), last = -1, n = 0;

    for (int j = 0; j < count; j++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(nm, j);
        if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) == go_named[i].nid &&
            is_string_type(ASN1_STRING_type(X509_NAME_ENTRY_get_data(e))))
            last = j;
    }
    if (last < 0)
        return false;
    for (int j = go_named[i].single ? last : 0; j < count; j++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(nm, j);
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
        unsigned char *s;
        int len;
        if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) != go_named[i].nid ||
            !is_string_type(ASN1_STRING_type(v)) || (len = go_string(v, &s)) < 0)
            continue;
        if (go_named[i].single && len == 0) { /* Go keeps no empty CN */
            free(s);
            return false;
        }
        fputs(n++ ? "+" : first ? "" : ",", f);
        fprintf(f, "%s=", go_named[i].name);
        escaped_value(f, s, (size_t)len);
        free(s);
        if (go_named[i].single)
            break;
    }
    return n > 0;
}

/* Go's pkix.Name.String() of nm: the named fields in reverse of
 * ToRDNSequence's order, then the other attributes, last written first. */
static void go_name(FILE *f, const X509_NAME *nm)
{
    bool first = true;

    for (size_t i = NGO; i-- > 0;)
        if (named_rdn(f, nm, i, first))
            first = false;
    for (int j = X509_NAME_entry_count(nm) - 1; j >= 0; j--) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(nm, j);
        if (named_index(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e))) >= 0)
            continue;
        if (!first)
            fputc(',', f);
        first = false;
        nonstd(f, e);
    }
}

/* The SAN's dNSName entries, joined with ',' (Go's DNSNames). */
static void dns_names(FILE *f, X509 *x)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int n = 0;

    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS)
            continue;
        if (n++)
            fputc(',', f);
        fwrite(ASN1_STRING_get0_data(g->d.dNSName), 1,
               (size_t)ASN1_STRING_length(g->d.dNSName), f);
    }
    GENERAL_NAMES_free(gens);
}

/* fingerprint\0subject\0issuer\0sans\0, malloc'd; NULL without a leaf or
 * memory. */
static char *leaf_info(X509 *x)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    if (!x || !X509_digest(x, EVP_sha256(), md, &mdlen) || !(f = open_memstream(&buf, &len)))
        return NULL;
    for (unsigned i = 0; i < mdlen; i++)
        fprintf(f, "%02x", md[i]);
    fputc('\0', f);
    go_name(f, X509_get_subject_name(x));
    fputc('\0', f);
    go_name(f, X509_get_issuer_name(x));
    fputc('\0', f);
    dns_names(f, x);
    fputc('\0', f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

const char *tp_leaf_info(const struct tp_result *r, unsigned i)
{
    const char *s = r->leaf_info;

    if (!s)
        return "";
    while (i--)
        s += strlen(s) + 1;
    return s;
}

char *tp_leaf_dup(const char *info)
{
    const char *end = info;
    char *copy;

    if (!info)
        return NULL;
    for (int i = 0; i < 4; i++)
        end += strlen(end) + 1;
    if ((copy = malloc((size_t)(end - info))))
        memcpy(copy, info, (size_t)(end - info));
    return copy;
}

/* ---- a handshake's report ---- */

static const char *tls_version(const SSL *ssl)
{
    switch (SSL_version(ssl)) {
    case TLS1_VERSION:
        return "TLS 1.0";
    case TLS1_1_VERSION:
        return "TLS 1.1";
    case TLS1_2_VERSION:
        return "TLS 1.2";
    case TLS1_3_VERSION:
        return "TLS 1.3";
    default:
        return "unknown";
    }
}

void tp_tls_certs(struct ssl_st *ssl, bool verified, struct tp_result *r)
{
    if (!ssl)
        return;
    tp_tls_expiry(ssl, r);
    r->tls_version = tls_version(ssl);
    /* Go takes the latest of the earliest expiries of every chain it
     * verified; OpenSSL builds one chain. Without verification Go has no
     * chain, and blackbox reports the zero time. */
    r->last_chain_expiry = TP_GO_ZERO_TIME;
    if (verified) {
        double min = earliest(SSL_get0_verified_chain(ssl));
        if (min > 0)
            r->last_chain_expiry = min;
    }
    free(r->leaf_info);
    r->leaf_info = leaf_info(SSL_get0_peer_certificate(ssl));
}

void tp_tls_report_copy(struct tp_result *to, const struct tp_result *from)
{
    free(to->leaf_info);
    to->tls = from->tls;
    to->cert_expiry = from->cert_expiry;
    to->leaf_expiry = from->leaf_expiry;
    to->verify = from->verify;
    to->last_chain_expiry = from->last_chain_expiry;
    to->tls_version = from->tls_version;
    to->leaf_info = tp_leaf_dup(from->leaf_info);
}

void tp_tls_forget(struct tp_result *r)
{
    r->tls = false;
    r->cert_expiry = r->leaf_expiry = r->last_chain_expiry = 0;
    r->tls_version = NULL;
    free(r->leaf_info);
    r->leaf_info = NULL;
}

/* ---- metric rows ---- */

void tp_m_ssl_earliest(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last && t->last.tls)
        tu_prom_sample(p, l, "%.0f", t->last.cert_expiry);
}

void tp_m_ssl_last_chain_expiry(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last && t->last.tls)
        tu_prom_sample(p, l, "%.0f", t->last.last_chain_expiry);
}

/* Labels in the order blackbox prints them (the client library sorts). */
void tp_m_ssl_last_chain_info(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (!t->have_last || !t->last.tls || !t->last.leaf_info)
        return;
    tu_prom_begin(p, NULL);
    tu_prom_labels(p, l);
    tu_prom_label(p, "fingerprint_sha256", tp_leaf_info(&t->last, 0));
    tu_prom_label(p, "issuer", tp_leaf_info(&t->last, 2));
    tu_prom_label(p, "subject", tp_leaf_info(&t->last, 1));
    tu_prom_label(p, "subjectalternative", tp_leaf_info(&t->last, 3));
    tu_prom_value(p, "1");
}

void tp_m_tls_version(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (!t->have_last || !t->last.tls || !t->last.tls_version)
        return;
    tu_prom_begin(p, NULL);
    tu_prom_labels(p, l);
    tu_prom_label(p, "version", t->last.tls_version);
    tu_prom_value(p, "1");
}

const char *const tp_handshake_names[TP_NHS] = {"", "full", "resumed",
                                                "full_after_refused_resumption"};

void tp_m_tls_handshake(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    enum tp_handshake hs = t->have_last ? t->last.handshake : TP_HS_NONE;

    if (hs <= TP_HS_NONE || hs >= TP_NHS)
        return;
    tu_prom_begin(p, NULL);
    tu_prom_labels(p, l);
    tu_prom_label(p, "handshake", tp_handshake_names[hs]);
    tu_prom_value(p, "1");
}
