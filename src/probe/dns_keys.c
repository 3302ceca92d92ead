/* The dns kind's config keys (kind_dns.h, struct tp_dns_opts):
 * blackbox_exporter 0.23's dns prober keys under its names, with its
 * defaults (query_type ANY, query_class IN, recursion_desired true,
 * transport_protocol udp, valid_rcodes [NOERROR]), and twkit's own two,
 * edns0_buffer_size and tcp_fallback.
 *
 * What blackbox finds wrong only when it probes (a query_type it does not
 * know, an rcode name it does not know, dns_over_tls over udp, a bad
 * query_name) fails every probe of the module there; here it is a mistake
 * in the config, said once, where it was written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "probe/dnsmsg.h"
#include "probe/kind_dns.h"

static struct tp_dns_opts *opts(struct tp_def *def) { return def->opts; }

const char *const tp_dns_check_names[TP_RR_NCHECK] = {
    "fail_if_matches_regexp", "fail_if_all_match_regexp", "fail_if_not_matches_regexp",
    "fail_if_none_matches_regexp"};

int tp_dns_build_query(const struct tp_dns_opts *o, uint8_t *buf, size_t len)
{
    return tp_dns_query(buf, len, 0, o->qname, o->qtype, o->qclass, o->rd, o->edns);
}

/* ---- the question ---- */

static bool check_qname(struct tp_cfgctx *c, const struct tp_arg *a)
{
    uint8_t q[TP_DNS_HDR + 300];
    struct tp_quoted qq;
    struct tp_dns_opts o = {.qname = (char *)a->s, .qtype = 1, .qclass = 1};

    if (!a->s[0] || tp_dns_build_query(&o, q, sizeof(q)) < 0) {
        tp_cfg_err(c, &a->v->at,
                   "bad query_name %s: expected a DNS name (labels of 1 to 63 bytes, 255 "
                   "in all)", tp_qs(&qq, a->s));
        return false;
    }
    return true;
}

static bool set_qname(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    return (opts(def)->qname = tp_cfg_dup(c, a->s)) != NULL;
}

static void free_qname(struct tp_def *def)
{
    free(opts(def)->qname);
    opts(def)->qname = NULL;
}

/* blackbox: "query name must be set for DNS module" */
static bool need_qname(struct tp_cfgctx *c, struct tp_def *def)
{
    struct tp_pos at = {def->line, def->col};

    tp_cfg_err(c, &at, "a dns probe needs query_name (the name to ask the server about)");
    return false;
}

static bool check_qtype(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;

    if (tp_dns_type_num(a->s) < 0) {
        tp_cfg_err(c, &a->v->at, "unknown query_type %s (expected a record type in capitals: "
                                 "A, AAAA, MX, TXT, SOA, ANY...)", tp_qs(&q, a->s));
        return false;
    }
    return true;
}

static bool set_qtype(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    opts(def)->qtype = (uint16_t)tp_dns_type_num(a->s);
    return true;
}

static bool default_qtype(struct tp_cfgctx *c, struct tp_def *def)
{
    opts(def)->qtype = 255; /* ANY, blackbox's default */
    return true;
}

static bool check_qclass(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;

    if (tp_dns_class_num(a->s) < 0) {
        tp_cfg_err(c, &a->v->at, "unknown query_class %s (expected IN, CH, HS, CS, NONE or ANY)",
                   tp_qs(&q, a->s));
        return false;
    }
    return true;
}

static bool set_qclass(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    opts(def)->qclass = (uint16_t)tp_dns_class_num(a->s);
    return true;
}

static bool default_qclass(struct tp_cfgctx *c, struct tp_def *def)
{
    opts(def)->qclass = 1; /* IN */
    return true;
}

static bool set_rd(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    opts(def)->rd = a->b;
    return true;
}

static bool default_rd(struct tp_cfgctx *c, struct tp_def *def)
{
    opts(def)->rd = true;
    return true;
}

/* ---- transport ---- */

static bool dot_needs_tcp(struct tp_cfgctx *c, const struct tp_pos *at)
{
    tp_cfg_err(c, at, "dns_over_tls needs transport_protocol: tcp");
    return false;
}

static bool check_transport(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;

    if (strcmp(a->s, "udp") && strcmp(a->s, "tcp")) {
        tp_cfg_err(c, &a->v->at, "bad transport_protocol %s (expected udp or tcp)",
                   tp_qs(&q, a->s));
        return false;
    }
    return true;
}

static bool set_transport(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_dns_opts *o = opts(def);

    o->tcp = !strcmp(a->s, "tcp");
    o->transport_written = true;
    if (o->dot && !o->tcp)
        return dot_needs_tcp(c, &a->v->at);
    return true;
}

static bool default_transport(struct tp_cfgctx *c, struct tp_def *def)
{
    struct tp_pos at = {def->line, def->col};

    if (opts(def)->dot)
        return dot_needs_tcp(c, &at);
    return true;
}

static bool set_dot(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_dns_opts *o = opts(def);

    o->dot = a->b;
    if (o->dot && o->transport_written && !o->tcp)
        return dot_needs_tcp(c, &a->v->at);
    return true;
}

static bool set_edns(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    if (a->u && a->u < 512) {
        tp_cfg_err(c, &a->v->at, "edns0_buffer_size must be 0 (no EDNS) or 512 to 65535, "
                                 "not %u", a->u);
        return false;
    }
    opts(def)->edns = (uint16_t)a->u;
    return true;
}

static bool set_fallback(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    opts(def)->tcp_fallback = a->b;
    return true;
}

static bool default_fallback(struct tp_cfgctx *c, struct tp_def *def)
{
    opts(def)->tcp_fallback = true;
    return true;
}

/* ---- the answer ---- */

static bool check_rcode(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;

    if (tp_dns_rcode_num(a->s) < 0) {
        tp_cfg_err(c, &a->v->at, "unknown rcode %s in valid_rcodes (expected NOERROR, "
                                 "NXDOMAIN, SERVFAIL, REFUSED...)", tp_qs(&q, a->s));
        return false;
    }
    return true;
}

static bool add_rcode(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_dns_opts *o = opts(def);
    uint16_t *grown = realloc(o->rcodes, (o->nrcodes + 1) * sizeof(*grown));

    if (!grown) {
        tp_cfg_oom(c);
        return false;
    }
    o->rcodes = grown;
    grown[o->nrcodes++] = (uint16_t)tp_dns_rcode_num(a->s);
    return true;
}

static bool default_rcodes(struct tp_cfgctx *c, struct tp_def *def)
{
    struct tp_dns_opts *o = opts(def);

    if (!(o->rcodes = malloc(sizeof(*o->rcodes)))) {
        tp_cfg_oom(c);
        return false;
    }
    o->rcodes[0] = 0; /* NOERROR */
    o->nrcodes = 1;
    return true;
}

static void free_rcodes(struct tp_def *def)
{
    free(opts(def)->rcodes);
    opts(def)->rcodes = NULL;
    opts(def)->nrcodes = 0;
}

struct check_ctx {
    const char *key;
    struct tp_dns_rrcheck *ck;
};

/* One list of a validate_*_rrs map: a regex or a list of them. */
static bool check_item(struct tp_cfgctx *c, size_t k, const struct tp_val *name,
                       const struct tp_val *v, void *arg)
{
    struct check_ctx *cc = arg;
    struct tp_dns_rrcheck *ck = cc->ck;
    size_t n = v->shape == TP_V_LIST ? tp_val_nitems(c, v) : 1;
    char key[96];
    bool ok = true;

    snprintf(key, sizeof(key), "%s.%s", cc->key, tp_dns_check_names[k]);
    if (v->shape == TP_V_MAP) {
        tp_cfg_err(c, &v->at, "%s must be a list of regular expressions, not %s", key,
                   tp_val_kind(v));
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        struct tp_val item = *v;
        struct tp_regex re, *grown;

        if (v->shape == TP_V_LIST)
            tp_val_item(c, v, i, NULL, &item);
        if (!tp_cfg_regex(c, key, &item, &re)) {
            ok = false;
            continue;
        }
        if (!(grown = realloc(ck->re[k], (ck->n[k] + 1) * sizeof(*grown)))) {
            tp_regex_free(&re);
            tp_cfg_oom(c);
            return false;
        }
        ck->re[k] = grown;
        grown[ck->n[k]++] = re;
    }
    return ok;
}

static bool set_check(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a,
                      const char *key, int sect)
{
    struct check_ctx cc = {.key = key, .ck = &opts(def)->check[sect]};

    return tp_cfg_inner_map(c, key, a->v, tp_dns_check_names, TP_RR_NCHECK, check_item, &cc);
}

static bool set_answer(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    return set_check(c, def, a, "validate_answer_rrs", 0);
}

static bool set_authority(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    return set_check(c, def, a, "validate_authority_rrs", 1);
}

static bool set_additional(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    return set_check(c, def, a, "validate_additional_rrs", 2);
}

static void free_check(struct tp_def *def, int sect)
{
    struct tp_dns_rrcheck *ck = &opts(def)->check[sect];

    for (int k = 0; k < TP_RR_NCHECK; k++) {
        for (size_t i = 0; i < ck->n[k]; i++)
            tp_regex_free(&ck->re[k][i]);
        free(ck->re[k]);
        ck->re[k] = NULL;
        ck->n[k] = 0;
    }
}

static void free_answer(struct tp_def *def) { free_check(def, 0); }
static void free_authority(struct tp_def *def) { free_check(def, 1); }
static void free_additional(struct tp_def *def) { free_check(def, 2); }

#define BB .blackbox = true

const struct tp_key tp_dns_keys[TP_DNS_NKEYS] = {
    {.name = "query_name", .type = TP_T_STR, .what = "a DNS name", BB,
     .validate = check_qname, .apply = set_qname, .absent = need_qname, .free = free_qname},
    {.name = "query_type", .type = TP_T_STR, .what = "a record type (A, AAAA, MX...)", BB,
     .validate = check_qtype, .apply = set_qtype, .absent = default_qtype},
    {.name = "query_class", .type = TP_T_STR, .what = "a class (IN, CH...)", BB,
     .validate = check_qclass, .apply = set_qclass, .absent = default_qclass},
    {.name = "recursion_desired", .type = TP_T_BOOL, BB, .apply = set_rd,
     .absent = default_rd},
    {.name = "transport_protocol", .type = TP_T_STR, .what = "udp or tcp", BB,
     .validate = check_transport, .apply = set_transport, .absent = default_transport},
    {.name = "dns_over_tls", .type = TP_T_BOOL, BB, .apply = set_dot},
    {.name = "valid_rcodes", .type = TP_T_LIST, .what = "an rcode name (NOERROR, NXDOMAIN...)",
     .list_what = "a list of rcode names", BB, .validate = check_rcode, .apply = add_rcode,
     .absent = default_rcodes, .free = free_rcodes},
    {.name = "validate_answer_rrs", .type = TP_T_VALUE, BB, .apply = set_answer,
     .free = free_answer},
    {.name = "validate_authority_rrs", .type = TP_T_VALUE, BB, .apply = set_authority,
     .free = free_authority},
    {.name = "validate_additional_rrs", .type = TP_T_VALUE, BB, .apply = set_additional,
     .free = free_additional},
    {.name = "edns0_buffer_size", .type = TP_T_UINT, .lo = 0, .hi = 65535, .apply = set_edns},
    {.name = "tcp_fallback", .type = TP_T_BOOL, .apply = set_fallback,
     .absent = default_fallback},
};
